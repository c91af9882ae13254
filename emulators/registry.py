"""The emulator of each external system, found by the system's name: `emulators/<name>.py`
defines EMULATOR. The names come from the caller (settings.EXTERNAL_SYSTEMS): emulators import
nothing of the product, Django included."""

from __future__ import annotations

from importlib import import_module

from emulators.base import Emulator


def emulator_class(name: str) -> type[Emulator]:
    cls: type[Emulator] = import_module(f"emulators.{name}").EMULATOR
    return cls
