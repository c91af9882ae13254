"""The GraphQL endpoint wired to in-process emulators, for tests of the external fields.

Settings point each client at `http://<service>.emulator`, and the shared HTTP pool routes each
host to its emulator app through httpx.ASGITransport: the real clients, loaders and cache run
unchanged, and each emulator counts the calls it received.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.db import connections

import resolvers.upstreams
from emulators.registry import emulator_class
from resolvers.cache import get_cache
from resolvers.upstreams import close_upstreams


def install_emulators(settings: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Point every system's client (settings.EXTERNAL_SYSTEMS) at a fresh in-process emulator
    that accepts the emulator's test credentials; returns the emulators by service."""
    apps = {}
    for name in settings.EXTERNAL_SYSTEMS:
        cls = emulator_class(name)
        key = name.upper()
        client_settings = {
            **getattr(settings, key),
            **cls.test_settings,
            "base_url": f"http://{name}.emulator",
        }
        setattr(settings, key, client_settings)
        apps[name] = cls.for_client(client_settings)
    mounts = {f"http://{name}.emulator": httpx.ASGITransport(app=app) for name, app in apps.items()}
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
        app.reset()  # a hang left on would hold the FileMaker logout below for its duration
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
