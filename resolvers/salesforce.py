"""Salesforce owner accounts for properties (the loader arrives with the resolvers issue)."""

from __future__ import annotations

from django.conf import settings

from clients.pool import HttpPool
from clients.salesforce import SalesforceClient, SalesforceConfig


def build_client(http: HttpPool) -> SalesforceClient:
    return SalesforceClient(SalesforceConfig(**settings.SALESFORCE), http=http)
