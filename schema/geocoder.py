"""GraphQL types for data owned by the geocoder (US Census Geocoder)."""

from __future__ import annotations

from enum import Enum

import strawberry


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
