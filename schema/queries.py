"""Read operations: properties by key (one, or many for gateways) and pages of properties.

Every field that names properties by key resolves through the request's PropertyByKeyLoader
(resolvers/properties.py): any number of aliased `property` / `propertyByParcel` fields and the
lookups cost one database query per key kind, and their external fields one upstream call per
system.
"""

from __future__ import annotations

import asyncio
from typing import Any

import strawberry
import strawberry_django
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError
from graphql import GraphQLError
from strawberry_django.pagination import NodeType
from strawberry_django.pagination import OffsetPaginated as DjangoOffsetPaginated

from django_project.properties import models
from django_project.properties.validators import normalize_parcel_id, validate_parcel_id
from resolvers.context import Context
from schema.errors import BAD_USER_INPUT, coded_error, parse_object_id
from schema.filters import PropertyFilter, PropertyListField, PropertyOrder
from schema.prefetch import prefetch_rows
from schema.property import Property

Info = strawberry.Info[Context, None]

#: Most keys one lookup (`propertiesByIds`, `propertiesByParcelIds`) takes; the cost limit
#: counts each key's fields on top.
MAX_LOOKUP_KEYS = 500


def parse_parcel_id(raw: str) -> str:
    """A parcel id as stored (14 digits), or BAD_USER_INPUT saying what one looks like."""
    normalized = normalize_parcel_id(raw)
    try:
        validate_parcel_id(normalized)
    except ValidationError as exc:
        raise coded_error(exc.messages[0], BAD_USER_INPUT) from exc
    return normalized


async def _property_by_id(info: Info, id: strawberry.ID) -> models.Property | None:
    pk = parse_object_id(id, type_name="Property")
    row = await info.context.property_by_key.by_id(pk)
    await prefetch_rows(info, [row])
    return row


async def _property_by_parcel(info: Info, parcel_id: str) -> models.Property | None:
    row = await info.context.property_by_key.by_parcel(parse_parcel_id(parcel_id))
    await prefetch_rows(info, [row])
    return row


def _check_lookup_size(keys: list[Any], argument: str) -> None:
    if len(keys) > MAX_LOOKUP_KEYS:
        raise coded_error(
            f"{argument} takes at most {MAX_LOOKUP_KEYS} keys, got {len(keys)}.", BAD_USER_INPUT
        )


async def _lookup(keys: list[Any], one: Any) -> list[Any]:
    """One entry per key, in order: its row, None when unknown, or the key's own error (a
    malformed key fails its slot only)."""

    async def slot(raw: Any) -> Any:
        try:
            return await one(raw)
        except GraphQLError as error:
            return error

    return list(await asyncio.gather(*(slot(raw) for raw in keys)))


async def _properties_by_ids(info: Info, ids: list[strawberry.ID]) -> list[models.Property | None]:
    _check_lookup_size(ids, "ids")
    loader = info.context.property_by_key
    rows = await _lookup(ids, lambda raw: loader.by_id(parse_object_id(raw, type_name="Property")))
    await prefetch_rows(info, rows)
    return rows


async def _properties_by_parcel_ids(
    info: Info, parcel_ids: list[str]
) -> list[models.Property | None]:
    _check_lookup_size(parcel_ids, "parcelIds")
    loader = info.context.property_by_key
    rows = await _lookup(parcel_ids, lambda raw: loader.by_parcel(parse_parcel_id(raw)))
    await prefetch_rows(info, rows)
    return rows


@strawberry.type
class OffsetPaginated(DjangoOffsetPaginated[NodeType]):
    """strawberry-django's page (same GraphQL type, `PropertyOffsetPaginated`) whose rows
    arrive with the external values the query selects on them already loaded."""

    @strawberry.field(description="List of paginated results.")  # type: ignore[misc]
    async def results(self, info: Info) -> list[NodeType]:
        rows = await sync_to_async(self._rows)()
        await prefetch_rows(info, rows)
        return rows

    def _rows(self) -> list[Any]:
        return list(self.get_paginated_queryset() or [])


@strawberry.type(description="Read operations.")
class Query:
    property: Property | None = strawberry.field(
        resolver=_property_by_id,
        description="One property by id; null (and no error) when none has this id.",
    )
    property_by_parcel: Property | None = strawberry.field(
        resolver=_property_by_parcel,
        description="One property by parcel id (dashes allowed); null when unknown.",
    )
    properties_by_ids: list[Property | None] = strawberry.field(
        resolver=_properties_by_ids,
        description=(
            "Properties by id, for gateways that batch (schema stitching merges Property "
            "through it): one entry per id, in order; null for an unknown id; a malformed id "
            f"gets an error in its own slot. At most {MAX_LOOKUP_KEYS} ids."
        ),
    )
    properties_by_parcel_ids: list[Property | None] = strawberry.field(
        resolver=_properties_by_parcel_ids,
        description=(
            "Properties by parcel id (dashes allowed): one entry per parcel id, in order; null "
            "for an unknown one; a malformed one gets an error in its own slot. At most "
            f"{MAX_LOOKUP_KEYS} parcel ids."
        ),
    )
    properties: OffsetPaginated[Property] = strawberry_django.offset_paginated(
        field_cls=PropertyListField,
        filters=PropertyFilter,
        ordering=PropertyOrder,
        description=(
            "Properties matching `filters`, sorted by `ordering` (default: by id), one page at a "
            f"time: `pagination.limit` defaults to 20 and may not exceed "
            f"{settings.GRAPHQL_MAX_PAGE_SIZE}."
        ),
    )
