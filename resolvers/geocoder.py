"""Coordinates for property addresses: GeoLocationByAddressLoader, and the client it uses."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from django.conf import settings

from clients.geocoder import Address, GeocoderConfig, GeocodingClient, Location
from clients.pool import PoolFactory
from resolvers.loader import ExternalLoader

#: (street, city, state, postal code), as the Property row has them.
AddressKey = tuple[str, str, str, str]


def build_client(new_pool: PoolFactory) -> GeocodingClient:
    config = GeocoderConfig(**settings.GEOCODER)
    return GeocodingClient(config, http=new_pool(max_connections=config.max_connections))


class GeoLocationByAddressLoader(ExternalLoader[AddressKey, Location]):
    service = "geocoder"
    namespace = "geo:v1"
    value_type = Location
    client: GeocodingClient

    def key_text(self, key: AddressKey) -> str:
        """A short, case- and spacing-insensitive digest: addresses are long and free-form."""
        normal = "|".join(" ".join(part.upper().split()) for part in key)
        return hashlib.sha256(normal.encode()).hexdigest()[:32]

    async def fetch(self, keys: list[AddressKey]) -> Mapping[AddressKey, Location]:
        found = await self.client.geocode_batch(
            {str(i): Address(*key) for i, key in enumerate(keys)}
        )
        return {key: location for i, key in enumerate(keys) if (location := found[str(i)])}
