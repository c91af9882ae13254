"""Upstream fetches shared by every request in a process: single flight and a batching window.

Per event loop and kind of record (a loader's namespace: a system may serve several), one
`SharedFetches` board holds every key some request is waiting for:

- a key already in flight (or settled less than `SETTLED_GRACE` ago) is joined, never fetched
  twice;
- a new key waits briefly for company: the call leaves once no request has added a key for
  half the window (`QUIET_SHARE`: the requests that arrived together have all had their
  turn), at the latest `window` seconds after the first key, and at once when a full
  upstream batch is waiting or a waiting request's deadline comes. A busy process, whose
  requests reach their external fields a few milliseconds apart (each first waits its turn
  for the database), sends one call where it would have sent one per request. Half, not
  less: with a tenth (2 ms) a burst of 150 cold detail queries still cost 4-17 calls per
  system, varying run to run, as requests straggled in just past the gap.
  `window` 0 turns the cross-request part off (keys still batch per request). A request
  that is the only one in progress in its worker (as the web layer counts them) has nobody
  to wait for: its keys leave at once, so the window costs nothing at concurrency 1.
  Requests in progress that have not asked for any key yet (the web layer reports requests
  with `request_started`/`request_finished`; a request counts as having asked once its
  first key reaches a board) are keys on the way: while there are any, the call waits up
  to BUSY_STRETCH windows for them. Under a burst of 150 cold requests this took one worker
  from 15-22 calls per system to 2-4: the worker reaches the requests' fields about 8 ms
  apart, one after another, for a second.

The fetch runs in its own task, so a request that gives up at its deadline never cancels a
call other requests (or the next request, through the cache) are waiting for. Outcomes are
delivered as futures' *results* (a value, None for "no such record", or the
ExternalServiceError), never as exceptions: a future nobody awaits any more must not log
"exception was never retrieved".
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import Counter

from clients.bulkhead import wait_deadline
from clients.errors import ExternalServiceError, ServiceTimeout, ServiceUnavailable
from resolvers.fleet import FLEET_KEYS, POLL, Fleet, Lease, fleet_for_loop, revive
from resolvers.timing import wait_until

__all__ = ["SETTLED_GRACE", "SharedFetches", "forget_here", "shared_fetches", "wait_until"]

logger = logging.getLogger(__name__)

#: Seconds a settled fetch keeps answering joiners (covers reads that raced the cache write).
SETTLED_GRACE = 1.0
#: The call leaves once no key has joined for this share of the window.
QUIET_SHARE = 0.5
#: While requests in progress have not asked for any key yet (a burst the worker is still
#: working through), the call waits up to this many windows for them.
BUSY_STRETCH = 12

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

    def cached(self, cache_keys: list[str]) -> Awaitable[Mapping[str, Any]]: ...

    def uncache(self, cache_keys: list[str]) -> Awaitable[None]: ...

    def grace(self) -> float: ...

    def shares_cache(self) -> bool: ...


@dataclass
class _Flight:
    key: Hashable
    future: asyncio.Future[Any]
    #: The fetcher's clock when the outcome arrived (None while pending or in flight).
    settled_at: float | None = None


class RequestsHere:
    """The requests this event loop is serving, as the web layer reports them
    (`request_started` / `request_finished`; resolvers do not import the web layer), and how
    many of them have asked a board for keys yet. Nothing reported (a management command, a
    test driving loaders directly): keys wait for company by the window alone."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.asked = 0

    @property
    def yet_to_ask(self) -> int:
        """Requests in progress that have not asked for any external key yet: under a burst,
        those still parsing or waiting their turn for the database, whose keys are coming."""
        return self.in_flight - self.asked


class RequestMark:
    """One request's entry in its loop's RequestsHere."""

    __slots__ = ("asked", "here")

    def __init__(self, here: RequestsHere) -> None:
        self.here = here
        self.asked = False


_requests_here: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RequestsHere] = (
    weakref.WeakKeyDictionary()
)
_this_request: contextvars.ContextVar[RequestMark | None] = contextvars.ContextVar(
    "external_fetch_request", default=None
)


def _here() -> RequestsHere | None:
    return _requests_here.get(asyncio.get_running_loop())


def request_started() -> RequestMark:
    """Count a request in progress on this loop; its resolvers (tasks copy the context) mark
    it as having asked when they first want a key."""
    loop = asyncio.get_running_loop()
    here = _requests_here.get(loop)
    if here is None:
        here = _requests_here[loop] = RequestsHere()
    here.in_flight += 1
    mark = RequestMark(here)
    _this_request.set(mark)
    return mark


def request_finished(mark: RequestMark) -> None:
    mark.here.in_flight -= 1
    if mark.asked:
        mark.here.asked -= 1


def _note_asked() -> None:
    mark = _this_request.get()
    if mark is not None and not mark.asked:
        mark.asked = True
        mark.here.asked += 1


def requests_in_flight() -> int:
    """Requests in progress on this loop, as the web layer reported them."""
    here = _here()
    return 0 if here is None else here.in_flight


def _alone() -> bool:
    """Whether the only request in progress is the one asking: nobody could join it."""
    here = _here()
    return here is not None and here.in_flight == 1


def _others_coming() -> bool:
    here = _here()
    return here is not None and here.yet_to_ask > 0


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
        #: Keys this board's fetches wrote to the cache lately (loop time), and the fetcher
        #: that wrote them: a record changed elsewhere is dropped from the cache again here,
        #: in case our write of the old record landed after the other worker's delete.
        self._written: dict[str, float] = {}
        self._writer: Fetcher | None = None

    def join(
        self,
        fetcher: Fetcher,
        keys: list[Any],
        deadline: float | None,
        cache_keys: list[str] | None = None,
    ) -> list[asyncio.Future[Any]]:
        """Futures for `keys`: joined where a fetch already carries them, new ones pending.

        `deadline` (loop time, or None for none) is how long the caller will wait;
        `cache_keys`, the keys' `fetcher.cache_key`s when the caller has them already.
        """
        loop = asyncio.get_running_loop()
        futures = []
        added = joined = 0
        now, grace = fetcher.clock(), fetcher.grace()  # once, not per key (5,800 on a page)
        if cache_keys is None:
            cache_keys = [fetcher.cache_key(key) for key in keys]
        for key, cache_key in zip(keys, cache_keys, strict=True):
            flight = self._flights.get(cache_key)
            if flight is None or (
                flight.settled_at is not None and now - flight.settled_at >= grace
            ):
                flight = self._flights[cache_key] = _Flight(key, loop.create_future())
                self._pending[cache_key] = flight
                added += 1
            else:
                joined += 1
            futures.append(flight.future)
        _note_asked()
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
        if self._written.pop(cache_key, None) is not None and self._writer is not None:
            task = asyncio.ensure_future(self._writer.uncache([cache_key]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

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
        if self.window <= 0 or len(self._pending) >= max(1, per_call) or _alone():
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
        now, due = loop.time(), self._due()
        if now < due:  # keys joined since: wait for the quiet gap after the last one
            self._timer = loop.call_at(due, self._tick, loop)
            return
        if _others_coming() and now < min(
            self._first_at + self.window * BUSY_STRETCH, self._leave_by
        ):
            # requests in progress have not asked yet: their keys are on the way; look again
            # after another quiet gap
            self._timer = loop.call_at(now + self.window * QUIET_SHARE, self._tick, loop)
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
        """Settle every pending key: fetched here, or, when workers share Redis
        (resolvers/fleet.py), by whichever worker leased it. Never raises."""
        fleet = fleet_for_loop(forget_here) if fetcher.shares_cache() else None
        lease = None if fleet is None else await fleet.acquire(list(pending))
        if fleet is None or lease is None:
            if fleet is not None:
                FLEET_KEYS.labels(self.service, "unavailable").inc(len(pending))
            await self._fetch_here(fetcher, pending, deadline)
            return
        jobs = []
        if lease.mine:
            jobs.append(self._fetch_leased(fleet, lease, fetcher, pending, deadline, "leased"))
        if lease.others:
            others = {key: pending[key] for key in lease.others}
            jobs.append(self._await_fleet(fleet, fetcher, others, deadline))
        await asyncio.gather(*jobs)

    async def _fetch_leased(
        self,
        fleet: Fleet,
        lease: Lease,
        fetcher: Fetcher,
        pending: dict[str, _Flight],
        deadline: float | None,
        how: str,
    ) -> None:
        """Fetch the keys this worker leased (counted as `how`); tell the other workers how
        it went. Keys that
        a worker before us fetched meanwhile (it released the lease after writing the cache,
        and our read missed it) come from the cache instead: one upstream call per key."""
        mine = {key: pending[key] for key in lease.mine}
        async with fleet.holding(lease):
            found = await fetcher.cached(list(mine))
            if found:
                FLEET_KEYS.labels(self.service, "waited").inc(len(found))
                self._settle(fetcher, {key: mine.pop(key) for key in found}, found)
            if not mine:
                return
            FLEET_KEYS.labels(self.service, how).inc(len(mine))
            error = await self._fetch_here(fetcher, mine, deadline)
            if error is None:
                await fleet.filled(list(mine))
            else:
                await fleet.failed(list(mine), error)

    async def _await_fleet(
        self, fleet: Fleet, fetcher: Fetcher, flights: dict[str, _Flight], deadline: float | None
    ) -> None:
        """Wait for other workers to fetch `flights`: read the cache when they say they wrote
        it (or at each poll), report their failure, take over a lease that lapsed."""
        remaining = dict(flights)
        watch = fleet.watch(remaining)
        taken: list[asyncio.Task[None]] = []
        try:
            while remaining:
                wait = POLL if deadline is None else min(POLL, deadline - time.monotonic())
                for message in await watch.next(wait):
                    if message.get("kind") == "failed":
                        failed = {k: remaining.pop(k) for k in message["keys"] if k in remaining}
                        if failed:
                            FLEET_KEYS.labels(self.service, "failed_elsewhere").inc(len(failed))
                            self._settle_failed(failed, revive(message.get("error") or {}))
                if not remaining:
                    break
                found = await fetcher.cached(list(remaining))
                if found:
                    FLEET_KEYS.labels(self.service, "waited").inc(len(found))
                    self._settle(fetcher, {k: remaining.pop(k) for k in found}, found)
                if not remaining:
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    FLEET_KEYS.labels(self.service, "timed_out").inc(len(remaining))
                    self._settle_failed(
                        remaining,
                        ServiceTimeout(self.service, "fetch", "another worker's fetch is late"),
                    )
                    return
                lease = await fleet.acquire(list(remaining))
                if lease is None:  # Redis went away: fetch the rest here
                    FLEET_KEYS.labels(self.service, "unavailable").inc(len(remaining))
                    await self._fetch_here(fetcher, remaining, deadline)
                    return
                if lease.mine:  # the holder died, or gave up without a value: our turn
                    mine = {k: remaining.pop(k) for k in lease.mine}
                    taken.append(
                        asyncio.ensure_future(
                            self._fetch_leased(fleet, lease, fetcher, mine, deadline, "taken_over")
                        )
                    )
            if taken:
                await asyncio.gather(*taken)
        finally:
            watch.close()

    async def _fetch_here(
        self, fetcher: Fetcher, pending: dict[str, _Flight], deadline: float | None
    ) -> ExternalServiceError | None:
        """Fetch the keys from the upstream, settle their futures, cache what came back.
        Returns the error the fetch ended with, if it failed; never raises."""
        started = asyncio.get_running_loop().time()
        error: ExternalServiceError | None = None
        try:
            with wait_deadline(deadline):
                records = await fetcher.fetch([flight.key for flight in pending.values()])
        except ExternalServiceError as exc:
            error = exc
        except asyncio.CancelledError:
            self._settle_failed(
                pending, ServiceUnavailable(self.service, "fetch", "the fetch was cancelled")
            )
            raise
        except Exception:
            logger.exception("%s fetch failed unexpectedly", self.service)
            error = ServiceUnavailable(self.service, "fetch", "the fetch failed unexpectedly")
        if error is not None:
            self._settle_failed(pending, error)
            return error
        outcomes = {key: records.get(flight.key) for key, flight in pending.items()}
        self._settle(fetcher, pending, outcomes)
        # let the requests that waited for these answer before the cache write encodes them
        await asyncio.sleep(0)
        written = [key for key in outcomes if self._invalidated.get(key, started - 1) < started]
        try:
            await fetcher.fetched((key, outcomes[key]) for key in written)
        except Exception:
            logger.warning("%s: caching a fetch failed", self.service, exc_info=True)
            return None
        # a record changed while our write was on its way: the write may have landed after
        # the change's delete, so delete again (later messages: `forget` does it)
        overtaken = [key for key in written if self._invalidated.get(key, started - 1) >= started]
        if overtaken:
            await fetcher.uncache(overtaken)
        now = asyncio.get_running_loop().time()
        if len(self._written) > 10_000:
            self._written = {k: t for k, t in self._written.items() if now - t < 60}
        self._written.update(dict.fromkeys(written, now))
        self._writer = fetcher
        return None

    def _settle(
        self, fetcher: Fetcher, flights: dict[str, _Flight], outcomes: Mapping[str, Any]
    ) -> None:
        """Deliver values (None: no such record). Late readers that raced the cache write
        are answered from memory a moment more (joiners check the age), then the entries go."""
        settled_at = fetcher.clock()
        for key, flight in flights.items():
            flight.settled_at = settled_at
            if not flight.future.done():
                flight.future.set_result(outcomes.get(key))
        asyncio.get_running_loop().call_later(SETTLED_GRACE, self._release, flights)

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


def forget_here(cache_key: str) -> None:
    """Another worker changed this record: forget it on this loop's board for its kind."""
    for namespace, board in _boards.get(asyncio.get_running_loop(), {}).items():
        if cache_key.startswith(namespace + ":"):
            board.forget(cache_key)
