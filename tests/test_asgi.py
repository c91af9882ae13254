"""The ASGI application: database work on a few long-lived threads, middleware on the loop."""

from __future__ import annotations

import asyncio
import io
import threading

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db.backends.signals import connection_created

from django_project.asgi import YOUNG_THRESHOLD, build_application

pytestmark = pytest.mark.django_db(transaction=True)


async def test_database_work_runs_on_the_configured_threads_only(settings):
    settings.DATABASE_THREADS = 2
    await sync_to_async(call_command)("seed_demo", count=3, stdout=io.StringIO())
    threads: set[str] = set()

    def record(sender, connection, **kwargs) -> None:
        threads.add(threading.current_thread().name)

    connection_created.connect(record)
    application = build_application()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as http:
            responses = await asyncio.gather(
                *(
                    http.post(
                        "/graphql/",
                        json={"query": "{ properties { totalCount results { id city } } }"},
                    )
                    for _ in range(20)
                )
            )
    finally:
        connection_created.disconnect(record)
        await application.close_database()  # what the lifespan shutdown does

    assert {r.status_code for r in responses} == {200}
    assert all(r.json()["data"]["properties"]["totalCount"] == 3 for r in responses)
    # every connection was opened on one of the two database threads, none per request
    assert threads
    assert threads <= {"database-0_0", "database-1_0"}


async def test_a_session_login_is_saved_through_the_inline_middleware(async_client):
    await sync_to_async(User.objects.create_superuser)("alice", "a@example.com", "pw-123456789")

    page = await async_client.get("/admin/login/")
    csrf = page.cookies["csrftoken"].value
    login = await async_client.post(
        "/admin/login/",
        {"username": "alice", "password": "pw-123456789", "csrfmiddlewaretoken": csrf},
    )
    index = await async_client.get("/admin/")

    assert login.status_code == 302
    assert "sessionid" in login.cookies
    assert index.status_code == 200
    assert b"alice" in index.content
    assert index.headers["X-Frame-Options"] == "DENY"


async def _start_and_stop(application) -> list[str]:
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message["type"])

    await application({"type": "lifespan"}, receive, send)
    return sent


@pytest.mark.parametrize("tuning", [True, False])
async def test_startup_takes_what_lives_as_long_as_the_worker_out_of_the_collectors_sight(
    settings, tuning
):
    import gc

    settings.PYTHON_GC_TUNING = tuning
    assert gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    try:
        sent = await _start_and_stop(build_application())

        assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        if tuning:
            assert gc.get_freeze_count() > 10_000  # the modules, Django, the schema
            assert gc.get_threshold() == (YOUNG_THRESHOLD, *thresholds[1:])
        else:
            assert gc.get_freeze_count() == 0
            assert gc.get_threshold() == thresholds
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


async def _request(application, *, disconnect: asyncio.Event) -> list[dict]:
    """One GET of /healthz as uvicorn runs it: the body, then `http.disconnect` once the
    response is sent (or once `disconnect` is set: the client went away)."""
    sent: list[dict] = []
    body_given = False

    async def receive():
        nonlocal body_given
        if not body_given:
            body_given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await disconnect.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            disconnect.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/healthz",
        "raw_path": b"/healthz",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    await application(scope, receive, send)
    return sent


async def test_a_finished_request_leaves_no_reference_cycle_behind():
    """Its response goes when it ends, not at the collector's next pass
    (django_project/asgi.py DjangoHandler)."""
    import gc

    application = build_application()
    await _request(application, disconnect=asyncio.Event())  # first-request setup
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        sent = await _request(application, disconnect=asyncio.Event())
        gc.collect()
        left = {type(o).__name__ for o in gc.garbage}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()

    assert sent[0]["status"] == 200
    # (the request itself is in Django's own cycles: the messages storage, the lazy user)
    assert not left & {"JsonResponse", "HttpResponse", "RequestAborted", "frame", "Task"}


async def test_a_client_that_goes_away_still_cancels_its_request():
    from django_project.asgi import DjangoHandler

    handler = DjangoHandler()
    started, cancelled, disconnect = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def slow(request):
        started.set()
        try:
            await asyncio.Event().wait()  # never set: only a cancellation ends it
        except asyncio.CancelledError:
            cancelled.set()
            raise

    handler.run_get_response = slow  # the view's work, never finishing by itself
    request = asyncio.ensure_future(_request(handler, disconnect=disconnect))
    await asyncio.wait_for(started.wait(), 10)
    disconnect.set()
    sent = await asyncio.wait_for(request, 10)

    assert cancelled.is_set()
    assert sent == []


async def test_the_lifespan_shutdown_closes_the_database_threads_connections(monkeypatch):
    """With persistent connections (DATABASE_CONN_MAX_AGE, as production sets it) each
    database thread keeps its connection between requests; a stopping worker closes them."""
    from django.db import connections

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 60)
    await sync_to_async(call_command)("seed_demo", count=2, stdout=io.StringIO())
    opened: list = []
    closed: list = []

    def record(sender, connection, **kwargs) -> None:
        if threading.current_thread().name.startswith("database-"):
            opened.append(connection)
            closing = connection.close  # SQLite's in-memory test database ignores a close

            def close() -> None:
                closed.append(connection)
                closing()

            connection.close = close

    application = build_application()
    stop = asyncio.Event()
    sent: list[str] = []

    async def receive():
        if not sent:
            return {"type": "lifespan.startup"}
        await stop.wait()
        return {"type": "lifespan.shutdown"}

    async def send(message):
        sent.append(message["type"])

    lifespan = asyncio.create_task(application({"type": "lifespan"}, receive, send))
    connection_created.connect(record)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://testserver"
        ) as http:
            query = {"query": "{ properties { totalCount } }"}
            answers = [await http.post("/graphql/", json=query) for _ in range(2)]
    finally:
        connection_created.disconnect(record)
        stop.set()
        await asyncio.wait_for(lifespan, timeout=30)

    assert [a.json()["data"]["properties"]["totalCount"] for a in answers] == [2, 2]
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert opened  # kept open between the requests, then closed at the shutdown
    assert closed == opened
    if opened[0].vendor != "sqlite":  # its in-memory test database stays open by design
        assert all(connection.connection is None for connection in opened)
