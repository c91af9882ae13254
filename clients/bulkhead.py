"""A bulkhead: one external system's bounded share of outbound capacity.

Each system gets its own connection pool and at most `limit` calls in flight. A system that
hangs can fill only its own share: calls to the others never wait behind it. A call that finds
the share full waits for a free slot, but never past the deadline of the work it serves (the
GraphQL requests waiting on it, set with `wait_deadline`) nor past the client's own pool
timeout; then it fails at once with `CapacityExhausted`, without touching the network.

The deadline travels in a context variable because a client method serves a batch that
several requests share: the loader that launches the fetch knows how long its requests can
wait, the client does not need a parameter for it on every method.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar

from clients.errors import ServiceUnavailable
from clients.metrics import UPSTREAM_CAPACITY, UPSTREAM_CAPACITY_REFUSALS, UPSTREAM_IN_FLIGHT

#: `time.monotonic()` by which a call that has not started must give up waiting for a slot.
_wait_deadline: ContextVar[float | None] = ContextVar("bulkhead_wait_deadline", default=None)


@contextmanager
def wait_deadline(deadline: float | None) -> Iterator[None]:
    """Calls started inside wait for a free slot no later than `deadline` (monotonic)."""
    token = _wait_deadline.set(deadline)
    try:
        yield
    finally:
        _wait_deadline.reset(token)


class CapacityExhausted(ServiceUnavailable):
    """Every slot of the system's share is taken and none freed in time. Says nothing about
    the upstream's health by itself (the calls holding the slots report that), so it does not
    count towards the breaker; the request is not retried within the same call."""

    upstream_fault = False


class Bulkhead:
    """At most `limit` concurrent calls for one system, in one event loop."""

    def __init__(self, service: str, limit: int) -> None:
        if limit < 1:
            raise ValueError("a bulkhead needs at least one slot")
        self.service = service
        self.limit = limit
        self.in_use = 0
        self.waiting = 0
        #: Calls refused because no slot freed in time, since start.
        self.refused = 0
        self._semaphore = asyncio.Semaphore(limit)
        self._in_flight_gauge = UPSTREAM_IN_FLIGHT.labels(service)
        UPSTREAM_CAPACITY.labels(service).set(limit)

    @asynccontextmanager
    async def slot(self, operation: str, *, max_wait: float) -> AsyncIterator[None]:
        """Hold one slot for the body; wait at most `max_wait` seconds (and never past the
        context's wait deadline) for it.

        Raises:
            CapacityExhausted: no slot freed in time.
        """
        deadline = _wait_deadline.get()
        wait = max_wait if deadline is None else min(max_wait, deadline - time.monotonic())
        if self._semaphore.locked():
            if wait <= 0:
                self._refuse(operation)
            self.waiting += 1
            try:
                async with asyncio.timeout(wait):
                    await self._semaphore.acquire()
            except TimeoutError:
                self._refuse(operation)
            finally:
                self.waiting -= 1
        else:
            await self._semaphore.acquire()
        self.in_use += 1
        self._in_flight_gauge.inc()
        try:
            yield
        finally:
            self.in_use -= 1
            self._in_flight_gauge.dec()
            self._semaphore.release()

    def _refuse(self, operation: str) -> None:
        self.refused += 1
        UPSTREAM_CAPACITY_REFUSALS.labels(self.service).inc()
        raise CapacityExhausted(
            self.service,
            operation,
            f"all {self.limit} connections to it are busy and none freed in time",
            may_have_reached_server=False,
        )

    def snapshot(self) -> dict[str, int]:
        return {"inUse": self.in_use, "limit": self.limit, "waiting": self.waiting}
