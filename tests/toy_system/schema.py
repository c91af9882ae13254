"""schema/toy.py: the toy system's type and its field on Property."""

from __future__ import annotations

import strawberry

from schema.external import external_field
from tests.toy_system.resolvers import ThingByParcelLoader


@strawberry.type
class Thing:
    name: str


@strawberry.type
class PropertyFields:
    thing: Thing | None = external_field(ThingByParcelLoader, Thing, description="A toy thing.")
