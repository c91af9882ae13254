"""Tracing inside GraphQL execution: an OpenTelemetry span per operation (per field only when
asked), and Apollo's inline federated traces (ftv1) for the routers that ask for them.

Both build on strawberry's own extensions. Each one that wraps fields (`resolve`) says per
request whether it needs to (`wraps_fields`), and the schema installs its resolver middleware
only then (schema/__init__.py): a resolve hook makes graphql-core wrap every field of every
row, and an async one turns every field into a task, which is most of a warm page's cost.
"""

from __future__ import annotations

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
    """A span per operation, named as OpenTelemetry's GraphQL conventions say (`query
    PropertyPage`), under the request's server span and current while the operation runs,
    so the loaders' and upstream calls' spans nest under it; parsing and validation get
    theirs. Per-field spans (strawberry's) only with GRAPHQL_TRACE_FIELDS: they cost a span
    and a task per field."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._tracer = tracer("strawberry")

    @property
    def wraps_fields(self) -> bool:
        return bool(settings.GRAPHQL_TRACE_FIELDS)

    def on_operation(self) -> Iterator[None]:  # type: ignore[override]
        span = self._tracer.start_span("GraphQL operation")
        self._span_holder[LifecycleStep.OPERATION] = span
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            yield
        finally:
            context = self.execution_context
            try:
                kind = context.operation_type.value
            except RuntimeError:  # the document did not parse
                kind = None
            name = context.operation_name
            attributes: dict[str, Any] = {}
            if kind:
                attributes["graphql.operation.type"] = kind
            if name:
                attributes["graphql.operation.name"] = name[:128]
            result = context.result
            errors = (result.errors if result is not None else None) or []
            attributes["graphql.errors"] = len(errors)
            span.set_attributes(attributes)
            span.update_name(" ".join(part for part in (kind, name) if part) or "GraphQL")
            if result is None or result.data is None:
                span.set_status(trace.StatusCode.ERROR, "the operation did not run")
            otel_context.detach(token)
            span.end()


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
