"""What every external client shares, whatever its transport (HTTP, SQL, ...).

A client method runs one logical operation through `ExternalClient._run`, which owns the
policy, defined once for every system:

- the circuit breaker decides whether to try at all (CircuitOpen, no traffic, when open);
- stamina runs the attempts; our backoff hook decides whether and how long to wait:
  only retryable errors, never a write that may have reached the server, Retry-After honoured
  but capped, and no wait that would overrun the call's time budget;
- `_authenticated` gives an attempt its credential; when the upstream says the credential
  expired (the transport raises SessionExpired), it is renewed (single-flight across
  coroutines) and the attempt resent once;
- every exchange with the upstream produces exactly one log record and one metric sample:
  INFO when it succeeded (or was a handled session expiry), WARNING when it failed and will be
  retried, ERROR when it failed for good. Records carry `service, operation, attempt,
  duration_ms, outcome` plus what the transport describes the exchange with (HTTP: `method,
  path, status`; SQL: `query, rows`), never a credential, a bound value or a body.

Each exchange also holds one slot of the system's bulkhead (clients/bulkhead.py); the
transport acquires it around the wire, so waiting for it is never counted as the exchange.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

import stamina
from opentelemetry.trace import StatusCode

from clients.breaker import BreakerState, CircuitBreaker
from clients.bulkhead import Bulkhead, CapacityExhausted
from clients.errors import CircuitOpen, ExternalServiceError
from clients.metrics import BREAKER_OPEN, record_call
from clients.telemetry import tracer, tracing_on

#: The logger every client's call records go to. Its name predates the split of the HTTP
#: transport from this core; log pipelines filter on it, so it stays.
logger = logging.getLogger("clients.base")

T = TypeVar("T")
C = TypeVar("C")

#: Exceptions a parser raises on a payload of the wrong shape.
SHAPE_ERRORS = (ValueError, KeyError, TypeError, IndexError, AttributeError)


@dataclass(frozen=True, kw_only=True)
class CoreConfig:
    """Settings every client takes whatever its transport; each transport and system adds
    its own (URL, credentials, limits)."""

    connect_timeout: float = 2.0
    read_timeout: float = 5.0
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
    #: Longest wait for a free slot of this system's share of connections (its bulkhead).
    pool_timeout: float = 2.0
    #: Calls to this system in flight at once, per process: its own connection pool, so a
    #: hanging system cannot take the connections the others need.
    max_connections: int = 20

    @property
    def keys_per_call(self) -> int:
        """Most keys one upstream request carries: what batching and the cost limit count.
        A system whose requests are bounded by something else (a URI length) says so."""
        return self.batch_size


@dataclass(frozen=True)
class CallRecord:
    """One exchange with the upstream, as logged: the common fields, what the transport says
    about it (`fields`, logged as they are) and the one-line `summary` of it."""

    operation: str
    attempt: int
    duration_ms: float
    summary: str
    fields: Mapping[str, Any] = field(default_factory=dict)


class SessionExpired(Exception):  # noqa: N818 - a signal between two methods, not an error
    """The upstream says the credential we sent is no longer valid."""


def chunked(items: list[T], size: int) -> Iterable[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ExternalClient(Generic[C]):
    """Base for one external system's client, whatever its transport. Subclasses set
    `service`; transports implement the exchange and may add credentials (`_credential`)."""

    service: ClassVar[str]

    def __init__(
        self,
        config: CoreConfig,
        *,
        breaker: CircuitBreaker | None = None,
        bulkhead: Bulkhead | None = None,
    ) -> None:
        self.config = config
        self.breaker = breaker or CircuitBreaker(
            threshold=config.breaker_threshold, cooldown=config.breaker_cooldown
        )
        self.bulkhead = bulkhead or Bulkhead(self.service, config.max_connections)

    @property
    def keys_per_call(self) -> int:
        return self.config.keys_per_call

    async def aclose(self) -> None:
        """Release upstream sessions (log out); the pool stays open."""

    async def close_pool(self) -> None:
        """Close this client's own connection pool (after `aclose`)."""

    # -- credentials ------------------------------------------------------------------------

    async def _credential(self, attempt: int) -> C:
        """What authenticates an exchange; may log in first (as part of `attempt`)."""
        raise NotImplementedError

    async def _renew_session(self, rejected: C) -> None:
        """Replace the credential `rejected` unless another coroutine already did."""

    async def _authenticated(self, attempt: int, send: Callable[[C, bool], Awaitable[T]]) -> T:
        """`send(credential, detect_expiry)`; when it raises SessionExpired, renew the
        credential once and send again (without detecting expiry a second time)."""
        credential = await self._credential(attempt)
        try:
            return await send(credential, True)
        except SessionExpired:
            await self._renew_session(credential)
        return await send(await self._credential(attempt), False)

    # -- the one call path ------------------------------------------------------------------

    async def _run(
        self, operation: str, attempt: Callable[[int], Awaitable[T]], *, idempotent: bool
    ) -> T:
        """Run `attempt(number)` under the breaker and the retry policy; return its result.
        When tracing is on, the call is one span (`<service> <operation>`, the transport's
        own spans under it) saying how many attempts it took and how it ended.

        Raises:
            ExternalServiceError: the subclass matching what went wrong, after retries.
        """
        if not tracing_on():
            return await self._with_retries(operation, attempt, idempotent=idempotent)
        attempts = 0

        async def counted(number: int) -> T:
            nonlocal attempts
            attempts = number
            return await attempt(number)

        with tracer(__name__).start_as_current_span(
            f"{self.service} {operation}",
            attributes={"upstream.system": self.service, "upstream.operation": operation},
            # our own status and outcome: an exception event would carry its traceback
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            outcome = "ok"
            try:
                return await self._with_retries(operation, counted, idempotent=idempotent)
            except ExternalServiceError as exc:
                outcome = type(exc).__name__
                span.set_status(StatusCode.ERROR, f"{outcome}: {exc.detail}")
                raise
            except BaseException as exc:
                outcome = type(exc).__name__  # CancelledError: the request's deadline
                raise
            finally:
                span.set_attributes(
                    {
                        "upstream.outcome": outcome,
                        "upstream.attempts": attempts,
                        "upstream.retries": max(0, attempts - 1),
                    }
                )

    async def _with_retries(
        self, operation: str, attempt: Callable[[int], Awaitable[T]], *, idempotent: bool
    ) -> T:
        if not self.breaker.allow():
            raise CircuitOpen(
                self.service,
                operation,
                f"failing fast after {self.breaker.consecutive_failures} consecutive failures; "
                f"retrying after a {self.config.breaker_cooldown:g} s cool-down",
                may_have_reached_server=False,
            )
        deadline = time.monotonic() + self.config.retry_budget
        failures = 0

        def backoff(exc: Exception) -> bool | float:
            nonlocal failures
            failures += 1
            return self._backoff(exc, idempotent=idempotent, deadline=deadline, failures=failures)

        last_failure: ExternalServiceError | None = None
        try:
            async for retry in stamina.retry_context(
                on=backoff,
                attempts=self.config.max_attempts,
                timeout=self.config.retry_budget,
                wait_initial=self.config.wait_initial,
                wait_max=self.config.wait_max,
                wait_jitter=self.config.wait_jitter,
            ):
                with retry:
                    if last_failure is not None:
                        self._log_failure(logging.WARNING, last_failure)
                    try:
                        result = await attempt(retry.num)
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

    # -- the exchange's slot and its one log record -----------------------------------------

    def _record(
        self, operation: str, attempt: int, started: float, summary: str, **fields: Any
    ) -> CallRecord:
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        return CallRecord(operation, attempt, duration_ms, summary, fields)

    def _log(self, level: int, call: CallRecord, outcome: str, **extra: Any) -> None:
        record_call(
            self.service,
            call.operation,
            outcome.split(":", 1)[0],
            call.duration_ms / 1000,
        )
        logger.log(
            level,
            "%s %s: %s in %.1f ms (attempt %d, %s)",
            self.service,
            call.operation,
            call.summary,
            call.duration_ms,
            call.attempt,
            outcome,
            extra={
                "service": self.service,
                "operation": call.operation,
                **call.fields,
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


__all__ = [
    "SHAPE_ERRORS",
    "CallRecord",
    "CoreConfig",
    "ExternalClient",
    "SessionExpired",
    "chunked",
]
