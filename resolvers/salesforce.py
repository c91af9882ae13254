"""Salesforce owner accounts for properties: OwnerByParcelLoader, and the client it uses."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings

from clients.pool import HttpPool
from clients.salesforce import Account, SalesforceClient, SalesforceConfig
from resolvers.loader import ExternalLoader


def build_client(http: HttpPool) -> SalesforceClient:
    return SalesforceClient(SalesforceConfig(**settings.SALESFORCE), http=http)


class OwnerByParcelLoader(ExternalLoader[str, Account]):
    service = "salesforce"
    namespace = "owner:v1"
    value_type = Account
    client: SalesforceClient

    async def fetch(self, keys: list[str]) -> Mapping[str, Account]:
        return await self.client.accounts_by_parcel(parcel_ids=keys)
