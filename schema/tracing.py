"""Tracing inside GraphQL execution: the operation in the request's OpenTelemetry trace (per
field spans only when asked), and Apollo's inline federated traces (ftv1) for the routers that
ask for them.

Both build on strawberry's own extensions. Each one that wraps fields (`resolve`) says per
request whether it needs to (`wraps_fields`), and the schema installs its resolver middleware
only then (schema/__init__.py): a resolve hook makes graphql-core wrap every field of every
row, and an async one turns every field into a task, which is most of a warm page's cost.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from graphql import GraphQLError
from opentelemetry import context as otel_context
from opentelemetry import trace
from strawberry.extensions import LifecycleStep
from strawberry.extensions.tracing.apollo_federation import (
    FTV1_HEADER,
    FTV1_HEADER_VALUE,
    ApolloFederationTracingExtension,
)
from strawberry.extensions.tracing.opentelemetry import OpenTelemetryExtension

from resolvers.telemetry import tracer
from schema.errors import MASKED_MESSAGE


class OperationSpans(OpenTelemetryExtension):
    """The GraphQL operation in the request's trace, as attributes of the request's server
    span (the ASGI instrumentation's): `graphql.operation.type`, `graphql.operation.name`,
    `graphql.errors` (count), `graphql.parse_ms`, `graphql.validate_ms`, and how the external
    keys were answered (`loader.hit`, `loader.fetched`, `loader.stale.systems`, ...).
    The loaders' batches that wait for upstreams, and the upstream calls, are spans under it
    (resolvers/telemetry.py, clients/core.py). Per-field spans (strawberry's) only with
    GRAPHQL_TRACE_FIELDS: they cost a span and a task per field.

    Not a span of its own, nor spans for parsing and validation: each span costs a warm
    request about 0.1 ms to make and export, and `make bench` holds tracing to 10% of warm
    throughput. With no server span to annotate (the app served without the ASGI
    instrumentation), the operation is a span of its own, `query PropertyPage`.
    """

    def __init__(self) -> None:
        # not strawberry's __init__: it asks the provider for a new tracer on every request
        self._arg_filter = None
        self._span_holder = {}
        self._tracer = tracer("strawberry")
        self._attributes: dict[str, Any] = {}

    @property
    def wraps_fields(self) -> bool:
        return bool(settings.GRAPHQL_TRACE_FIELDS)

    def on_operation(self) -> Iterator[None]:  # type: ignore[override]
        span = trace.get_current_span()
        own = not span.is_recording()
        token = None
        if own:
            span = self._tracer.start_span("GraphQL operation")
            token = otel_context.attach(trace.set_span_in_context(span))
        self._span_holder[LifecycleStep.OPERATION] = span
        try:
            yield
        finally:
            attributes = self._attributes
            context = self.execution_context
            try:
                kind = context.operation_type.value
            except RuntimeError:  # the document did not parse
                kind = None
            name = context.operation_name
            if kind:
                attributes["graphql.operation.type"] = kind
            if name:
                attributes["graphql.operation.name"] = name[:128]
            result = context.result
            attributes["graphql.errors"] = len((result.errors if result else None) or ())
            self._add_loader_outcomes(getattr(context.context, "loaders", None))
            span.set_attributes(attributes)
            if own:
                span.update_name(" ".join(part for part in (kind, name) if part) or "GraphQL")
                if result is None or result.data is None:
                    span.set_status(trace.StatusCode.ERROR, "the operation did not run")
                otel_context.detach(token)
                span.end()

    def _add_loader_outcomes(self, loaders: Any) -> None:
        """How the request's external keys were answered, in few attributes (each costs the
        span): a count per outcome (`loader.hit`, `loader.fetched`, `loader.stale`, ...) and,
        for outcomes that are news (anything but a hit), which systems had them
        (`loader.stale.systems`)."""
        counts: dict[str, int] = {}
        systems: dict[str, list[str]] = {}
        for loader in getattr(loaders, "built", {}).values():
            for outcome, n in loader.tally.items():
                counts[outcome] = counts.get(outcome, 0) + n
                if outcome not in ("hit", "negative_hit"):
                    found = systems.setdefault(outcome, [])
                    if loader.service not in found:
                        found.append(loader.service)
        for outcome, n in counts.items():
            self._attributes[f"loader.{outcome}"] = n
        for outcome, names in systems.items():
            self._attributes[f"loader.{outcome}.systems"] = names

    def on_parse(self) -> Iterator[None]:  # type: ignore[override]
        started = time.perf_counter()
        yield
        self._attributes["graphql.parse_ms"] = round((time.perf_counter() - started) * 1000, 3)

    def on_validate(self) -> Iterator[None]:  # type: ignore[override]
        started = time.perf_counter()
        yield
        self._attributes["graphql.validate_ms"] = round((time.perf_counter() - started) * 1000, 3)


class FederatedTracing(ApolloFederationTracingExtension):
    """Apollo's inline trace in `extensions.ftv1`, when the request carries
    `apollo-federation-include-trace: ftv1` (Apollo Router and Gateway send it on a sample
    of requests) and GRAPHQL_FEDERATED_TRACING allows it. Error messages in the trace are
    masked as in the response (no exception text reaches the router).

    The edge should strip that header from untrusted clients: a traced request resolves every
    field through a timing wrapper, several times the cost of an untraced one.
    """

    @property
    def wraps_fields(self) -> bool:
        return self._check_should_trace()

    def _check_should_trace(self) -> bool:
        if not settings.GRAPHQL_FEDERATED_TRACING:
            return False
        request = getattr(self.execution_context.context, "request", None)
        headers = getattr(request, "headers", None)
        if headers is None:
            return False
        return str(headers.get(FTV1_HEADER, "")).lower() == FTV1_HEADER_VALUE

    def _make_error(self, e: Exception, info: Any) -> Any:
        if not isinstance(e, GraphQLError):
            e = GraphQLError(MASKED_MESSAGE)
        return super()._make_error(e, info)
