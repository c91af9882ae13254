"""The geocoder's part of the schema (US Census Geocoder): coordinates and Property.location."""

from __future__ import annotations

from enum import Enum

import strawberry

from resolvers.geocoder import GeoLocationByAddressLoader
from schema.external import external_field


@strawberry.enum(description="How closely the geocoder matched the address.")
class GeoMatchType(Enum):
    EXACT = "exact"
    NON_EXACT = "non_exact"


@strawberry.type(description="Where the property's address is, according to the geocoder.")
class GeoLocation:
    latitude: float = strawberry.field(description="Latitude, WGS 84 degrees.")
    longitude: float = strawberry.field(description="Longitude, WGS 84 degrees.")
    matched_address: str = strawberry.field(
        description="The address the geocoder matched, in its own spelling."
    )
    match_type: GeoMatchType | None = strawberry.field(
        description="EXACT or NON_EXACT; null when the geocoder did not say."
    )


@strawberry.type
class PropertyFields:
    """Property's fields owned by the geocoder."""

    location: GeoLocation | None = external_field(
        GeoLocationByAddressLoader,
        GeoLocation,
        description="Coordinates of the address; null when the geocoder finds no match, or "
        "with an error when it fails.",
    )
