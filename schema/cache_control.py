"""Cache hints: how long a consumer may keep a response, from what the response holds.

Two forms, for two kinds of consumer:

- Per response (HTTP): `CacheHints` works out a query's `max-age` = the smallest remaining
  freshness of the external fields it returned (each loader knows when its answers' cache
  entries go stale: resolvers/loader.py) and of its local fields (`GRAPHQL_LOCAL_MAX_AGE`,
  0 by default: database rows change without notice). Mutations, responses with errors and
  responses holding a stale-served field get none (the view sends `no-store`). The view
  turns it into `Cache-Control`, `ETag` and 304s (django_project/views.py); Apollo Router's
  response cache and browsers and CDNs read that header.
- Per field (SDL): `@cacheControl(maxAge:)` on every external field, in seconds: the smaller
  of its system's TTL and negative TTL (a cache that knows only the schema cannot tell a
  record from its absence, so it gets the shorter), composed into the supergraph with
  `@composeDirective` in the form Hive Gateway's response cache reads
  (`@link(url: "https://the-guild.dev/mesh/v1.0", import: ["@cacheControl"])`).
  Fields without it are local and get the gateway's default, as Apollo's convention has it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from enum import Enum
from typing import Any

import strawberry
from django.conf import settings
from strawberry.extensions import SchemaExtension
from strawberry.schema_directive import Location

#: The `@link` URL Hive Gateway (GraphQL Mesh) defines `@cacheControl` under.
CACHE_CONTROL_SPEC = "https://the-guild.dev/mesh/v1.0"


@strawberry.enum(description="Who may keep a cached response: any cache, or only the caller's.")
class CacheControlScope(Enum):
    PUBLIC = "PUBLIC"
    PRIVATE = "PRIVATE"


@strawberry.federation.schema_directive(
    locations=[
        Location.FIELD_DEFINITION,
        Location.OBJECT,
        Location.INTERFACE,
        Location.UNION,
    ],
    name="cacheControl",
    description="How long (seconds) a response holding this field may be cached.",
    compose=True,
    import_url=CACHE_CONTROL_SPEC,
)
class CacheControl:
    # UNSET: an argument not given is left out of the SDL, as gateways expect
    max_age: int | None = strawberry.UNSET
    scope: CacheControlScope | None = strawberry.UNSET
    inherit_max_age: bool | None = strawberry.UNSET


def max_age_for(service: str) -> int:
    """Seconds a field of `service` stays fresh whether or not the record exists: the smaller
    of its TTL and its negative TTL (settings.<SERVICE>_CACHE)."""
    policy = getattr(settings, f"{service.upper()}_CACHE")
    return int(min(policy["ttl"], policy["negative_ttl"]))


class SystemCacheHint(CacheControl):
    """`@cacheControl(maxAge:)` for a field of one system, read from its settings when the
    SDL is printed (a system's schema module may be imported before its settings exist)."""

    def __init__(self, service: str) -> None:  # the dataclass fields stay UNSET
        self.service = service

    @property  # type: ignore[misc]
    def max_age(self) -> int:
        return max_age_for(self.service)


def cache_hint(service: str) -> CacheControl:
    """The `@cacheControl` directive for a field of `service`."""
    return SystemCacheHint(service)


def response_max_age(execution_context: Any) -> int | None:
    """Seconds the operation's response may be cached, or None when it must not be stored:
    a mutation or subscription, an operation that did not run or returned errors, or one that
    served a field past its TTL."""
    try:
        if execution_context.operation_type.value != "query":
            return None
    except RuntimeError:  # the document did not parse
        return None
    result = execution_context.result
    context = execution_context.context
    if result is None or result.errors or getattr(context, "stale", None):
        return None
    remaining = float(settings.GRAPHQL_LOCAL_MAX_AGE)
    loaders = getattr(context, "loaders", None)
    if loaders is not None:
        remaining = min(remaining, loaders.freshness())
    return max(0, math.floor(remaining))


class CacheHints(SchemaExtension):
    """Leaves the response's `max_age` on the context for the view (None: `no-store`)."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context.context
        if hasattr(context, "max_age"):
            context.max_age = response_max_age(self.execution_context)
