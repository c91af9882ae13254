"""What every external client shares: timeouts, auth hooks, retries, a breaker, one log per call.

A public client method calls `self._call(...)` once per logical operation. `_call` owns the
policy, defined once for every system:

- the circuit breaker decides whether to try at all (CircuitOpen, no network, when open);
- stamina runs the attempts; our backoff hook decides whether and how long to wait:
  only retryable errors, never a write that may have reached the server, Retry-After honoured
  but capped, and no wait that would overrun the call's time budget;
- each attempt gets the auth headers from the subclass; an answer the subclass recognises as
  "session expired" triggers one renewal (single-flight across coroutines) and one resend;
- every HTTP exchange produces exactly one log record: INFO when it succeeded (or was a
  handled session expiry), WARNING when it failed and will be retried, ERROR when it failed
  for good. Records carry `service, operation, method, path, status, attempt, duration_ms`
  and never a query string, header, token or body.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import httpx
import stamina

from clients.breaker import BreakerState, CircuitBreaker
from clients.bulkhead import Bulkhead, CapacityExhausted
from clients.errors import (
    BadResponse,
    CircuitOpen,
    ExternalServiceError,
    from_exception,
    from_response,
)
from clients.metrics import BREAKER_OPEN, record_call

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Methods that may be repeated without changing the outcome (RFC 9110 9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
#: Exceptions a parser raises on a payload of the wrong shape.
SHAPE_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError)


@dataclass(frozen=True, kw_only=True)
class ClientConfig:
    """Settings every client takes; each system's config adds its own (credentials, limits)."""

    base_url: str
    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    write_timeout: float = 5.0
    #: Longest wait for a free slot of this system's share of connections (its bulkhead).
    pool_timeout: float = 2.0
    #: Calls to this system in flight at once, per process: its own connection pool, so a
    #: hanging system cannot take the connections the others need.
    max_connections: int = 20
    #: Attempts per call, the first included.
    max_attempts: int = 3
    #: Seconds a call may spend in all, waits between attempts included.
    retry_budget: float = 3.0
    wait_initial: float = 0.1
    wait_max: float = 1.0
    wait_jitter: float = 0.1
    #: Longest Retry-After we will wait inside a call; longer advice fails the call instead.
    max_retry_after: float = 2.0
    breaker_threshold: int = 5
    breaker_cooldown: float = 30.0
    #: Most keys one upstream request may carry.
    batch_size: int = 100

    @property
    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout,
            write=self.write_timeout,
            pool=self.pool_timeout,
        )


@dataclass(frozen=True)
class CallRecord:
    """One HTTP exchange, as logged."""

    operation: str
    method: str
    path: str
    status: int | None
    attempt: int
    duration_ms: float


class SessionExpired(Exception):  # noqa: N818 - a signal between two methods, not an error
    """The upstream says the token we sent is no longer valid."""


def chunked(items: list[T], size: int) -> Iterable[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ExternalClient:
    """Base for one external system's client. Subclasses set `service` and the auth hooks."""

    service: ClassVar[str]

    def __init__(
        self,
        config: ClientConfig,
        *,
        http: httpx.AsyncClient,
        breaker: CircuitBreaker | None = None,
        bulkhead: Bulkhead | None = None,
    ) -> None:
        self.config = config
        self.http = http
        self.breaker = breaker or CircuitBreaker(
            threshold=config.breaker_threshold, cooldown=config.breaker_cooldown
        )
        self.bulkhead = bulkhead or Bulkhead(self.service, config.max_connections)

    # -- hooks for subclasses ---------------------------------------------------------------

    async def _auth_headers(self, attempt: int) -> dict[str, str]:
        """Headers that authenticate a request; may log in first (as part of `attempt`)."""
        return {}

    def _is_session_expired(self, response: httpx.Response) -> bool:
        return False

    async def _renew_session(self, rejected: Mapping[str, str]) -> None:
        """Replace the credential in `rejected` unless another coroutine already did."""

    def _error_detail(self, response: httpx.Response) -> str | None:
        """The upstream's own code and message from an error body, if it has a known shape."""
        return None

    def _classify(self, response: httpx.Response, operation: str) -> ExternalServiceError | None:
        """None when the answer is usable; otherwise the error it means."""
        if response.is_success:
            return None
        return from_response(response, self.service, operation, self._error_detail(response))

    def _resolve_url(self, url: str) -> str:
        """The URL to send to, once authenticated (Salesforce learns its host at login)."""
        return url

    def _redactions(self) -> Iterable[str]:
        """Values that must never appear in a logged path (tokens that live in URLs)."""
        return ()

    async def aclose(self) -> None:
        """Release upstream sessions. The shared httpx client is closed by its owner."""

    # -- the one request path ---------------------------------------------------------------

    async def _call(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        parse: Callable[[httpx.Response], T],
        idempotent: bool | None = None,
        authenticated: bool = True,
        **request: Any,
    ) -> T:
        """Send one logical request with retries, auth and logging; return `parse(response)`.

        Raises:
            ExternalServiceError: the subclass matching what went wrong, after retries.
        """
        if not self.breaker.allow():
            raise CircuitOpen(
                self.service,
                operation,
                f"failing fast after {self.breaker.consecutive_failures} consecutive failures; "
                f"retrying after a {self.config.breaker_cooldown:g} s cool-down",
                may_have_reached_server=False,
            )
        idempotent = method.upper() in IDEMPOTENT_METHODS if idempotent is None else idempotent
        deadline = time.monotonic() + self.config.retry_budget
        failures = 0

        def backoff(exc: Exception) -> bool | float:
            nonlocal failures
            failures += 1
            return self._backoff(exc, idempotent=idempotent, deadline=deadline, failures=failures)

        last_failure: ExternalServiceError | None = None
        try:
            async for attempt in stamina.retry_context(
                on=backoff,
                attempts=self.config.max_attempts,
                timeout=self.config.retry_budget,
                wait_initial=self.config.wait_initial,
                wait_max=self.config.wait_max,
                wait_jitter=self.config.wait_jitter,
            ):
                with attempt:
                    if last_failure is not None:
                        self._log_failure(logging.WARNING, last_failure)
                    try:
                        result = await self._attempt(
                            method, url, operation, parse, authenticated, attempt.num, request
                        )
                    except ExternalServiceError as exc:
                        last_failure = exc
                        raise
        except ExternalServiceError as exc:
            self._log_failure(logging.ERROR, exc)
            if exc.upstream_fault:
                self.breaker.record_failure()
            else:
                self.breaker.record_success()  # it answered, just not what we hoped
            self._publish_breaker()
            raise
        except BaseException:
            # Cancelled (a request deadline) or a bug of ours: says nothing about the upstream,
            # but a half-open probe must be handed back or the circuit would never close.
            self.breaker.release()
            raise
        self.breaker.record_success()
        self._publish_breaker()
        return result

    def _publish_breaker(self) -> None:
        BREAKER_OPEN.labels(self.service).set(0 if self.breaker.state is BreakerState.CLOSED else 1)

    def _backoff(
        self, exc: Exception, *, idempotent: bool, deadline: float, failures: int
    ) -> bool | float:
        """stamina's backoff hook: False to stop, or the seconds to wait before the next try."""
        if not isinstance(exc, ExternalServiceError) or not exc.retryable:
            return False
        # The share was full until the work this call serves could wait no longer.
        if isinstance(exc, CapacityExhausted):
            return False
        # A write that may have reached the server is never sent again: it may have been
        # applied, and a second copy could be applied twice (RFC 9110 9.2.2).
        if not idempotent and exc.may_have_reached_server:
            return False
        remaining = deadline - time.monotonic()
        if exc.retry_after is not None:
            wait = min(exc.retry_after, self.config.max_retry_after)
            if exc.retry_after > self.config.max_retry_after:
                return False  # the upstream asked for longer than we can hold a caller
        else:
            exponential = self.config.wait_initial * 2 ** (failures - 1)
            jitter = random.uniform(0, self.config.wait_jitter)  # noqa: S311 - not security
            wait = min(self.config.wait_max, exponential + jitter)
        # Leave time for the next attempt to connect; otherwise fail now rather than late.
        if wait + self.config.connect_timeout / 2 >= remaining:
            return False
        exc.retry_in = wait
        return wait

    async def _attempt(
        self,
        method: str,
        url: str,
        operation: str,
        parse: Callable[[httpx.Response], T],
        authenticated: bool,
        attempt: int,
        request: Mapping[str, Any],
    ) -> T:
        headers = dict(request.get("headers") or {})
        rest = {k: v for k, v in request.items() if k != "headers"}
        auth = await self._auth_headers(attempt) if authenticated else {}
        try:
            return await self._exchange(
                method,
                self._resolve_url(url),
                operation,
                parse,
                attempt,
                {**headers, **auth},
                rest,
                authenticated,
            )
        except SessionExpired:
            await self._renew_session(auth)
        auth = await self._auth_headers(attempt)
        return await self._exchange(
            method,
            self._resolve_url(url),
            operation,
            parse,
            attempt,
            {**headers, **auth},
            rest,
            False,
        )

    async def _exchange(
        self,
        method: str,
        url: str,
        operation: str,
        parse: Callable[[httpx.Response], T],
        attempt: int,
        headers: Mapping[str, str],
        request: Mapping[str, Any],
        detect_expiry: bool,
    ) -> T:
        """One HTTP round trip in one slot of the bulkhead: send, classify, parse; log it
        when it succeeded."""
        started = time.perf_counter()
        try:
            async with self.bulkhead.slot(operation, max_wait=self.config.pool_timeout):
                started = time.perf_counter()
                response = await self.http.request(
                    method,
                    url,
                    headers=headers,
                    timeout=request.get("timeout", self.config.timeout),
                    **{k: v for k, v in request.items() if k != "timeout"},
                )
        except CapacityExhausted as exc:
            exc.call = self._record(operation, method, url, None, attempt, started)
            raise
        except httpx.HTTPError as exc:
            failure = from_exception(exc, self.service, operation)
            failure.call = self._record(operation, method, url, None, attempt, started)
            raise failure from exc
        record = self._record(
            operation, method, str(response.request.url), response.status_code, attempt, started
        )
        if detect_expiry and self._is_session_expired(response):
            self._log(logging.INFO, record, "session_expired")
            raise SessionExpired
        error = self._classify(response, operation)
        if error is None:
            try:
                result = parse(response)
            except ExternalServiceError as exc:
                error = exc
            except SHAPE_ERRORS as exc:
                error = BadResponse(
                    self.service, operation, f"unexpected response shape ({type(exc).__name__})"
                )
                error.__cause__ = exc
        if error is not None:
            error.call = record
            raise error
        self._log(logging.INFO, record, "ok")
        return result

    # -- logging ----------------------------------------------------------------------------

    def _record(
        self,
        operation: str,
        method: str,
        url: str,
        status: int | None,
        attempt: int,
        started: float,
    ) -> CallRecord:
        path = httpx.URL(url).path
        for secret in self._redactions():
            if secret:
                path = path.replace(secret, "***")
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        return CallRecord(operation, method.upper(), path, status, attempt, duration_ms)

    def _log(self, level: int, call: CallRecord, outcome: str, **extra: Any) -> None:
        record_call(
            self.service,
            call.operation,
            outcome.split(":", 1)[0],
            call.duration_ms / 1000,
        )
        logger.log(
            level,
            "%s %s: %s %s -> %s in %.1f ms (attempt %d, %s)",
            self.service,
            call.operation,
            call.method,
            call.path,
            call.status if call.status is not None else "no response",
            call.duration_ms,
            call.attempt,
            outcome,
            extra={
                "service": self.service,
                "operation": call.operation,
                "method": call.method,
                "path": call.path,
                "status": call.status,
                "attempt": call.attempt,
                "duration_ms": call.duration_ms,
                "outcome": outcome,
                **extra,
            },
        )

    def _log_failure(self, level: int, exc: ExternalServiceError) -> None:
        call: CallRecord | None = exc.call
        if call is None:
            return
        outcome = f"{type(exc).__name__}: {exc.detail}"
        if level == logging.WARNING:
            wait = exc.retry_in
            self._log(level, call, f"{outcome}; retried after {wait:.2f} s", retry_in_s=wait)
        else:
            self._log(level, call, outcome)
