"""FileMaker's part of the schema: the listing record, Property.listing and updateListing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry
from strawberry import UNSET

from django_project.properties import models
from resolvers.context import Context
from resolvers.filemaker import ListingByParcelLoader
from schema.errors import BAD_USER_INPUT, NOT_FOUND, coded_error, parse_object_id
from schema.external import external_field
from schema.permissions import require_change_permission

Info = strawberry.Info[Context, None]


@strawberry.type(description="The property's listing record in FileMaker.")
class Listing:
    record_id: strawberry.ID = strawberry.field(description="FileMaker's record id of the listing.")
    mod_id: str = strawberry.field(
        description="FileMaker's modification id; send it back with updateListing so a "
        "change made meanwhile by someone else is refused instead of overwritten."
    )
    agent_name: str | None = strawberry.field(description="Listing agent.")
    agent_email: str | None = strawberry.field(description="Listing agent's e-mail address.")
    listing_status: str | None = strawberry.field(
        description="Status as the brokerage tracks it (Active, Pending, Closed, ...)."
    )
    showing_notes: str | None = strawberry.field(description="Instructions for showings.")
    list_price: Decimal | None = strawberry.field(description="Price on the listing, in USD.")
    modified_at: datetime | None = strawberry.field(
        name="lastModified",
        description="When the record last changed in FileMaker (the server's local time).",
    )


@strawberry.input(description="Listing fields to change; fields left out keep their value.")
class ListingUpdateInput:
    agent_name: str | None = strawberry.field(default=strawberry.UNSET, description="Agent.")
    agent_email: str | None = strawberry.field(default=strawberry.UNSET, description="E-mail.")
    listing_status: str | None = strawberry.field(
        default=strawberry.UNSET, description="Status (Active, Pending, Closed, ...)."
    )
    showing_notes: str | None = strawberry.field(
        default=strawberry.UNSET, description="Instructions for showings."
    )
    list_price: Decimal | None = strawberry.field(
        default=strawberry.UNSET, description="Price on the listing, in USD."
    )


@strawberry.type
class PropertyFields:
    """Property's fields owned by FileMaker."""

    listing: Listing | None = external_field(
        ListingByParcelLoader,
        Listing,
        description="The listing record in FileMaker; null with an error when FileMaker fails.",
    )


async def _update_listing(
    info: Info, property_id: strawberry.ID, mod_id: str, input: ListingUpdateInput
) -> Listing | None:
    await require_change_permission(info)
    pk = parse_object_id(property_id, type_name="Property")
    prop = await models.Property.objects.filter(pk=pk).afirst()
    if prop is None:
        raise coded_error(f"No property has id {pk}.", NOT_FOUND)
    if not mod_id.strip().isdigit():
        raise coded_error("modId must be the listing's modId as last read.", BAD_USER_INPUT)
    changes = {name: value for name, value in vars(input).items() if value is not UNSET}
    if not changes:
        raise coded_error("Give at least one listing field to change.", BAD_USER_INPUT)
    return await info.context.loaders.get(ListingByParcelLoader).update(
        parcel_id=prop.parcel_id,
        record_id=prop.filemaker_record_id,
        mod_id=mod_id.strip(),
        changes=changes,
    )


@strawberry.type
class MutationFields:
    """Writes to FileMaker."""

    update_listing: Listing | None = strawberry.mutation(
        resolver=_update_listing,
        description=(
            "Change the property's listing in FileMaker. Send the modId you read: if the "
            "listing changed since, nothing is written and the error is "
            "EXTERNAL_SERVICE_CONFLICT (reload and try again). Never retried automatically; "
            "needs the properties.change_property permission."
        ),
    )
