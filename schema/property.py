"""The Property type: local fields from the Django model, and each external system's fields.

Local fields come straight from the model (descriptions from its help_text). Fields owned by
an external system come from that system's schema module (`schema/<name>.py`,
`PropertyFields`), always nullable, in settings.EXTERNAL_SYSTEMS order (schema/registry.py).
"""

from __future__ import annotations

from typing import Any

import strawberry
import strawberry_django
from strawberry import auto
from strawberry.federation.schema_directives import Key

from django_project.properties import models
from resolvers.context import Context
from schema.prefetch import prefetch_rows
from schema.registry import property_fields

Info = strawberry.Info[Context, None]

PropertyTypeEnum = strawberry.enum(
    models.PropertyType, name="PropertyType", description="Kind of property."
)
PropertyStatusEnum = strawberry.enum(
    models.PropertyStatus,
    name="PropertyStatus",
    description="Where a property is in the sales cycle.",
)


@strawberry_django.type(models.Property, name="PropertyLocalFields")
class PropertyLocalFields:
    """The fields our own database answers (not a type of the schema by itself)."""

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


@strawberry_django.type(
    models.Property,
    name="Property",
    directives=[Key(fields="id"), Key(fields="parcelId")],
)
class Property(PropertyLocalFields, *property_fields()):  # type: ignore[misc]
    @classmethod
    async def resolve_reference(cls, info: Info, **representation: Any) -> models.Property | None:
        """Federation: a Property by `id` or `parcelId`, batched per request (one query);
        its external fields prefetched with the other rows of the same turn."""
        row = await info.context.property_by_key.load(representation)
        await prefetch_rows(info, [row])
        return row


__all__ = ["Property", "PropertyStatusEnum", "PropertyTypeEnum"]
