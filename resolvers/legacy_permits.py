"""The legacy permits database for properties: each parcel's permits and open violations.

Both are lists (a property has many permits), cached per parcel as a whole: an empty list is
a definite "none", cached like any other answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clients.legacy_permits import (
    LegacyPermitsClient,
    LegacyPermitsConfig,
    Permit,
    Violation,
)
from resolvers.cache import from_json
from resolvers.loader import ExternalLoader
from resolvers.registry import sql_integration


class PermitsByParcelLoader(ExternalLoader[str, list[Permit]]):
    service = "legacy_permits"
    namespace = "permits:v1"
    client: LegacyPermitsClient

    async def fetch(self, keys: list[str]) -> Mapping[str, list[Permit]]:
        return await self.client.permits_by_parcel(parcel_ids=keys)

    def decode(self, data: Any) -> list[Permit]:
        return [from_json(Permit, item) for item in data]


class OpenViolationsByParcelLoader(ExternalLoader[str, list[Violation]]):
    service = "legacy_permits"
    namespace = "violations:v1"
    client: LegacyPermitsClient

    async def fetch(self, keys: list[str]) -> Mapping[str, list[Violation]]:
        return await self.client.open_violations_by_parcel(parcel_ids=keys)

    def decode(self, data: Any) -> list[Violation]:
        return [from_json(Violation, item) for item in data]


INTEGRATION = sql_integration(
    service="legacy_permits",
    display_name="The permits database",
    config_class=LegacyPermitsConfig,
    client_class=LegacyPermitsClient,
    loaders={
        "permits_by_parcel": PermitsByParcelLoader,
        "open_violations_by_parcel": OpenViolationsByParcelLoader,
    },
)
