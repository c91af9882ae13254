"""The emulator of each external system, found by the system's name: `emulators/<name>.py`
defines EMULATOR. The names come from the caller (settings.EXTERNAL_SYSTEMS): emulators import
nothing of the product, Django included.

An HTTP system's EMULATOR is an `Emulator` (an ASGI app to serve); a database's is its
stand-in (emulators/legacy_permits.py: a seeded SQLite file), which has nothing to serve."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from emulators.base import Emulator


def emulator_class(name: str) -> Any:
    """The system's EMULATOR: an Emulator subclass, or a database stand-in class."""
    return import_module(f"emulators.{name}").EMULATOR


def serves_http(name: str) -> bool:
    cls = emulator_class(name)
    return isinstance(cls, type) and issubclass(cls, Emulator)
