"""Geocoded locations for properties (the loader arrives with the resolvers issue)."""

from __future__ import annotations

from django.conf import settings

from clients.geocoder import GeocoderConfig, GeocodingClient
from clients.pool import HttpPool


def build_client(http: HttpPool) -> GeocodingClient:
    return GeocodingClient(GeocoderConfig(**settings.GEOCODER), http=http)
