"""Tracing in the loaders, and the tracing hooks (clients/telemetry.py) for schema/, which
reaches clients/ only through this layer."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from opentelemetry import trace

from clients.telemetry import tracer, tracing_on

__all__ = ["BatchTrace", "tracer", "tracing_on"]


class BatchTrace:
    """A loader batch that waits for upstreams, as a span: `<system> batch`, from the batch's
    start to its answer, current while it waits (so the upstream calls it starts nest under
    it), with its system, its keys and how they were answered (`loader.hit`,
    `loader.fetched`, `loader.stale`, ...).

    A batch the cache answers alone makes no span: the request's span sums how the keys
    were answered (schema/tracing.py). A warm detail query has six such batches; each span
    costs it about 0.1 ms of its 4 ms to make and export (measured in-process), and with
    them and the operation's as spans, tracing took a quarter of its throughput (`make
    bench`).
    """

    def __init__(self, service: str, keys: int, counted: Mapping[str, int]) -> None:
        self.service, self.keys, self.counted = service, keys, counted
        self.started = time.time_ns()
        self.span: trace.Span | None = None

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """The batch becomes a span, current while its keys wait for upstreams."""
        self.span = tracer(__name__).start_span(f"{self.service} batch", start_time=self.started)
        with trace.use_span(self.span, end_on_exit=False):
            yield

    def done(self) -> None:
        if self.span is None:
            return
        attributes: dict[str, str | int] = {
            "upstream.system": self.service,
            "loader.keys": self.keys,
            **{f"loader.{result}": n for result, n in self.counted.items()},
        }
        self.span.set_attributes(attributes)
        self.span.end()
