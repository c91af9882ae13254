"""Each external system's part of the schema, found by its name in settings.EXTERNAL_SYSTEMS.

`schema/<name>.py` defines its GraphQL types and `PropertyFields`, a strawberry type holding
the fields the system adds to Property; it may define `MutationFields` too. The Property type
and the Mutation type inherit them in settings order, so adding a system adds no line here.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from django.conf import settings


def _modules() -> list[ModuleType]:
    return [import_module(f"schema.{name}") for name in settings.EXTERNAL_SYSTEMS]


def property_fields() -> tuple[type, ...]:
    """The classes holding each system's fields on Property, in settings order."""
    return tuple(module.PropertyFields for module in _modules())


def mutation_fields() -> tuple[type, ...]:
    """The classes holding each system's mutations (most systems have none)."""
    return tuple(m.MutationFields for m in _modules() if hasattr(m, "MutationFields"))
