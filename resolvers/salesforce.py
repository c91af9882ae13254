"""Salesforce owner accounts for properties: OwnerByParcelLoader, and the client it uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings

from clients.pool import HttpPool
from clients.salesforce import Account, SalesforceClient, SalesforceConfig
from resolvers.cache import from_json, to_json
from resolvers.loader import ExternalLoader


def build_client(http: HttpPool) -> SalesforceClient:
    return SalesforceClient(SalesforceConfig(**settings.SALESFORCE), http=http)


class OwnerByParcelLoader(ExternalLoader[str, Account]):
    service = "salesforce"
    namespace = "owner:v1"
    client: SalesforceClient

    async def fetch(self, keys: list[str]) -> Mapping[str, Account]:
        return await self.client.accounts_by_parcel(parcel_ids=keys)

    def encode(self, value: Account) -> Any:
        return to_json(value)

    def decode(self, data: Any) -> Account:
        return from_json(Account, data)
