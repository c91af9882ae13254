"""Admission control: a saturated or full worker refuses GraphQL requests at once with 503."""

from __future__ import annotations

import asyncio
import io
import time

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from prometheus_client import REGISTRY

from django_project.admission import HEARTBEAT, LATE_BEATS, loop_state
from django_project.asgi import build_application

pytestmark = pytest.mark.django_db(transaction=True)

QUERY = "{ properties(pagination: {limit: 1}) { results { id taxAssessment { taxYear } } } }"


def refusals(code: str) -> float:
    return REGISTRY.get_sample_value("graphql_http_refusals_total", {"code": code}) or 0.0


@pytest.fixture
async def http():
    application = build_application()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url="http://testserver"
    ) as client:
        yield client
    # the held requests are cancelled mid-way and never close their database connections
    await application.close_database()


async def post(http: httpx.AsyncClient) -> httpx.Response:
    return await http.post("/graphql/", json={"query": "{ __typename }"})


def block_the_loop(times: int) -> None:
    """Hold the event loop for 150 ms, `times` times, letting a heartbeat run in between."""
    loop = asyncio.get_running_loop()

    def block(left: int) -> None:
        time.sleep(0.15)
        if left > 1:
            loop.call_later(HEARTBEAT / 2, block, left - 1)

    block(times)


async def hold_requests(http, emulators, n: int) -> list[asyncio.Task[httpx.Response]]:
    """`n` requests in progress, waiting on a hanging system (no CPU spent meanwhile)."""
    await sync_to_async(call_command)("seed_demo", count=1, stdout=io.StringIO())
    emulators["tax_assessor"].set_faults(hang=True, hang_seconds=60)
    held = [asyncio.create_task(http.post("/graphql/", json={"query": QUERY})) for _ in range(n)]
    for _ in range(2000):
        await asyncio.sleep(0)
        if loop_state().in_flight == n:
            break
    assert loop_state().in_flight == n
    return held


async def release(held: list[asyncio.Task[httpx.Response]]) -> None:
    for task in held:
        task.cancel()
    await asyncio.gather(*held, return_exceptions=True)


async def test_a_saturated_event_loop_refuses_new_requests_until_it_recovers(
    http, emulators, settings, monkeypatch
):
    settings.GRAPHQL_MAX_LOOP_LAG_MS = 100
    settings.GRAPHQL_EXTERNAL_BUDGET = 30
    monkeypatch.setattr("django_project.admission.LINGER", 60.0)
    assert (await post(http)).status_code == 200  # starts this loop's heartbeat
    held = await hold_requests(http, emulators, 1)
    before = refusals("SERVER_BUSY")

    # when: with a request in progress, the loop is blocked for longer than the limit
    # between every two heartbeats
    block_the_loop(LATE_BEATS + 1)
    for _ in range(200):
        await asyncio.sleep(HEARTBEAT)
        if loop_state().saturated():
            break
    busy = await post(http)

    # then: refused at once, with a coded JSON body and advice on when to come back
    assert busy.status_code == 503
    assert busy.headers["Retry-After"] == "1"
    assert busy.headers["Content-Type"].startswith("application/json")
    assert busy.json()["errors"][0]["extensions"] == {"code": "SERVER_BUSY"}
    assert refusals("SERVER_BUSY") == before + 1
    readyz = (await http.get("/readyz")).json()["admission"]
    assert readyz["saturated"] is True
    assert readyz["loopLagMs"] >= 100

    # when the blocking stops, a few heartbeats later requests are admitted again
    for _ in range(200):
        await asyncio.sleep(HEARTBEAT)
        if not loop_state().saturated():
            break
    assert (await post(http)).status_code == 200
    await release(held)


async def test_a_request_arriving_when_none_is_in_progress_is_admitted_however_late_the_loop_ran(
    http, settings, monkeypatch
):
    # one client's heavy request lagged the loop, and ended; its next request follows at once
    settings.GRAPHQL_MAX_LOOP_LAG_MS = 100
    monkeypatch.setattr("django_project.admission.LINGER", 60.0)
    assert (await post(http)).status_code == 200  # starts this loop's heartbeat
    block_the_loop(LATE_BEATS + 1)
    for _ in range(200):
        await asyncio.sleep(HEARTBEAT)
        if loop_state().lag * 1000 > settings.GRAPHQL_MAX_LOOP_LAG_MS:
            break
    assert loop_state().lag * 1000 > settings.GRAPHQL_MAX_LOOP_LAG_MS
    assert loop_state().in_flight == 0

    assert (await post(http)).status_code == 200


async def test_a_worker_at_its_in_flight_limit_refuses_the_next_request(http, emulators, settings):
    settings.GRAPHQL_MAX_IN_FLIGHT = 2
    settings.GRAPHQL_EXTERNAL_BUDGET = 30
    held = await hold_requests(http, emulators, 2)

    refused = await post(http)

    assert refused.status_code == 503
    assert refused.json()["errors"][0]["extensions"]["code"] == "SERVER_BUSY"
    assert "limit of 2 requests" in refused.json()["errors"][0]["message"]
    await release(held)


async def test_requests_waiting_on_a_hanging_upstream_do_not_saturate_the_worker(
    http, emulators, settings
):
    # given: 40 requests admitted and waiting on a hanging system (no CPU spent meanwhile)
    settings.GRAPHQL_EXTERNAL_BUDGET = 30
    waiting = await hold_requests(http, emulators, 40)
    for _ in range(LATE_BEATS + 2):
        await asyncio.sleep(HEARTBEAT)

    # then: the worker is not saturated and admits the next request
    assert not loop_state().saturated()
    assert (await post(http)).status_code == 200
    await release(waiting)
