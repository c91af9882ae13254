"""Tracing hooks every layer shares, on OpenTelemetry's API only (the SDK is set up, or not,
by django_project/tracing.py).

With no SDK configured the API hands out non-recording spans; `tracing_on` lets a hot path
skip even those. Tracers are looked up from whichever provider is set now (and kept per
provider), so a provider installed after import (the ASGI app at start-up, a test) is used.
"""

from __future__ import annotations

from opentelemetry import trace

_TRACERS: dict[str, tuple[trace.TracerProvider, trace.Tracer]] = {}


def tracing_on() -> bool:
    """Whether an SDK tracer provider is installed (spans are recorded and exported)."""
    return not isinstance(
        trace.get_tracer_provider(), trace.ProxyTracerProvider | trace.NoOpTracerProvider
    )


def tracer(name: str) -> trace.Tracer:
    """The tracer called `name` from the current provider."""
    provider = trace.get_tracer_provider()
    found = _TRACERS.get(name)
    if found is None or found[0] is not provider:
        found = _TRACERS[name] = (provider, provider.get_tracer(name))
    return found[1]
