"""Read operations: one property by id or parcel id, and pages of properties."""

from __future__ import annotations

import strawberry
import strawberry_django
from django.conf import settings
from django.core.exceptions import ValidationError
from strawberry_django.pagination import OffsetPaginated

from django_project.properties import models
from django_project.properties.validators import normalize_parcel_id, validate_parcel_id
from schema.errors import BAD_USER_INPUT, coded_error, parse_object_id
from schema.filters import PropertyFilter, PropertyListField, PropertyOrder
from schema.property import Property


async def _property_by_id(id: strawberry.ID) -> models.Property | None:
    pk = parse_object_id(id, type_name="Property")
    return await models.Property.objects.filter(pk=pk).afirst()


async def _property_by_parcel(parcel_id: str) -> models.Property | None:
    normalized = normalize_parcel_id(parcel_id)
    try:
        validate_parcel_id(normalized)
    except ValidationError as exc:
        raise coded_error(exc.messages[0], BAD_USER_INPUT) from exc
    return await models.Property.objects.filter(parcel_id=normalized).afirst()


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
