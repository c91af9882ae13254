"""The typed per-request GraphQL context: loaders, the request's time budget, stale reports."""

from __future__ import annotations

import asyncio
import typing
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from strawberry.django.context import StrawberryDjangoContext

from resolvers.cache import get_cache
from resolvers.filemaker import ListingByParcelLoader
from resolvers.geocoder import GeoLocationByAddressLoader
from resolvers.properties import PropertyByKeyLoader
from resolvers.salesforce import OwnerByParcelLoader
from resolvers.tax_assessor import TaxAssessmentByParcelLoader
from resolvers.upstreams import get_upstreams


@dataclass
class Loaders:
    """One loader per external relationship, new for every request (they memoise per request).

    A new external system adds one field here.
    """

    listing_by_parcel: ListingByParcelLoader
    owner_by_parcel: OwnerByParcelLoader
    tax_by_parcel: TaxAssessmentByParcelLoader
    location_by_address: GeoLocationByAddressLoader

    @classmethod
    def for_request(cls) -> Loaders:
        upstreams, cache = get_upstreams(), get_cache()
        hints = typing.get_type_hints(cls)
        return cls(
            **{name: hints[name].for_request(upstreams, cache) for name in cls.__dataclass_fields__}
        )


@dataclass
class Context(StrawberryDjangoContext):
    loaders: Loaders = field(default_factory=Loaders.for_request)
    #: Federation `_entities`: Property rows by their key fields.
    property_by_key: PropertyByKeyLoader = field(default_factory=PropertyByKeyLoader)
    #: Seconds external fields may take before they give up with a timeout error.
    budget: float = 3.0
    #: Event-loop time at which the budget runs out.
    deadline: float = 0.0
    #: Fields answered from cache past their TTL: `{path, service, ageSeconds}`.
    stale: list[dict[str, Any]] = field(default_factory=list)


def build_context(request: HttpRequest, response: HttpResponse | None) -> Context:
    budget = settings.GRAPHQL_EXTERNAL_BUDGET
    return Context(
        request=request,
        response=response,
        budget=budget,
        deadline=asyncio.get_running_loop().time() + budget,
    )
