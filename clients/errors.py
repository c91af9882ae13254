"""The one error tree for every external system, and the one place statuses map onto it.

Every error carries `retry_after`: the seconds a 429 or 503 asked us to wait, else None.

    ExternalServiceError            service, operation, retryable, status, may_have_reached_server
     ├── ServiceUnavailable         connection refused/reset, 5xx (retryable: 502/503/504 and
 │    │                         transport failures), and
 │    └── CircuitOpen            failing fast while the breaker cools down
     ├── ServiceTimeout             connect/read/write/pool timeout                    (retryable)
     ├── RateLimited                429 or a quota answer (retryable
     │                              unless the quota is exhausted for the day)
     ├── AuthenticationFailed       credentials refused (401 at login, 403 on a token)
     ├── BadResponse                the upstream answered something we cannot parse
     ├── NotFound                   the record does not exist (404, FileMaker 101)
     ├── Conflict                   optimistic lock lost (409/412, FileMaker 306)
     └── RequestRejected            the upstream refused our request (other 4xx): a bug on our side

Messages name the service, the operation and what happened; they never contain a URL query
string, a credential, a token or a request body. Upstream error text is included only after
the client has extracted it from a known field (a code and its message).
"""

from __future__ import annotations

import email.utils
import math
from datetime import UTC, datetime
from typing import Any

import httpx


class ExternalServiceError(Exception):
    """An external system did not give us what we asked for."""

    #: Whether the same request may succeed if tried again later.
    retryable: bool = False
    #: Whether this failure says the upstream is unhealthy (counts towards the circuit breaker).
    upstream_fault: bool = False
    #: The exchange that failed (a clients.core.CallRecord), kept for the one log record.
    call: Any = None
    #: Seconds our backoff chose to wait before the next attempt, when one follows.
    retry_in: float = 0.0

    def __init__(
        self,
        service: str,
        operation: str,
        detail: str,
        *,
        status: int | None = None,
        may_have_reached_server: bool = True,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{service} {operation}: {detail}")
        #: Seconds the upstream asked us to wait (Retry-After), when it said.
        self.retry_after = retry_after
        if retryable is not None:
            self.retryable = retryable
        self.service = service
        self.operation = operation
        self.detail = detail
        self.status = status
        #: False only when the request provably never left this process (connection refused,
        #: pool timeout, circuit open): the one case where even a write may be sent again.
        self.may_have_reached_server = may_have_reached_server


class ServiceUnavailable(ExternalServiceError):
    retryable = True
    upstream_fault = True


class CircuitOpen(ServiceUnavailable):
    """Failing fast: the circuit breaker saw too many failures and is cooling down."""

    upstream_fault = False


class ServiceTimeout(ExternalServiceError):
    retryable = True
    upstream_fault = True


class RateLimited(ExternalServiceError):
    retryable = True
    upstream_fault = True

    def __init__(
        self,
        service: str,
        operation: str,
        detail: str,
        *,
        retry_after: float | None = None,
        retryable: bool = True,
        status: int | None = None,
    ) -> None:
        super().__init__(
            service, operation, detail, status=status, retryable=retryable, retry_after=retry_after
        )


class AuthenticationFailed(ExternalServiceError):
    pass


class BadResponse(ExternalServiceError):
    pass


class NotFound(ExternalServiceError):
    pass


class Conflict(ExternalServiceError):
    pass


class RequestRejected(ExternalServiceError):
    pass


TRANSIENT_STATUSES = frozenset({502, 503, 504})


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date (RFC 9110).

    A date in the past means 0; anything unparsable means "no advice" (None).
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    delay = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, delay) if math.isfinite(delay) else None


def from_exception(exc: httpx.HTTPError, service: str, operation: str) -> ExternalServiceError:
    """Map a transport failure. Only the exception class is reported, never its text."""
    name = type(exc).__name__
    if isinstance(exc, httpx.PoolTimeout):
        return ServiceTimeout(
            service, operation, "no free connection in the pool", may_have_reached_server=False
        )
    if isinstance(exc, httpx.ConnectTimeout):
        return ServiceTimeout(
            service, operation, "timed out connecting", may_have_reached_server=False
        )
    if isinstance(exc, httpx.TimeoutException):
        return ServiceTimeout(service, operation, f"timed out waiting for the answer ({name})")
    if isinstance(exc, httpx.ConnectError):
        return ServiceUnavailable(
            service, operation, "could not connect", may_have_reached_server=False
        )
    if isinstance(exc, httpx.TransportError):
        return ServiceUnavailable(service, operation, f"connection failed ({name})")
    return BadResponse(service, operation, f"unusable answer ({name})")


def from_response(
    response: httpx.Response, service: str, operation: str, detail: str | None = None
) -> ExternalServiceError:
    """Map an HTTP error status; `detail` is what the client read from the error body."""
    status = response.status_code
    what = detail or f"HTTP {status}"
    if status == 429:
        return RateLimited(
            service,
            operation,
            what,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            status=status,
        )
    if status >= 500:
        # 502/503/504 are the gateway's "try again"; a plain 500 is a server bug that a retry
        # within the same second rarely fixes, so it fails at once (still "unavailable").
        return ServiceUnavailable(
            service,
            operation,
            what,
            status=status,
            retryable=status in TRANSIENT_STATUSES,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status == 401:
        return AuthenticationFailed(service, operation, what, status=status)
    if status == 404:
        return NotFound(service, operation, what, status=status)
    if status in {409, 412}:
        return Conflict(service, operation, what, status=status)
    if 400 <= status < 500:
        return RequestRejected(service, operation, what, status=status)
    return BadResponse(service, operation, f"unexpected HTTP {status}", status=status)
