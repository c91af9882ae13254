"""ExternalServiceError -> GraphQLError, in one place, with one documented set of codes.

| code                            | when                                                     |
|---------------------------------|----------------------------------------------------------|
| EXTERNAL_SERVICE_UNAVAILABLE    | the system is down, erroring, or its circuit is open     |
| EXTERNAL_SERVICE_TIMEOUT        | it did not answer in time, or the request's budget ran out |
| EXTERNAL_SERVICE_RATE_LIMITED   | it is throttling us or our quota is spent                |
| EXTERNAL_SERVICE_BAD_RESPONSE   | it answered something we could not read                 |
| EXTERNAL_SERVICE_AUTH_FAILED    | it refused our credentials (an administrator must act)   |
| EXTERNAL_SERVICE_CONFLICT       | a write lost an optimistic lock: reload and try again    |
| EXTERNAL_SERVICE_REJECTED       | it refused our request as invalid                        |
| NOT_FOUND                       | the record a write targets does not exist there          |

Every entry carries `extensions.service` (the stable name) and `extensions.retryable`.
"""

from __future__ import annotations

from graphql import GraphQLError

from clients.errors import (
    AuthenticationFailed,
    BadResponse,
    Conflict,
    ExternalServiceError,
    NotFound,
    RateLimited,
    ServiceTimeout,
    ServiceUnavailable,
)

UNAVAILABLE = "EXTERNAL_SERVICE_UNAVAILABLE"
TIMEOUT = "EXTERNAL_SERVICE_TIMEOUT"
RATE_LIMITED = "EXTERNAL_SERVICE_RATE_LIMITED"
BAD_RESPONSE = "EXTERNAL_SERVICE_BAD_RESPONSE"
AUTH_FAILED = "EXTERNAL_SERVICE_AUTH_FAILED"
CONFLICT = "EXTERNAL_SERVICE_CONFLICT"
REJECTED = "EXTERNAL_SERVICE_REJECTED"
NOT_FOUND = "NOT_FOUND"


def display_name(service: str) -> str:
    """The system's name as people read it, from its integration (resolvers/registry.py)."""
    from resolvers.registry import integration  # the registry imports every loader, and them us

    found = integration(service)
    return found.display_name if found is not None else service


def coded(message: str, code: str, service: str, *, retryable: bool) -> GraphQLError:
    return GraphQLError(
        message, extensions={"code": code, "service": service, "retryable": retryable}
    )


#: Most specific first: (error class, code, message after the system's name).
MAPPING: tuple[tuple[type[ExternalServiceError], str, str], ...] = (
    (ServiceTimeout, TIMEOUT, "did not answer in time; try again shortly."),
    (RateLimited, RATE_LIMITED, "is limiting our requests; try again {when}."),
    (ServiceUnavailable, UNAVAILABLE, "is unavailable; try again shortly."),
    (BadResponse, BAD_RESPONSE, "sent an answer we could not read; this has been logged."),
    (
        AuthenticationFailed,
        AUTH_FAILED,
        "refused our credentials; an administrator needs to update them.",
    ),
    (Conflict, CONFLICT, "has a newer version of this record; reload it and try again."),
    (NotFound, NOT_FOUND, "has no such record."),
)


def graphql_error(exc: ExternalServiceError) -> GraphQLError:
    """The error a client of our API sees: what happened and what they can do about it."""
    code, template = REJECTED, "refused the request."
    for error_class, error_code, error_template in MAPPING:
        if isinstance(exc, error_class):
            code, template = error_code, error_template
            break
    when = f"in {exc.retry_after:.0f} s" if exc.retry_after else "later"
    message = f"{display_name(exc.service)} {template.format(when=when)}"
    return coded(message, code, exc.service, retryable=exc.retryable)


def deadline_error(service: str, budget: float) -> GraphQLError:
    return coded(
        f"{display_name(service)} did not answer within this request's {budget:g} s budget; "
        "try again shortly.",
        TIMEOUT,
        service,
        retryable=True,
    )
