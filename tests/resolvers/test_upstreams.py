"""The client factory: one client per system per event loop, each with its own pool, closed at
shutdown."""

from __future__ import annotations

import asyncio

import respx

from clients.http import HttpClient
from clients.sql import SqlClient
from django_project.asgi import application
from resolvers.upstreams import close_upstreams, get_upstreams


async def test_one_client_per_system_each_with_its_own_pool(settings):
    settings.FILEMAKER = {**settings.FILEMAKER, "database": "Real Estate", "username": "api"}
    settings.TAX_ASSESSOR = {**settings.TAX_ASSESSOR, "read_timeout": 0.75}
    settings.GEOCODER = {**settings.GEOCODER, "max_connections": 3}
    settings.LEGACY_PERMITS = {**settings.LEGACY_PERMITS, "max_connections": 2}

    upstreams = get_upstreams()
    permits = upstreams["legacy_permits"]
    assert isinstance(permits, SqlClient)
    engine = permits.engine  # opened on first use
    try:
        assert set(upstreams.clients) == set(settings.EXTERNAL_SYSTEMS)
        assert get_upstreams() is upstreams
        http_clients = [c for c in upstreams.clients.values() if isinstance(c, HttpClient)]
        assert len({id(client.http) for client in http_clients}) == len(http_clients) == 4
        geocoder = upstreams["geocoder"]
        assert geocoder.bulkhead.limit == 3
        assert geocoder.http._transport._pool._max_connections == 3
        assert permits.bulkhead.limit == engine.pool.size() == 2
        assert upstreams["filemaker"].config.database == "Real Estate"
        assert upstreams["tax_assessor"].config.timeout.read == 0.75
        assert {name: c.service for name, c in upstreams.clients.items()} == {
            name: name for name in upstreams.clients
        }
    finally:
        await close_upstreams()

    assert all(
        client.http.is_closed
        for client in upstreams.clients.values()
        if isinstance(client, HttpClient)
    )
    assert permits._engine is None  # disposed: its connections closed
    fresh = get_upstreams()
    assert fresh is not upstreams
    await close_upstreams()


def test_each_event_loop_gets_its_own_clients():
    async def build():
        upstreams = get_upstreams()
        await close_upstreams()
        return upstreams

    first = asyncio.run(build())
    second = asyncio.run(build())

    assert first is not second
    assert first["geocoder"].http is not second["geocoder"].http


async def test_asgi_shutdown_logs_out_and_closes_the_pool(settings):
    upstreams = get_upstreams()
    filemaker = upstreams["filemaker"]
    filemaker._token = "live-session-token"
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message["type"])

    with respx.mock(assert_all_called=True) as router:
        logout = router.delete(url__regex=r".*/sessions/live-session-token$").respond(
            200, json={"response": {}, "messages": [{"code": "0", "message": "OK"}]}
        )
        await application({"type": "lifespan"}, receive, send)

    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert logout.call_count == 1
    assert all(
        client.http.is_closed
        for client in upstreams.clients.values()
        if isinstance(client, HttpClient)
    )
