"""How `properties` is filtered, ordered and paged, and the limits on each.

No regular expressions (a client could run arbitrarily expensive matches), a page size that
errors instead of clamping, an ordering the id always completes, and filter values no
property could match refused before they reach the database.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import strawberry
import strawberry_django
from django.conf import settings
from strawberry import UNSET, auto
from strawberry.utils.str_converters import to_camel_case
from strawberry_django import BaseFilterLookup, filter_field
from strawberry_django.fields.field import StrawberryDjangoField
from strawberry_django.pagination import OffsetPaginationInput

from django_project.properties import models
from schema.errors import BAD_USER_INPUT, coded_error
from schema.property import PropertyStatusEnum, PropertyTypeEnum


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
