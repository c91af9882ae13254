"""Salesforce's part of the schema: the owner's Account and Property.owner."""

from __future__ import annotations

from datetime import date

import strawberry

from resolvers.salesforce import OwnerByParcelLoader
from schema.external import external_field


@strawberry.type(description="The property owner's Account in Salesforce.")
class OwnerAccount:
    id: strawberry.ID = strawberry.field(description="Salesforce Account id (18 characters).")
    name: str = strawberry.field(description="Account name: the owner.")
    phone: str | None = strawberry.field(description="Main phone number.")
    owner_name: str | None = strawberry.field(
        description="The Salesforce user who owns the account (our account manager)."
    )
    last_activity_date: date | None = strawberry.field(
        description="Date of the latest task or event on the account."
    )


@strawberry.type
class PropertyFields:
    """Property's fields owned by Salesforce."""

    owner: OwnerAccount | None = external_field(
        OwnerByParcelLoader,
        OwnerAccount,
        description="The owner's Account in Salesforce; null when the owner is not in "
        "Salesforce, or with an error when Salesforce fails.",
    )
