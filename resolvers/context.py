"""The typed per-request GraphQL context: loaders, the request's time budget, stale reports."""

from __future__ import annotations

import asyncio
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


class Loaders:
    """One loader per external relationship, new for every request (they memoise per request)
    and built on first use, so a query that asks for one system pays for one.

    `deadline` (loop time, or None for no limit) bounds how long they wait for upstreams.
    A new external system adds one property here.
    """

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = deadline
        self.built: dict[str, Any] = {}

    def _get(self, name: str, cls: Any) -> Any:
        loader = self.built.get(name)
        if loader is None:
            loader = self.built[name] = cls.for_request(
                get_upstreams(), get_cache(), deadline=self.deadline
            )
        return loader

    @property
    def listing_by_parcel(self) -> ListingByParcelLoader:
        return self._get("listing_by_parcel", ListingByParcelLoader)  # type: ignore[no-any-return]

    @property
    def owner_by_parcel(self) -> OwnerByParcelLoader:
        return self._get("owner_by_parcel", OwnerByParcelLoader)  # type: ignore[no-any-return]

    @property
    def tax_by_parcel(self) -> TaxAssessmentByParcelLoader:
        return self._get("tax_by_parcel", TaxAssessmentByParcelLoader)  # type: ignore[no-any-return]

    @property
    def location_by_address(self) -> GeoLocationByAddressLoader:
        return self._get("location_by_address", GeoLocationByAddressLoader)  # type: ignore[no-any-return]

    @classmethod
    def for_request(cls, deadline: float | None = None) -> Loaders:
        return cls(deadline)


@dataclass
class Context(StrawberryDjangoContext):
    #: Seconds external fields may wait for upstreams before they give up with a timeout.
    budget: float = 3.0
    #: Event-loop time at which the budget runs out (None: no limit).
    deadline: float | None = None
    loaders: Loaders = field(default_factory=Loaders)
    #: Federation `_entities`: Property rows by their key fields.
    property_by_key: PropertyByKeyLoader = field(default_factory=PropertyByKeyLoader)
    #: Fields answered from cache past their TTL: `{path, service, ageSeconds}`.
    stale: list[dict[str, Any]] = field(default_factory=list)


def build_context(request: HttpRequest, response: HttpResponse | None) -> Context:
    """The context for one request; its budget started when the request arrived (the
    admission middleware stamps that), so time spent queueing counts."""
    budget = settings.GRAPHQL_EXTERNAL_BUDGET
    loop = asyncio.get_running_loop()
    arrived = getattr(request, "arrived_at", None)
    deadline = (arrived if arrived is not None else loop.time()) + budget
    return Context(
        request=request,
        response=response,
        budget=budget,
        deadline=deadline,
        loaders=Loaders(deadline),
    )
