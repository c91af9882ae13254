"""OpenTelemetry tracing: off unless an OTLP endpoint is configured.

With `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, and
`OTEL_SDK_DISABLED` not true, each worker installs the SDK at start-up (django_project/asgi.py)
and every request leaves one trace:

- the server span (opentelemetry-instrumentation-asgi), continuing an incoming W3C
  `traceparent` (a gateway's), so our spans join the gateway's trace; health, readiness and
  metrics requests are not traced;
- under it the GraphQL operation, and per loader batch a span with its keys and how they were
  answered (hits, fetched, stale, ...), and per upstream call a span with its system,
  operation, attempts, retries and outcome (schema/tracing.py, resolvers/loader.py,
  clients/core.py);
- under those the instrumentations' spans for each HTTP exchange (httpx, which also passes
  `traceparent` on) and each Redis command.

The standard variables configure the rest: `OTEL_SERVICE_NAME` (default `property-graph`),
`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` (default: follow the caller's sampling
decision, sample everything else), `OTEL_EXPORTER_OTLP_PROTOCOL` (`http/protobuf`, the
default, or `grpc`), `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_BSP_*` for the batching. Spans carry
no credentials: HTTP spans keep the URL's scheme, host and path only (as the call logs do),
and no request or response headers are recorded.

Metrics (`/metrics`) are unchanged: tracing adds no label to them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from opentelemetry import trace

# The SDK and the instrumentations are imported where they are used: a worker without
# tracing loads none of them (they cost memory and start-up time).
if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

#: Paths never traced: probes and scrapes would drown the requests in noise.
UNTRACED_PATHS = "healthz,readyz,metrics,static/"

_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def tracing_configured() -> bool:
    """Whether the environment asks for traces to be exported."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(os.environ.get(name, "").strip() for name in _ENDPOINT_VARIABLES)


def otlp_exporter() -> SpanExporter:
    """The OTLP exporter for the configured protocol; it reads its own OTEL_EXPORTER_OTLP_*
    variables (endpoint, headers, timeout, certificates)."""
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    elif protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    else:
        raise ImproperlyConfigured(
            f"OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or grpc, got {protocol!r}"
        )
    return OTLPSpanExporter()


def _mask_url(span: Any, request: Any) -> None:
    """Keep an HTTP span's URL to scheme, host and path, as the call logs do: query strings
    carry API keys (the geocoder's) and whole SOQL statements (Salesforce's)."""
    if not span.is_recording():
        return
    url = request.url
    masked = f"{url.scheme}://{url.host}{f':{url.port}' if url.port else ''}{url.path}"
    span.set_attributes({"http.url": masked, "url.full": masked})


async def _mask_url_async(span: Any, request: Any) -> None:
    _mask_url(span, request)


#: Longest attribute value kept unless OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT says otherwise: a GET's
#: URL holds the whole query and its variables (up to GRAPHQL_MAX_BODY_BYTES).
ATTRIBUTE_VALUE_LENGTH = 2048


def _span_limits() -> Any:
    from opentelemetry.sdk.trace import SpanLimits

    if any(
        os.environ.get(name, "").strip()
        for name in ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT")
    ):
        return SpanLimits()  # it reads them
    return SpanLimits(max_attribute_length=ATTRIBUTE_VALUE_LENGTH)


def install_tracing(processor: SpanProcessor | None = None) -> TracerProvider:
    """Install the SDK as the process's tracer provider and instrument httpx and redis.
    `processor` replaces the OTLP export (tests pass the SDK's in-memory exporter's)."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": "property-graph"}
    provider = TracerProvider(resource=Resource.create(attributes), span_limits=_span_limits())
    provider.add_span_processor(processor or BatchSpanProcessor(otlp_exporter()))
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument(
        tracer_provider=provider, request_hook=_mask_url, async_request_hook=_mask_url_async
    )
    RedisInstrumentor().instrument(tracer_provider=provider)
    return provider


def uninstall_tracing() -> None:
    """Undo the instrumentation (tests); the provider stays, as OpenTelemetry allows one."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    HTTPXClientInstrumentor().uninstrument()
    RedisInstrumentor().uninstrument()


def traced(application: Any) -> Any:
    """`application` behind the ASGI server-span middleware (only its own span: not one per
    message received and sent)."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(
        application, excluded_urls=UNTRACED_PATHS, exclude_spans=["receive", "send"]
    )


def flush() -> None:
    """Export what is buffered (at shutdown)."""
    provider = trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    if force_flush is not None:
        force_flush()
