"""The GraphQL endpoint wired to in-process emulators, for tests of the external fields.

Settings point each client at `http://<service>.emulator`, and the shared HTTP pool routes each
host to its emulator app through httpx.ASGITransport: the real clients, loaders and cache run
unchanged, and each emulator counts the calls it received.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from sqlalchemy import create_engine, make_url, text

import resolvers.upstreams
from emulators import legacy_permits as legacy
from emulators.base import Emulator
from emulators.registry import emulator_class
from resolvers.cache import get_cache
from resolvers.upstreams import close_upstreams


def install_emulators(settings: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Point every system's client (settings.EXTERNAL_SYSTEMS) at a fresh in-process emulator
    that accepts the emulator's test credentials; returns the emulators by service."""
    apps: dict[str, Any] = {}
    for name in settings.EXTERNAL_SYSTEMS:
        cls = emulator_class(name)
        key = name.upper()
        client_settings = {**getattr(settings, key), **cls.test_settings}
        if isinstance(cls, type) and issubclass(cls, Emulator):
            client_settings["base_url"] = f"http://{name}.emulator"
            apps[name] = cls.for_client(client_settings)
        else:  # a database's stand-in: a seeded SQLite file the client reads
            apps[name] = cls.for_client(client_settings)
            client_settings["url"] = apps[name].url
        setattr(settings, key, client_settings)
    mounts = {
        f"http://{name}.emulator": httpx.ASGITransport(app=app)
        for name, app in apps.items()
        if isinstance(app, Emulator)
    }
    monkeypatch.setattr(
        resolvers.upstreams, "new_pool", lambda **_: httpx.AsyncClient(mounts=mounts)
    )
    return apps


@pytest.fixture
async def emulators(settings, monkeypatch) -> AsyncIterator[dict[str, Any]]:
    apps = install_emulators(settings, monkeypatch)
    await close_upstreams()
    await get_cache().clear()
    yield apps
    for app in apps.values():
        if isinstance(app, Emulator):
            app.clear_faults()  # a hang left on would hold the FileMaker logout below
    await close_upstreams()
    with contextlib.suppress(Exception):  # a test may have pointed the cache at a dead server
        await get_cache().clear()
    # The view's ORM work ran on asgiref's worker thread; close its connection there so the
    # test database can be dropped at the end of the run.
    await sync_to_async(connections.close_all)()


@pytest.fixture
def emulators_sync(settings, monkeypatch) -> Iterator[dict[str, Any]]:
    """The same, for sync tests (management commands run their own event loop)."""
    apps = install_emulators(settings, monkeypatch)
    clear_cache()
    yield apps
    clear_cache()


def clear_cache() -> None:
    """Empty the shared cache from sync code (sync tests, fixtures)."""

    async def clear() -> None:
        await get_cache().clear()

    asyncio.run(clear())


def http_only(emulators: dict[str, Any]) -> dict[str, Emulator]:
    """The emulators that are HTTP apps (a database's stand-in has no faults to set)."""
    return {name: app for name, app in emulators.items() if isinstance(app, Emulator)}


def calls(app: Any, *, data_only: bool = True) -> int:
    """Calls the emulator received, without logins and token fetches when `data_only`."""
    auth = ("sessions", "oauth2/token")
    return sum(
        n for route, n in app.stats()["calls"].items() if not (data_only and route.endswith(auth))
    )


async def graphql_async(client, query: str, variables: dict | None = None) -> dict[str, Any]:
    response = await client.post(
        "/graphql/",
        data=json.dumps({"query": query, "variables": variables or {}}),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content[:300]
    return response.json()


#: An account on a MariaDB server that may create databases and users (CI: root on
#: 127.0.0.1:3306; .ci/run names this variable when the server is not there).
MARIADB_ADMIN_URL = "LEGACY_PERMITS_TEST_ADMIN_URL"
LEGACY_TEST_DATABASE = "legacy_permits_test"
READ_ONLY_USER, READ_ONLY_PASSWORD = "permits_ro", "permits-ro-test-pass"


@dataclass(frozen=True)
class LegacyServer:
    """The legacy permits schema and rows on a real MariaDB, and a read-only user."""

    admin_url: str  # synchronous (PyMySQL), on the test database
    client_url: str  # aiomysql, as the read-only user

    def admin(self) -> Any:
        return create_engine(self.admin_url)

    @contextlib.contextmanager
    def statement_log(self) -> Iterator[Counter[str]]:
        """Count, as the server saw them, the SELECTs the read-only user ran inside the block,
        by the table or view each reads (`{"V_PERMITS": 1, ...}`): MariaDB's general log,
        into its table for the block only, then back as it was."""
        seen: Counter[str] = Counter()
        engine = self.admin()
        with engine.begin() as connection:
            before = connection.execute(text("SELECT @@general_log, @@log_output")).one()
            connection.execute(text("SET GLOBAL log_output = 'TABLE'"))
            connection.execute(text("TRUNCATE TABLE mysql.general_log"))
            connection.execute(text("SET GLOBAL general_log = 1"))
        try:
            yield seen
        finally:
            with engine.begin() as connection:
                connection.execute(text("SET GLOBAL general_log = 0"))
                rows = connection.execute(
                    text(
                        "SELECT argument FROM mysql.general_log "
                        "WHERE command_type = 'Query' AND user_host LIKE :user"
                    ),
                    {"user": f"{READ_ONLY_USER}[%"},
                ).scalars()
                for argument in rows:
                    statement = argument.decode() if isinstance(argument, bytes) else argument
                    read = re.search(r"\bFROM\s+`?(\w+)", statement, re.IGNORECASE)
                    if statement.lstrip().upper().startswith("SELECT") and read:
                        seen[read.group(1)] += 1
                connection.execute(text("TRUNCATE TABLE mysql.general_log"))
                connection.execute(text(f"SET GLOBAL log_output = '{before[1]}'"))
                connection.execute(text(f"SET GLOBAL general_log = {int(before[0])}"))
            engine.dispose()


@pytest.fixture(scope="session")
def legacy_mariadb() -> Iterator[LegacyServer]:
    """A database of our own on the MariaDB server named by LEGACY_PERMITS_TEST_ADMIN_URL,
    seeded with the legacy schema for 200 demo parcels, and a user that may only SELECT from
    its views and the status table. Skips on a developer machine without the variable;
    fails in CI."""
    url = os.environ.get(MARIADB_ADMIN_URL, "").strip()
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs a MariaDB server in {MARIADB_ADMIN_URL}")
        pytest.skip(f"{MARIADB_ADMIN_URL} is not set (a MariaDB account that may create databases)")
    server = make_url(url).set(drivername="mysql+pymysql")
    root = create_engine(server.set(database="mysql"))
    with root.begin() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {LEGACY_TEST_DATABASE}"))
        connection.execute(text(f"CREATE DATABASE {LEGACY_TEST_DATABASE} CHARACTER SET latin1"))
    admin_url = server.set(database=LEGACY_TEST_DATABASE).render_as_string(hide_password=False)
    legacy.seed(admin_url, 200)
    with root.begin() as connection:
        for host in ("localhost", "127.0.0.1", "%"):
            user = f"'{READ_ONLY_USER}'@'{host}'"
            connection.execute(text(f"DROP USER IF EXISTS {user}"))
            connection.execute(text(f"CREATE USER {user} IDENTIFIED BY '{READ_ONLY_PASSWORD}'"))
            for readable in ("V_PERMITS", "V_VIOLATIONS", "PERMIT_STATUS"):
                connection.execute(
                    text(f"GRANT SELECT ON {LEGACY_TEST_DATABASE}.{readable} TO {user}")
                )
    client_url = server.set(
        drivername="mysql+aiomysql",
        username=READ_ONLY_USER,
        password=READ_ONLY_PASSWORD,
        database=LEGACY_TEST_DATABASE,
    ).render_as_string(hide_password=False)
    yield LegacyServer(admin_url, client_url)
    with root.begin() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {LEGACY_TEST_DATABASE}"))
        for host in ("localhost", "127.0.0.1", "%"):
            connection.execute(text(f"DROP USER IF EXISTS '{READ_ONLY_USER}'@'{host}'"))
    root.dispose()
