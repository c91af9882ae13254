"""Admission control for /graphql/: refuse at once what the process cannot finish in time.

Each worker admits a GraphQL request unless

- it already has GRAPHQL_MAX_IN_FLIGHT requests in progress (a memory and file-descriptor
  bound), or
- its event loop is saturated: for the last few heartbeats (every 25 ms while requests are in
  progress) a ready callback waited longer than GRAPHQL_MAX_LOOP_LAG_MS to run, and other
  requests are in progress. A saturated loop makes every admitted request slower in
  proportion (each of its dozens of awaits waits that long), so admitting more work would
  push everyone past the budget; with no other request in progress there is no one to
  protect, and the lag came from work that has ended.

A refused request gets 503 with `Retry-After` and `extensions.code` SERVER_BUSY, counted in
`graphql_http_refusals_total`. It is never queued: a queued request would spend its budget
waiting and then fail anyway. Requests waiting on a slow upstream cost no CPU and do not count
towards saturation, so one hanging system does not make the server refuse work it can do.

The middleware also stamps the request's arrival (`request.arrived_at`, loop time): the
request's budget for external fields starts there (resolvers/context.py).
"""

from __future__ import annotations

import asyncio
import collections
import weakref
from collections.abc import Awaitable, Callable

from asgiref.sync import markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import reverse
from prometheus_client import Gauge

from django_project.views import HttpError, error_response, negotiate_media_type
from resolvers import batching

GetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]

#: Seconds between heartbeats while requests are in progress.
HEARTBEAT = 0.025
#: Heartbeats that must all be late before the loop counts as saturated: one slow callback
#: (a garbage collection, a large response) is not saturation.
LATE_BEATS = 4
#: Seconds the heartbeat keeps going after the last request, so a burst is measured from its
#: start.
LINGER = 1.0

REQUESTS_IN_FLIGHT = Gauge(
    "graphql_requests_in_flight",
    "GraphQL requests being processed (summed over workers).",
    multiprocess_mode="livesum",
)
LOOP_LAG = Gauge(
    "graphql_event_loop_lag_seconds",
    "How late the event loop's latest heartbeat ran: the wait of a ready callback (highest "
    "over workers).",
    multiprocess_mode="max",
)


class LoopState:
    """Per event loop: requests in progress and how late the heartbeat runs."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.lags: collections.deque[float] = collections.deque(maxlen=LATE_BEATS)
        self._beating = False
        self._last_request = 0.0

    @property
    def lag(self) -> float:
        """The smallest lag of the last heartbeats (0 until there are enough of them)."""
        return min(self.lags) if len(self.lags) == LATE_BEATS else 0.0

    def saturated(self) -> bool:
        """The loop lags and other requests are in progress to share it with. A request
        arriving when none is in progress is admitted however late the last heartbeats ran:
        that lag came from work that has ended (one client's previous 1,000-row page made
        its next request a 503 in `make bench`), and refusing the only request would leave
        the worker serving no one."""
        return self.in_flight > 0 and self.lag * 1000 > settings.GRAPHQL_MAX_LOOP_LAG_MS

    @property
    def in_flight(self) -> int:
        """Requests in progress on this loop, counted once: by the shared fetches
        (resolvers/batching.py), which also need to know which of them asked for keys."""
        return batching.requests_in_flight()

    def enter(self) -> batching.RequestMark:
        mark = batching.request_started()
        self._last_request = self.loop.time()
        if not self._beating:
            self._beating = True
            self.loop.call_later(HEARTBEAT, self._beat, self.loop.time() + HEARTBEAT)
        return mark

    def leave(self, mark: batching.RequestMark) -> None:
        batching.request_finished(mark)
        self._last_request = self.loop.time()

    def _beat(self, due: float) -> None:
        now = self.loop.time()
        lag = max(0.0, now - due)
        self.lags.append(lag)
        LOOP_LAG.set(lag)
        if self.in_flight == 0 and now - self._last_request > LINGER:
            self._beating = False
            self.lags.clear()
            LOOP_LAG.set(0)
            return
        self.loop.call_later(HEARTBEAT, self._beat, now + HEARTBEAT)


_states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopState] = (
    weakref.WeakKeyDictionary()
)


def loop_state() -> LoopState:
    loop = asyncio.get_running_loop()
    state = _states.get(loop)
    if state is None:
        state = _states[loop] = LoopState(loop)
    return state


def busy(message: str) -> HttpError:
    return HttpError(503, "SERVER_BUSY", message, {"Retry-After": "1"})


class AdmissionMiddleware:
    """Async-only middleware in front of the GraphQL view (see the module docstring)."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self._path = reverse("graphql")
        markcoroutinefunction(self)

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path_info != self._path:
            return await self.get_response(request)
        state = loop_state()
        request.arrived_at = state.loop.time()  # type: ignore[attr-defined]
        refusal = None
        if state.in_flight >= settings.GRAPHQL_MAX_IN_FLIGHT:
            refusal = busy(
                f"The server is at its limit of {settings.GRAPHQL_MAX_IN_FLIGHT} requests in "
                "progress; retry in a second."
            )
        elif state.saturated():
            refusal = busy("The server is saturated; retry in a second.")
        if refusal is not None:
            return error_response(refusal, negotiate_media_type(request) or "application/json")
        # counted where the shared fetches (resolvers/batching.py) see it too: a lone
        # request's keys leave at once, a burst's wait for each other
        mark = state.enter()
        REQUESTS_IN_FLIGHT.inc()
        try:
            return await self.get_response(request)
        finally:
            state.leave(mark)
            REQUESTS_IN_FLIGHT.dec()
