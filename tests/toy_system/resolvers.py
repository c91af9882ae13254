"""resolvers/toy.py: the toy system's loader and INTEGRATION."""

from __future__ import annotations

from collections.abc import Mapping

from resolvers.loader import ExternalLoader
from resolvers.registry import http_integration
from tests.toy_system.client import Thing, ToyClient, ToyConfig


class ThingByParcelLoader(ExternalLoader[str, Thing]):
    service = "toy"
    namespace = "thing:v1"
    value_type = Thing
    client: ToyClient

    async def fetch(self, keys: list[str]) -> Mapping[str, Thing]:
        return await self.client.things(parcel_ids=keys)


INTEGRATION = http_integration(
    service="toy",
    display_name="The toy system",
    config_class=ToyConfig,
    client_class=ToyClient,
    loaders={"thing_by_parcel": ThingByParcelLoader},
)
