"""SQL as a transport for external clients (clients/core.py has the policy every client shares).

An external database is reached through SQLAlchemy Core's async engine: aiomysql for MariaDB
and MySQL, aiosqlite for SQLite (the demo's stand-in). The engine's pool is the system's
bulkhead-sized pool (`max_connections`, no overflow); connections are checked before use
(`pool_pre_ping`), so one the server killed is replaced instead of failing a query.

Each query runs as one logical call: under the breaker, retried only when it is a read and the
failure is transient (deadlock 1213, lock wait 1205, server gone away 2006, lost connection
2013, connection refused 2003), within its budget; one slot of the bulkhead while it runs; a
time limit on the server (MariaDB's `max_statement_time`, and `lock_wait_timeout`, per session)
and here (for SQLite, and for a server that does not answer). Every query logs one record with
its name, duration and row count: never its text's bound values, never the credentials.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Executable, exc, make_url
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from clients.bulkhead import CapacityExhausted
from clients.core import SHAPE_ERRORS, CallRecord, CoreConfig, ExternalClient
from clients.errors import (
    AuthenticationFailed,
    BadResponse,
    ExternalServiceError,
    RequestRejected,
    ServiceTimeout,
    ServiceUnavailable,
)

T = TypeVar("T")

#: MariaDB/MySQL error numbers worth telling apart (server errors, then client errors).
DEADLOCK = 1213
LOCK_WAIT_TIMEOUT = 1205
STATEMENT_TIMEOUT = 1969  # max_statement_time exceeded (MariaDB)
ACCESS_DENIED = 1045
COMMAND_DENIED = 1142  # e.g. a write by a read-only user
TABLE_DENIED = 1143
NO_SUCH_TABLE = 1146
CANNOT_CONNECT = 2003
SERVER_GONE = 2006
LOST_CONNECTION = 2013
#: Seconds the client waits past the server's own statement limit before giving up itself.
CLIENT_MARGIN = 1.0


@dataclass(frozen=True, kw_only=True)
class SqlConfig(CoreConfig):
    """What every SQL client takes; each system's config adds its own (table and view names)."""

    #: SQLAlchemy URL: mysql+aiomysql://user:password@host:3306/db or sqlite+aiosqlite:///path
    url: str = field(repr=False)
    #: Seconds a statement may run on the server (and wait for a lock) before it is stopped.
    statement_timeout: float = 2.0
    #: Seconds a pooled connection lives before it is replaced (servers close idle ones).
    pool_recycle: float = 1800.0


@dataclass(frozen=True)
class Query:
    """A named statement: the name is what logs, metrics and errors show."""

    name: str
    statement: Executable
    params: Mapping[str, Any] = field(default_factory=dict)


def error_number(error: BaseException) -> int | None:
    """The server's (or the driver's) error number behind a SQLAlchemy error, if any."""
    original = getattr(error, "orig", None)
    args = getattr(original, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def from_db_error(error: BaseException, service: str, operation: str) -> ExternalServiceError:
    """Map a database error onto the one error tree. Only the error number and class are
    reported: driver messages can carry statement text and values."""
    number = error_number(error)
    kind = type(getattr(error, "orig", None) or error).__name__
    detail = f"database error {number}" if number is not None else f"database error ({kind})"
    if isinstance(error, exc.TimeoutError):  # the engine's own pool had no free connection
        return ServiceUnavailable(
            service, operation, "no free database connection", may_have_reached_server=False
        )
    if number in {CANNOT_CONNECT} or isinstance(error, ConnectionRefusedError | OSError):
        return ServiceUnavailable(service, operation, detail, may_have_reached_server=False)
    if number in {SERVER_GONE, LOST_CONNECTION}:
        return ServiceUnavailable(service, operation, detail)
    if number in {DEADLOCK, LOCK_WAIT_TIMEOUT}:
        return ServiceTimeout(service, operation, detail)
    if number == STATEMENT_TIMEOUT:
        # The same statement would run as long again: report, do not retry.
        return ServiceTimeout(service, operation, detail, retryable=False)
    if number == ACCESS_DENIED:
        return AuthenticationFailed(service, operation, detail)
    if number in {COMMAND_DENIED, TABLE_DENIED, NO_SUCH_TABLE}:
        return RequestRejected(service, operation, detail)
    if isinstance(error, exc.OperationalError | exc.InterfaceError):
        return ServiceUnavailable(service, operation, detail)
    if isinstance(error, exc.DBAPIError):
        return RequestRejected(service, operation, detail)
    return BadResponse(service, operation, detail)


class SqlClient(ExternalClient[None]):
    """Base for one external database's client. Subclasses set `service` and run queries."""

    config: SqlConfig

    def __init__(self, config: SqlConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._engine: AsyncEngine | None = None
        #: Statements run, by query name: what tests count, besides the server's own log.
        self.statements: dict[str, int] = {}

    @property
    def engine(self) -> AsyncEngine:
        """The pool, made on first use (it belongs to the event loop that opens it)."""
        if self._engine is None:
            self._engine = create_engine(self.config)
        return self._engine

    async def close_pool(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def _credential(self, attempt: int) -> None:
        return None

    # -- the one query path -----------------------------------------------------------------

    async def _query(self, query: Query, *, parse: Callable[[Sequence[Row[Any]]], T]) -> T:
        """Run one read with retries, a time limit and logging; return `parse(rows)`.

        Raises:
            ExternalServiceError: what went wrong, after retries.
        """

        async def attempt(number: int) -> T:
            return await self._execute(query, parse=parse, attempt=number)

        return await self._run(query.name, attempt, idempotent=True)

    async def _execute(
        self, query: Query, *, parse: Callable[[Sequence[Row[Any]]], T], attempt: int
    ) -> T:
        started = time.perf_counter()
        rows: Sequence[Row[Any]] = ()
        try:
            async with self.bulkhead.slot(query.name, max_wait=self.config.pool_timeout):
                started = time.perf_counter()
                async with asyncio.timeout(self.config.statement_timeout + CLIENT_MARGIN):
                    async with self.engine.connect() as connection:
                        result = await connection.execute(query.statement, dict(query.params))
                        rows = result.fetchall()
        except CapacityExhausted as error:
            error.call = self._sql_record(query, None, attempt, started)
            raise
        except TimeoutError as error:
            failure: ExternalServiceError = ServiceTimeout(
                self.service, query.name, "the statement ran past its time limit"
            )
            failure.call = self._sql_record(query, None, attempt, started)
            raise failure from error
        except (exc.SQLAlchemyError, OSError) as error:
            failure = from_db_error(error, self.service, query.name)
            failure.call = self._sql_record(query, None, attempt, started)
            raise failure from error
        finally:
            self.statements[query.name] = self.statements.get(query.name, 0) + 1
        record = self._sql_record(query, len(rows), attempt, started)
        try:
            result_value = parse(rows)
        except ExternalServiceError as error:
            error.call = record
            raise
        except SHAPE_ERRORS as error:
            failure = BadResponse(
                self.service, query.name, f"unexpected row shape ({type(error).__name__})"
            )
            failure.call = record
            raise failure from error
        self._log(logging.INFO, record, "ok")
        return result_value

    def _sql_record(
        self, query: Query, rows: int | None, attempt: int, started: float
    ) -> CallRecord:
        shown = f"{rows} rows" if rows is not None else "no result"
        return self._record(query.name, attempt, started, shown, query=query.name, rows=rows)


def create_engine(config: SqlConfig) -> AsyncEngine:
    """An engine whose pool is the bulkhead's size, with time limits on connect, statements
    and lock waits (MariaDB), and connections checked before use."""
    url = make_url(config.url)
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() in {"mysql", "mariadb"}:
        seconds = config.statement_timeout
        connect_args = {
            "connect_timeout": max(1, round(config.connect_timeout)),
            "init_command": (
                f"SET SESSION max_statement_time = {seconds:g}, "
                f"SESSION lock_wait_timeout = {max(1, round(seconds))}, "
                "SESSION tx_read_only = ON"
            ),
            "charset": "utf8mb4",
        }
    elif url.get_backend_name() == "sqlite":
        connect_args = {"timeout": config.statement_timeout}
    return create_async_engine(
        url,
        pool_size=config.max_connections,
        max_overflow=0,
        pool_timeout=config.pool_timeout,
        pool_recycle=config.pool_recycle,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


__all__ = ["Query", "SqlClient", "SqlConfig", "create_engine", "error_number", "from_db_error"]
