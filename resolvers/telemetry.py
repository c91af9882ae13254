"""The tracing hooks (clients/telemetry.py) for schema/, which reaches clients/ only through
this layer."""

from clients.telemetry import tracer, tracing_on

__all__ = ["tracer", "tracing_on"]
