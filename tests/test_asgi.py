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

from django_project.asgi import build_application

pytestmark = pytest.mark.django_db(transaction=True)


async def test_database_work_runs_on_the_configured_threads_only(settings):
    settings.DATABASE_THREADS = 2
    await sync_to_async(call_command)("seed_demo", count=3, stdout=io.StringIO())
    threads: set[str] = set()

    def record(sender, connection, **kwargs) -> None:
        threads.add(threading.current_thread().name)

    connection_created.connect(record)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=build_application()), base_url="http://testserver"
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
    try:
        sent = await _start_and_stop(build_application())

        assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        if tuning:
            assert gc.get_freeze_count() > 10_000  # the modules, Django, the schema
        else:
            assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
