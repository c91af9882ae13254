"""Salesforce owner accounts for properties: OwnerByParcelLoader, and the client it uses."""

from __future__ import annotations

from collections.abc import Mapping

from clients.salesforce import Account, SalesforceClient, SalesforceConfig
from resolvers.loader import ExternalLoader
from resolvers.registry import http_integration


class OwnerByParcelLoader(ExternalLoader[str, Account]):
    service = "salesforce"
    namespace = "owner:v1"
    value_type = Account
    client: SalesforceClient

    async def fetch(self, keys: list[str]) -> Mapping[str, Account]:
        return await self.client.accounts_by_parcel(parcel_ids=keys)


INTEGRATION = http_integration(
    service="salesforce",
    display_name="Salesforce",
    config_class=SalesforceConfig,
    client_class=SalesforceClient,
    loaders={"owner_by_parcel": OwnerByParcelLoader},
)
