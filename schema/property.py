"""The Property type with its filters, ordering, queries and the updateProperty mutation.

Local fields come straight from the Django model (descriptions from its help_text). Fields
owned by external systems are added by their own modules and are always nullable.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import strawberry
import strawberry_django
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ValidationError
from strawberry import UNSET, auto
from strawberry.federation.schema_directives import Key
from strawberry.utils.str_converters import to_camel_case
from strawberry_django import BaseFilterLookup, filter_field
from strawberry_django.fields.field import StrawberryDjangoField
from strawberry_django.pagination import OffsetPaginated, OffsetPaginationInput

from django_project.properties import models, services
from django_project.properties.validators import normalize_parcel_id, validate_parcel_id
from resolvers.context import Context
from resolvers.fields import resolve_external
from resolvers.filemaker import ListingByParcelLoader
from resolvers.geocoder import GeoLocationByAddressLoader
from resolvers.salesforce import OwnerByParcelLoader
from resolvers.tax_assessor import TaxAssessmentByParcelLoader
from schema.errors import (
    BAD_USER_INPUT,
    FORBIDDEN,
    NOT_FOUND,
    UNAUTHENTICATED,
    coded_error,
    parse_object_id,
    validation_failed,
)
from schema.filemaker import Listing, ListingUpdateInput
from schema.geocoder import GeoLocation
from schema.salesforce import OwnerAccount
from schema.tax_assessor import TaxAssessment

Info = strawberry.Info[Context, None]

PropertyTypeEnum = strawberry.enum(
    models.PropertyType, name="PropertyType", description="Kind of property."
)
PropertyStatusEnum = strawberry.enum(
    models.PropertyStatus,
    name="PropertyStatus",
    description="Where a property is in the sales cycle.",
)


@strawberry_django.type(
    models.Property,
    name="Property",
    directives=[Key(fields="id"), Key(fields="parcelId")],
)
class PropertyType:
    id: strawberry.ID = strawberry_django.field(
        description="Our stable identifier for the property (a positive integer)."
    )
    parcel_id: auto
    street_address: auto
    city: auto
    state: auto
    postal_code: auto
    property_type: PropertyTypeEnum
    bedrooms: auto
    bathrooms: auto
    square_feet: auto
    year_built: auto
    list_price: auto
    status: PropertyStatusEnum
    filemaker_record_id: auto
    salesforce_account_id: auto
    created_at: auto
    updated_at: auto

    @classmethod
    async def resolve_reference(cls, info: Info, **representation: Any) -> models.Property | None:
        """Federation: a Property by `id` or `parcelId`, batched per request (one query)."""
        return await info.context.property_by_key.load(representation)

    @strawberry_django.field(
        only=["parcel_id"],
        metadata={"upstream": ListingByParcelLoader},
        description="The listing record in FileMaker; null with an error when FileMaker fails.",
    )
    async def listing(self, info: Info) -> Listing | None:
        return await resolve_external(info, info.context.loaders.listing_by_parcel, self.parcel_id)

    @strawberry_django.field(
        only=["parcel_id"],
        metadata={"upstream": OwnerByParcelLoader},
        description="The owner's Account in Salesforce; null when the owner is not in "
        "Salesforce, or with an error when Salesforce fails.",
    )
    async def owner(self, info: Info) -> OwnerAccount | None:
        return await resolve_external(info, info.context.loaders.owner_by_parcel, self.parcel_id)

    @strawberry_django.field(
        only=["parcel_id"],
        metadata={"upstream": TaxAssessmentByParcelLoader},
        description="The county's latest assessment; null when the county has none, or with "
        "an error when the assessor's service fails.",
    )
    async def tax_assessment(self, info: Info) -> TaxAssessment | None:
        return await resolve_external(info, info.context.loaders.tax_by_parcel, self.parcel_id)

    @strawberry_django.field(
        only=["street_address", "city", "state", "postal_code"],
        metadata={"upstream": GeoLocationByAddressLoader},
        description="Coordinates of the address; null when the geocoder finds no match, or "
        "with an error when it fails.",
    )
    async def location(self, info: Info) -> GeoLocation | None:
        key = self.address_key
        return await resolve_external(info, info.context.loaders.location_by_address, key)


@strawberry.input(
    description="Text conditions. No regular expressions: they would let a client run "
    "arbitrarily expensive matches on the database."
)
class TextFilterLookup(BaseFilterLookup[str]):
    i_exact: str | None = filter_field(description="Case-insensitive exact match.")
    i_contains: str | None = filter_field(description="Case-insensitive containment test.")
    starts_with: str | None = filter_field(description="Case-sensitive starts-with.")
    i_starts_with: str | None = filter_field(description="Case-insensitive starts-with.")


@strawberry.input(description="Conditions on a property type.")
class PropertyTypeFilterLookup(BaseFilterLookup[PropertyTypeEnum]):
    pass


@strawberry.input(description="Conditions on a property status.")
class PropertyStatusFilterLookup(BaseFilterLookup[PropertyStatusEnum]):
    pass


@strawberry_django.filter_type(
    models.Property,
    lookups=True,
    description="Conditions on a property's fields; all given conditions must hold.",
)
class PropertyFilter:
    parcel_id: TextFilterLookup | None
    city: TextFilterLookup | None
    state: TextFilterLookup | None
    postal_code: TextFilterLookup | None
    property_type: PropertyTypeFilterLookup | None
    status: PropertyStatusFilterLookup | None
    list_price: auto
    bedrooms: auto
    bathrooms: auto
    square_feet: auto
    year_built: auto


@strawberry_django.order_type(
    models.Property,
    description="Sort keys; the id breaks ties so pages never overlap or skip rows.",
)
class PropertyOrder:
    id: auto = strawberry_django.order_field(description="By id (creation order).")
    parcel_id: auto = strawberry_django.order_field(description="By parcel id.")
    city: auto = strawberry_django.order_field(description="By city name.")
    list_price: auto = strawberry_django.order_field(
        description="By asking price; choose where unlisted (null) prices go with *_NULLS_*."
    )
    bedrooms: auto = strawberry_django.order_field(description="By number of bedrooms.")
    bathrooms: auto = strawberry_django.order_field(description="By number of bathrooms.")
    square_feet: auto = strawberry_django.order_field(description="By living area.")
    year_built: auto = strawberry_django.order_field(description="By year built.")
    created_at: auto = strawberry_django.order_field(description="By when the row was created.")
    updated_at: auto = strawberry_django.order_field(description="By when the row last changed.")


class PropertyListField(StrawberryDjangoField):
    """Rejects oversized pages with a clear error and makes every ordering total.

    strawberry-django silently clamps a too-large `limit`; a client paging with limit=500 would
    then skip rows without noticing. Ties in a user-chosen ordering (two equal prices) would
    let rows move between pages, so the primary key is always the last sort key.
    """

    def get_queryset(self, queryset: Any, info: Any, **kwargs: Any) -> Any:
        _check_page(kwargs.get("pagination"))
        _check_filters(kwargs.get("filters"))
        queryset = super().get_queryset(queryset, info, **kwargs)
        order = list(queryset.query.order_by)
        if order and not {"pk", "-pk", "id", "-id"} & {o for o in order if isinstance(o, str)}:
            queryset = queryset.order_by(*order, "pk")
        return queryset


def _check_page(pagination: OffsetPaginationInput | None) -> None:
    if pagination is None or pagination is UNSET:
        return
    maximum = settings.GRAPHQL_MAX_PAGE_SIZE
    limit = pagination.limit
    if limit is not UNSET and limit is not None and not 1 <= limit <= maximum:
        raise coded_error(
            f"pagination.limit must be between 1 and {maximum}, got {limit}.", BAD_USER_INPUT
        )
    if pagination.offset < 0:
        raise coded_error(
            f"pagination.offset must be 0 or more, got {pagination.offset}.", BAD_USER_INPUT
        )


#: Longest text and list a filter may hold. Cities, states, postal codes and parcel ids are
#: short; SQLite refuses LIKE patterns over 50,000 bytes, and long IN lists cost every backend.
MAX_FILTER_TEXT = 200
MAX_FILTER_LIST = 500


def _check_filters(filters: Any) -> None:
    """Refuse filter values no property could match but the database would choke on."""
    stack: list[tuple[Any, str]] = [(filters, "filters")]
    while stack:
        value, where = stack.pop()
        if value is None or value is UNSET:
            continue
        if isinstance(value, str):
            if len(value) > MAX_FILTER_TEXT:
                raise coded_error(
                    f"{where} is {len(value)} characters long; filter text is at most "
                    f"{MAX_FILTER_TEXT} characters.",
                    BAD_USER_INPUT,
                )
        elif isinstance(value, list | tuple):
            if len(value) > MAX_FILTER_LIST:
                raise coded_error(
                    f"{where} has {len(value)} items; filter lists hold at most {MAX_FILTER_LIST}.",
                    BAD_USER_INPUT,
                )
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(value))
        elif dataclasses.is_dataclass(value):
            stack.extend(
                (getattr(value, f.name), f"{where}.{to_camel_case(f.name)}")
                for f in dataclasses.fields(value)
            )


@strawberry_django.partial(
    models.Property,
    name="PropertyUpdateInput",
    description="Local fields to change; fields left out keep their value.",
)
class PropertyUpdateInput:
    parcel_id: auto
    street_address: auto
    city: auto
    state: auto
    postal_code: auto
    property_type: PropertyTypeEnum | None
    bedrooms: int | None = strawberry_django.field(
        description="Number of bedrooms (0 for land and studios)."
    )
    bathrooms: Decimal | None = strawberry_django.field(
        description="Number of bathrooms; a half bath counts 0.5."
    )
    square_feet: int | None = strawberry_django.field(
        description="Finished living area in square feet; null when unknown."
    )
    year_built: int | None = strawberry_django.field(
        description="Year construction finished; null when unknown."
    )
    list_price: auto
    status: PropertyStatusEnum | None


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
    property: PropertyType | None = strawberry.field(
        resolver=_property_by_id,
        description="One property by id; null (and no error) when none has this id.",
    )
    property_by_parcel: PropertyType | None = strawberry.field(
        resolver=_property_by_parcel,
        description="One property by parcel id (dashes allowed); null when unknown.",
    )
    properties: OffsetPaginated[PropertyType] = strawberry_django.offset_paginated(
        field_cls=PropertyListField,
        filters=PropertyFilter,
        ordering=PropertyOrder,
        description=(
            "Properties matching `filters`, sorted by `ordering` (default: by id), one page at a "
            f"time: `pagination.limit` defaults to 20 and may not exceed "
            f"{settings.GRAPHQL_MAX_PAGE_SIZE}."
        ),
    )


async def _require_change_permission(info: Info) -> None:
    user = await info.context.request.auser()
    if not user.is_authenticated:
        raise coded_error("Sign in to update properties.", UNAUTHENTICATED)
    if not await user.ahas_perm("properties.change_property"):
        raise coded_error(
            "You need the properties.change_property permission to update properties.",
            FORBIDDEN,
        )


async def _update_property(
    info: Info, id: strawberry.ID, data: PropertyUpdateInput
) -> models.Property | None:
    await _require_change_permission(info)
    pk = parse_object_id(id, type_name="Property")
    changes = {
        name: getattr(data, name)
        for name in services.EDITABLE_FIELDS
        if getattr(data, name, UNSET) is not UNSET
    }
    try:
        return await sync_to_async(services.update_property)(pk, changes)
    except models.Property.DoesNotExist as exc:
        raise coded_error(f"No property has id {pk}.", NOT_FOUND) from exc
    except ValidationError as exc:
        raise validation_failed(exc, prefix="data.") from exc


async def _update_listing(
    info: Info, property_id: strawberry.ID, mod_id: str, input: ListingUpdateInput
) -> Listing | None:
    await _require_change_permission(info)
    pk = parse_object_id(property_id, type_name="Property")
    prop = await models.Property.objects.filter(pk=pk).afirst()
    if prop is None:
        raise coded_error(f"No property has id {pk}.", NOT_FOUND)
    if not mod_id.strip().isdigit():
        raise coded_error("modId must be the listing's modId as last read.", BAD_USER_INPUT)
    changes = {name: value for name, value in vars(input).items() if value is not UNSET}
    if not changes:
        raise coded_error("Give at least one listing field to change.", BAD_USER_INPUT)
    return await info.context.loaders.listing_by_parcel.update(
        parcel_id=prop.parcel_id,
        record_id=prop.filemaker_record_id,
        mod_id=mod_id.strip(),
        changes=changes,
    )


@strawberry.type(description="Write operations; each needs a signed-in user with permission.")
class Mutation:
    update_property: PropertyType | None = strawberry.mutation(
        resolver=_update_property,
        description=(
            "Change local fields of one property. Needs the properties.change_property "
            "permission. Invalid input is refused as a whole (BAD_USER_INPUT, with every field "
            "problem in extensions.fields) and nothing is written."
        ),
    )
    update_listing: Listing | None = strawberry.mutation(
        resolver=_update_listing,
        description=(
            "Change the property's listing in FileMaker. Send the modId you read: if the "
            "listing changed since, nothing is written and the error is "
            "EXTERNAL_SERVICE_CONFLICT (reload and try again). Never retried automatically; "
            "needs the properties.change_property permission."
        ),
    )
