"""The typed per-request GraphQL context: loaders, the request's time budget, stale reports."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from strawberry.django.context import StrawberryDjangoContext

from resolvers.cache import get_cache
from resolvers.loader import ExternalLoader
from resolvers.properties import PropertyByKeyLoader
from resolvers.registry import loader_classes
from resolvers.upstreams import get_upstreams

L = TypeVar("L", bound=ExternalLoader[Any, Any])


class Loaders:
    """The external systems' loaders for one request, built on first use (they memoise per
    request), so a query that asks for one system pays for one. Every system's loaders are
    here by the names their integrations give them (`loaders.listing_by_parcel`), or by class
    (`loaders.get(ListingByParcelLoader)`).

    `deadline` (loop time, or None for no limit) bounds how long they wait for upstreams.
    """

    def __init__(self, deadline: float | None = None) -> None:
        self.deadline = deadline
        #: The loaders built so far, by class.
        self.built: dict[type[ExternalLoader[Any, Any]], ExternalLoader[Any, Any]] = {}

    def get(self, cls: type[L]) -> L:
        loader = self.built.get(cls)
        if loader is None:
            loader = self.built[cls] = cls.for_request(
                get_upstreams(), get_cache(), deadline=self.deadline
            )
        return cast(L, loader)

    def freshness(self) -> float:
        """Seconds until the first external answer given so far goes stale (inf: none)."""
        return min((loader.freshness() for loader in self.built.values()), default=math.inf)

    def __getattr__(self, name: str) -> ExternalLoader[Any, Any]:
        cls = loader_classes().get(name)
        if cls is None:
            raise AttributeError(f"no external system has a loader named {name!r}")
        return self.get(cls)


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
    #: Seconds the response may be cached, set when the operation ends (None: must not be
    #: stored); schema/cache_control.py works it out, the view sends it.
    max_age: int | None = None


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
