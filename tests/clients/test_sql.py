"""clients/sql.py: how database failures map onto the one error tree (what retries, what a
caller sees), without a server: the errors are built as the drivers raise them."""

from __future__ import annotations

import pytest
from sqlalchemy import exc

from clients.errors import (
    AuthenticationFailed,
    BadResponse,
    RequestRejected,
    ServiceTimeout,
    ServiceUnavailable,
)
from clients.sql import from_db_error


class DriverError(Exception):
    """What aiomysql raises: the error number first, then the server's message."""


def driver(number: int, wrapper: type[exc.DBAPIError] = exc.OperationalError) -> exc.DBAPIError:
    return wrapper("SELECT secret FROM T WHERE x = 'p4ss'", {}, DriverError(number, "message"))


@pytest.mark.parametrize(
    ("error", "kind", "retryable"),
    [
        (driver(2003), ServiceUnavailable, True),
        (driver(2006), ServiceUnavailable, True),
        (driver(2013), ServiceUnavailable, True),
        (driver(1213), ServiceTimeout, True),
        (driver(1205), ServiceTimeout, True),
        (driver(1969), ServiceTimeout, False),
        (driver(1045), AuthenticationFailed, False),
        (driver(1142, exc.ProgrammingError), RequestRejected, False),
        (driver(1146, exc.ProgrammingError), RequestRejected, False),
        (
            exc.TimeoutError("QueuePool limit of size 5 overflow 0 reached"),
            ServiceUnavailable,
            True,
        ),
        (ConnectionRefusedError(111, "refused"), ServiceUnavailable, True),
        (exc.ResourceClosedError("closed"), BadResponse, False),
    ],
)
def test_database_errors_map_onto_the_error_tree(error, kind, retryable):
    mapped = from_db_error(error, "legacy_permits", "permits_by_parcel")

    assert type(mapped) is kind
    assert mapped.retryable is retryable
    # never the statement, its values or the driver's message
    assert "secret" not in str(mapped)
    assert "p4ss" not in str(mapped)
    assert "message" not in str(mapped)


def test_a_full_engine_pool_never_reached_the_server():
    mapped = from_db_error(exc.TimeoutError("QueuePool limit"), "legacy_permits", "q")

    assert mapped.may_have_reached_server is False
    assert "no free database connection" in str(mapped)
