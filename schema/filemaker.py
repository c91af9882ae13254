"""GraphQL types for data owned by FileMaker (the listing records of our FileMaker solution)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry


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
