"""Settings of each external system, one module per system (its URL, credentials, limits).

Each module defines `CLIENT` (the client's config, from `<PREFIX>_*` variables), `CACHE` (its
TTLs) and `REQUIRED` (the variables production must set); settings.py publishes them as
`<PREFIX>` and `<PREFIX>_CACHE` for every system named in EXTERNAL_SYSTEMS, the prefix being
the system's name in capitals. Defaults point at the local emulators on loopback, so the demo
needs no credentials; each system's variables are listed in README.md and .env.example.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module
from typing import Any


def settings_for(names: Iterable[str]) -> tuple[dict[str, Any], list[str]]:
    """`<PREFIX>` and `<PREFIX>_CACHE` for each system named, and the variables production
    needs for them."""
    values: dict[str, Any] = {}
    required: list[str] = []
    for name in names:
        module = import_module(f"django_project.integrations.{name}")
        values[name.upper()] = module.CLIENT
        values[f"{name.upper()}_CACHE"] = module.CACHE
        required.extend(module.REQUIRED)
    return values, required
