"""Upstream fetches shared by every request in a process: single flight and a batching window.

Per event loop and kind of record (a loader's namespace: a system may serve several), one
`SharedFetches` board holds every key some request is waiting for:

- a key already in flight (or settled less than `SETTLED_GRACE` ago) is joined, never fetched
  twice;
- a new key waits briefly for company: the call leaves once no request has added a key for a
  tenth of the window (the requests that arrived together have all had their turn), at the
  latest `window` seconds after the first key, and at once when a full upstream batch is
  waiting or a waiting request's deadline comes. An idle process adds a tenth of the window
  (2 ms by default) to a cold fetch; a busy one, whose requests reach their external fields
  a few milliseconds apart, sends one call where it would have sent one per request.
  `window` 0 turns the cross-request part off (keys still batch per request).

The fetch runs in its own task, so a request that gives up at its deadline never cancels a
call other requests (or the next request, through the cache) are waiting for. Outcomes are
delivered as futures' *results* (a value, None for "no such record", or the
ExternalServiceError), never as exceptions: a future nobody awaits any more must not log
"exception was never retrieved".
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import Counter

from clients.bulkhead import wait_deadline
from clients.errors import ExternalServiceError, ServiceUnavailable

logger = logging.getLogger(__name__)

#: Seconds a settled fetch keeps answering joiners (covers reads that raced the cache write).
SETTLED_GRACE = 1.0
#: The call leaves once no key has joined for this share of the window.
QUIET_SHARE = 0.1

FETCHED_KEYS = Counter(
    "external_fetch_keys",
    "Keys requests needed from an upstream, by how they got them: launched (this request "
    "added the key to a call) or joined (another request's call already carried it).",
    ["service", "how"],
)


class Fetcher(Protocol):
    """What the board needs from a loader (resolvers/loader.py's ExternalLoader)."""

    @property
    def service(self) -> str: ...

    @property
    def clock(self) -> Callable[[], float]: ...

    def cache_key(self, key: Any) -> str: ...

    def keys_per_call(self) -> int: ...

    def fetch(self, keys: list[Any]) -> Awaitable[Mapping[Any, Any]]: ...

    def fetched(self, outcomes: Iterable[tuple[str, Any]]) -> Awaitable[None]: ...

    def grace(self) -> float: ...


@dataclass
class _Flight:
    key: Hashable
    future: asyncio.Future[Any]
    #: The fetcher's clock when the outcome arrived (None while pending or in flight).
    settled_at: float | None = None


class SharedFetches:
    """One system's keys wanted in this event loop: pending for the next call, or in flight."""

    def __init__(self, service: str, window: float) -> None:
        self.service = service
        self.window = window
        self._flights: dict[str, _Flight] = {}
        self._pending: dict[str, _Flight] = {}
        self._fetcher: Fetcher | None = None
        #: Loop times of the first and of the latest key pending.
        self._first_at = self._last_at = 0.0
        #: Latest deadline among the requests waiting on the pending keys (loop time), or
        #: None when one of them has none: how long the call may wait for a connection.
        self._wait_until: float | None = 0.0
        #: Earliest such deadline: the call never leaves after it.
        self._leave_by = float("inf")
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: Keys written upstream meanwhile (loop time of the write): a fetch that started
        #: before must not cache what it read.
        self._invalidated: dict[str, float] = {}

    def join(
        self, fetcher: Fetcher, keys: list[Any], deadline: float | None
    ) -> list[asyncio.Future[Any]]:
        """Futures for `keys`: joined where a fetch already carries them, new ones pending.

        `deadline` (loop time, or None for none) is how long the caller will wait.
        """
        loop = asyncio.get_running_loop()
        futures = []
        added = joined = 0
        for key in keys:
            cache_key = fetcher.cache_key(key)
            flight = self._flights.get(cache_key)
            if flight is None or (
                flight.settled_at is not None
                and fetcher.clock() - flight.settled_at >= fetcher.grace()
            ):
                flight = self._flights[cache_key] = _Flight(key, loop.create_future())
                self._pending[cache_key] = flight
                added += 1
            else:
                joined += 1
            futures.append(flight.future)
        if joined:
            FETCHED_KEYS.labels(self.service, "joined").inc(joined)
        if added:
            FETCHED_KEYS.labels(self.service, "launched").inc(added)
            self._note_waiter(fetcher, deadline, loop.time())
            self._schedule(loop)
        return futures

    def forget(self, cache_key: str) -> None:
        """The record changed upstream: no joiner gets a fetch of `cache_key` that is under
        way or settled, and such a fetch does not cache what it read."""
        self._flights.pop(cache_key, None)
        now = asyncio.get_running_loop().time()
        if len(self._invalidated) > 1000:
            self._invalidated = {k: t for k, t in self._invalidated.items() if now - t < 60}
        self._invalidated[cache_key] = now

    # -- when the call leaves ---------------------------------------------------------------

    def _note_waiter(self, fetcher: Fetcher, deadline: float | None, now: float) -> None:
        if self._timer is None:
            self._first_at = now
            self._wait_until = deadline
            self._leave_by = float("inf")
        elif self._wait_until is not None:
            self._wait_until = None if deadline is None else max(self._wait_until, deadline)
        if deadline is not None:
            self._leave_by = min(self._leave_by, deadline)
        self._last_at = now
        self._fetcher = fetcher

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        per_call = self._fetcher.keys_per_call() if self._fetcher is not None else 1
        if self.window <= 0 or len(self._pending) >= max(1, per_call):
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_at(self._due(), self._tick, loop)

    def _due(self) -> float:
        """When the call should leave if no more keys come."""
        return min(
            self._last_at + self.window * QUIET_SHARE,
            self._first_at + self.window,
            self._leave_by,
        )

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        if not self._pending:
            return
        due = self._due()
        if loop.time() < due:  # keys joined since: wait for the quiet gap after the last one
            self._timer = loop.call_at(due, self._tick, loop)
            return
        self._flush()

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        fetcher, pending = self._fetcher, self._pending
        self._pending = {}
        if fetcher is None or not pending:
            return
        loop = asyncio.get_running_loop()
        monotonic_deadline = (
            None if self._wait_until is None else self._wait_until - loop.time() + time.monotonic()
        )
        task = loop.create_task(self._fetch(fetcher, pending, monotonic_deadline))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the call -----------------------------------------------------------------------------

    async def _fetch(
        self, fetcher: Fetcher, pending: dict[str, _Flight], deadline: float | None
    ) -> None:
        """Fetch the keys, settle every future, cache what came back. Never raises."""
        started = asyncio.get_running_loop().time()
        try:
            with wait_deadline(deadline):
                records = await fetcher.fetch([flight.key for flight in pending.values()])
        except ExternalServiceError as exc:
            self._settle_failed(pending, exc)
            return
        except asyncio.CancelledError:
            self._settle_failed(
                pending, ServiceUnavailable(self.service, "fetch", "the fetch was cancelled")
            )
            raise
        except Exception:
            logger.exception("%s fetch failed unexpectedly", self.service)
            self._settle_failed(
                pending, ServiceUnavailable(self.service, "fetch", "the fetch failed unexpectedly")
            )
            return
        outcomes = []
        settled_at = fetcher.clock()
        for cache_key, flight in pending.items():
            value = records.get(flight.key)
            flight.settled_at = settled_at
            if not flight.future.done():
                flight.future.set_result(value)
            if self._invalidated.get(cache_key, started - 1) < started:
                outcomes.append((cache_key, value))
        try:
            await fetcher.fetched(outcomes)
        finally:
            # Late readers that raced the cache write are answered from memory a moment
            # more (joiners check the age themselves); then the entries go.
            loop = asyncio.get_running_loop()
            loop.call_later(SETTLED_GRACE, self._release, pending)

    def _settle_failed(self, pending: dict[str, _Flight], error: ExternalServiceError) -> None:
        """Errors are never kept: the next request asks the upstream again."""
        for flight in pending.values():
            if not flight.future.done():
                flight.future.set_result(error)
        self._release(pending)

    def _release(self, flights: dict[str, _Flight]) -> None:
        for cache_key, flight in flights.items():
            if self._flights.get(cache_key) is flight:
                del self._flights[cache_key]


_boards: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, SharedFetches]] = (
    weakref.WeakKeyDictionary()
)


def shared_fetches(service: str, namespace: str, window: float) -> SharedFetches:
    """This event loop's board for one kind of record (`namespace`; a system may serve
    several, each fetched by its own call) of `service`; its window follows the setting."""
    loop = asyncio.get_running_loop()
    boards = _boards.get(loop)
    if boards is None:
        boards = _boards[loop] = {}
    board = boards.get(namespace)
    if board is None:
        board = boards[namespace] = SharedFetches(service, window)
    board.window = window
    return board


#: Seconds a deadline timer may run late before the lateness counts as "the process was busy".
LATE_TOLERANCE = 0.02


async def wait_until(
    futures: list[asyncio.Future[Any]], deadline: float | None, *, grace: float = 0.0
) -> None:
    """Wait for `futures` until `deadline` (loop time; None waits for all). Never cancels
    them: other requests may be waiting on the same ones.

    When the deadline's timer itself runs late, the event loop was busy, not necessarily the
    upstream slow: an answer may be sitting unread. The wait then goes on once more, for as
    long as the timer was late and at most `grace` seconds, so a busy process does not
    report a healthy upstream as timed out.
    """
    pending = {future for future in futures if not future.done()}
    if not pending:
        return
    if deadline is None:
        await asyncio.wait(pending)
        return
    loop = asyncio.get_running_loop()
    target, extended = deadline, False
    while True:
        now = loop.time()
        if now >= target:
            late = now - target
            if extended or late <= LATE_TOLERANCE or grace <= 0:
                return
            target, extended = now + min(late, grace), True
            continue
        _, pending = await asyncio.wait(pending, timeout=target - now)
        if not pending:
            return
