"""Prometheus metrics about upstream calls, recorded where each call is logged.

Multiprocess-safe: with PROMETHEUS_MULTIPROC_DIR set (as `make serve` does for its workers),
prometheus_client keeps the values in files that /metrics aggregates across workers.
`calls_in_this_operation` lets the GraphQL layer count the upstream calls one operation caused
(the N+1 guard) without clients/ knowing about GraphQL.
"""

from __future__ import annotations

from collections import Counter as Tally
from contextvars import ContextVar

from prometheus_client import Counter, Gauge, Histogram

UPSTREAM_CALLS = Counter(
    "upstream_calls",
    "HTTP exchanges with external systems, by outcome (ok, session_expired or an error class).",
    ["service", "operation", "outcome"],
)
UPSTREAM_LATENCY = Histogram(
    "upstream_call_duration_seconds",
    "Duration of HTTP exchanges with external systems.",
    ["service", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BREAKER_OPEN = Gauge(
    "upstream_circuit_open",
    "1 while a system's circuit breaker is open or half-open, else 0.",
    ["service"],
    multiprocess_mode="max",
)
UPSTREAM_IN_FLIGHT = Gauge(
    "upstream_calls_in_flight",
    "Calls in flight per system: the share of its bulkhead in use (summed over workers).",
    ["service"],
    multiprocess_mode="livesum",
)
UPSTREAM_CAPACITY = Gauge(
    "upstream_capacity",
    "Calls each system may have in flight at once: its bulkhead (summed over workers).",
    ["service"],
    multiprocess_mode="livesum",
)
UPSTREAM_CAPACITY_REFUSALS = Counter(
    "upstream_capacity_refusals",
    "Calls refused without touching the network because the system's share was full and "
    "no slot freed within the waiting requests' budget.",
    ["service"],
)

#: Upstream calls made on behalf of the current GraphQL operation, by service.
calls_in_this_operation: ContextVar[Tally[str] | None] = ContextVar(
    "calls_in_this_operation", default=None
)


def record_call(service: str, operation: str, outcome: str, seconds: float) -> None:
    UPSTREAM_CALLS.labels(service, operation, outcome).inc()
    UPSTREAM_LATENCY.labels(service, operation).observe(seconds)
    tally = calls_in_this_operation.get()
    if tally is not None:
        tally[service] += 1
