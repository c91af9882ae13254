"""What every emulator shares: the /_emulator control surface, fault injection, call counters.

An emulator is a Starlette app wrapped by `Emulator`, which owns the faults and counters and
applies faults before the request reaches the system's routes. The stable contract:

- `POST /_emulator/faults` with any of `latency_ms`, `jitter_ms`, `error_rate` (0..1),
  `error_status`, `retry_after` (seconds), `retry_after_format` ("seconds" or "http-date"),
  `hang` (bool), `hang_seconds`, `malformed` (bool), `drop` (bool), `expire_tokens` (bool),
  `quota_exhausted` (bool). Keys left out keep their value; `{}` changes nothing. Unknown
  keys or wrong types are refused with 400 and change nothing. `expire_tokens: true` is an
  action: every session issued so far dies now (the flag does not stay on).
- `GET /_emulator/stats` -> `{"total": N, "calls": {"<METHOD> <route>": n}, "in_flight": n,
  "max_in_flight": n}`, counting every request except those to `/_emulator/*`.
- `POST /_emulator/reset` clears faults, counters and sessions, and restores the data.

Faults apply in this order: latency, then hang, drop, a random error (with Retry-After when
`retry_after` is set; 429 and 503 get one by default), the quota, and last a malformed body in
place of the real answer.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any, ClassVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

CONTROL_PREFIX = "/_emulator/"


@dataclass(frozen=True)
class Faults:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    retry_after: float | None = None
    retry_after_format: str = "seconds"
    hang: bool = False
    hang_seconds: float = 3600.0
    malformed: bool = False
    drop: bool = False
    expire_tokens: bool = False
    quota_exhausted: bool = False

    def updated(self, changes: dict[str, Any]) -> Faults:
        """A copy with `changes` applied, or ValueError naming what is wrong."""
        known = {f.name: f for f in fields(self)}
        unknown = set(changes) - set(known)
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        for key, value in changes.items():
            expected = known[key].type
            if "bool" in str(expected) and not isinstance(value, bool):
                raise ValueError(f"{key} must be true or false")
            if ("float" in str(expected) or "int" in str(expected)) and "bool" not in str(expected):
                if value is None and "None" in str(expected):
                    continue
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"{key} must be a non-negative number")
            if key == "retry_after_format" and value not in {"seconds", "http-date"}:
                raise ValueError("retry_after_format must be 'seconds' or 'http-date'")
        merged = replace(self, **changes)
        if not 0 <= merged.error_rate <= 1:
            raise ValueError("error_rate must be between 0 and 1")
        if not 100 <= merged.error_status <= 599:
            raise ValueError("error_status must be an HTTP status (100-599)")
        return merged


class DroppedConnection(Exception):  # noqa: N818 - names the fault, as it appears to clients
    """Raised mid-response so the server closes the connection without finishing it."""


class Emulator:
    """An ASGI app: one system's routes behind the shared control surface and faults."""

    #: Stable service name, as the clients use it.
    service: str = ""
    #: The loopback port `manage.py emulators` serves it on by default.
    default_port: ClassVar[int] = 0
    #: Client settings (credentials) tests configure the client with; the emulator built by
    #: `for_client` from them accepts exactly those.
    test_settings: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, *, seed: int = 7, **initial_faults: Any) -> None:
        self.faults = Faults().updated(initial_faults)
        self.calls: Counter[str] = Counter()
        #: (route, started, finished) of recent calls, monotonic seconds: shows overlap.
        self.timeline: deque[tuple[str, float, float]] = deque(maxlen=1000)
        self.in_flight = 0
        self.max_in_flight = 0
        self._random = random.Random(seed)
        self._seed = seed
        self.routes_app = Starlette(routes=self.routes())
        self.reset_state()

    # -- for subclasses ---------------------------------------------------------------------

    @classmethod
    def for_client(cls, client_settings: Mapping[str, Any], **options: Any) -> Emulator:
        """An emulator that accepts exactly the credentials the client is configured with."""
        return cls(**options)

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def reset_state(self) -> None:
        """Forget sessions and restore data, as after a restart."""

    def expire_sessions(self) -> None:
        """Make every session issued so far invalid."""

    def error_response(self, status: int, retry_after: str | None) -> Response:
        """An error in this system's own shape."""
        headers = {"Retry-After": retry_after} if retry_after else {}
        return JSONResponse({"error": f"injected {status}"}, status_code=status, headers=headers)

    def quota_response(self) -> Response:
        """What this system answers once its quota is spent."""
        return self.error_response(429, "3600")

    def malformed_body(self) -> tuple[bytes, str]:
        return b'{"response": {"data": [', "application/json"

    # -- ASGI -------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.routes_app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(CONTROL_PREFIX):
            await self._control(scope, receive, send)
            return
        route = self._route_name(scope)
        self.calls[route] += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        started = time.monotonic()
        try:
            await self._serve(scope, receive, send)
        finally:
            self.in_flight -= 1
            self.timeline.append((route, started, time.monotonic()))

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        faults = self.faults
        delay = faults.latency_ms + self._random.uniform(0, faults.jitter_ms)
        if delay:
            await asyncio.sleep(delay / 1000)
        if faults.hang:
            await asyncio.sleep(faults.hang_seconds)
        if faults.drop:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
                }
            )
            await send({"type": "http.response.body", "body": b'{"resp', "more_body": True})
            raise DroppedConnection(self.service)
        if faults.error_rate and self._random.random() < faults.error_rate:
            response = self.error_response(faults.error_status, self._retry_after(faults))
            await response(scope, receive, send)
            return
        if faults.quota_exhausted:
            await self.quota_response()(scope, receive, send)
            return
        if faults.malformed:
            await self._malformed(scope, receive, send)
            return
        await self.routes_app(scope, receive, send)

    def _retry_after(self, faults: Faults) -> str | None:
        seconds = faults.retry_after
        if seconds is None:
            if faults.error_status not in {429, 503}:
                return None
            seconds = 1
        if faults.retry_after_format == "http-date":
            return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)
        return str(round(seconds))

    async def _malformed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the real route (its side effects happen), then answer garbage in its place."""
        status = 200

        async def swallow(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.routes_app(scope, receive, swallow)
        body, content_type = self.malformed_body()
        await Response(body, status_code=status, media_type=content_type)(scope, receive, send)

    def _route_name(self, scope: Scope) -> str:
        for route in self.routes_app.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL and isinstance(route, Route):
                return f"{scope['method']} {route.path}"
        return f"{scope['method']} (unrouted)"

    # -- control surface --------------------------------------------------------------------

    async def _control(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        action = scope["path"][len(CONTROL_PREFIX) :].strip("/")
        response: Response
        if action == "stats" and request.method == "GET":
            response = JSONResponse(self.stats())
        elif action == "faults" and request.method == "GET":
            response = JSONResponse(asdict(self.faults))
        elif action == "faults" and request.method == "POST":
            response = await self._set_faults(request)
        elif action == "reset" and request.method == "POST":
            self.reset()
            response = JSONResponse({"reset": True})
        else:
            response = JSONResponse({"error": "unknown control endpoint"}, status_code=404)
        await response(scope, receive, send)

    async def _set_faults(self, request: Request) -> Response:
        try:
            changes = json.loads(await request.body() or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("send a JSON object")
            self.set_faults(**changes)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(asdict(self.faults))

    def set_faults(self, **changes: Any) -> Faults:
        expire = changes.get("expire_tokens", False)
        self.faults = self.faults.updated({**changes, "expire_tokens": False})
        if expire:
            self.expire_sessions()
        return self.faults

    def stats(self) -> dict[str, Any]:
        return {
            "total": sum(self.calls.values()),
            "calls": dict(self.calls),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
        }

    def clear_faults(self) -> None:
        """Faults back to none; sessions, data and counters stay."""
        self.faults = Faults()

    def reset(self) -> None:
        self.faults = Faults()
        self.calls.clear()
        self.timeline.clear()
        self.max_in_flight = self.in_flight
        self._random = random.Random(self._seed)
        self.reset_state()
