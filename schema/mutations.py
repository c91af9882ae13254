"""Write operations on our own data (updateProperty), and each external system's mutations.

Every mutation needs a signed-in user with the properties.change_property permission
(schema/permissions.py). A system's own mutations (FileMaker's updateListing) come from its
schema module's `MutationFields` (schema/registry.py).
"""

from __future__ import annotations

from decimal import Decimal

import strawberry
import strawberry_django
from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from strawberry import UNSET, auto

from django_project.properties import models, services
from resolvers.context import Context
from schema.errors import NOT_FOUND, coded_error, parse_object_id, validation_failed
from schema.permissions import require_change_permission
from schema.property import Property, PropertyStatusEnum, PropertyTypeEnum
from schema.registry import mutation_fields

Info = strawberry.Info[Context, None]


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


async def _update_property(
    info: Info, id: strawberry.ID, data: PropertyUpdateInput
) -> models.Property | None:
    await require_change_permission(info)
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


@strawberry.type
class PropertyMutations:
    """Writes to our own data (not a type of the schema by itself)."""

    update_property: Property | None = strawberry.mutation(
        resolver=_update_property,
        description=(
            "Change local fields of one property. Needs the properties.change_property "
            "permission. Invalid input is refused as a whole (BAD_USER_INPUT, with every field "
            "problem in extensions.fields) and nothing is written."
        ),
    )


@strawberry.type(description="Write operations; each needs a signed-in user with permission.")
class Mutation(PropertyMutations, *mutation_fields()):  # type: ignore[misc]
    pass
