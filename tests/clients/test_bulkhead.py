"""Bulkheads: each system's share of outbound capacity, and waiting for it within a deadline."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest
import respx

from clients.bulkhead import Bulkhead, CapacityExhausted, wait_deadline
from clients.http import HttpClient, HttpConfig
from clients.metrics import UPSTREAM_CAPACITY_REFUSALS, UPSTREAM_IN_FLIGHT
from tests.clients.conftest import call_records

BASE = "https://upstream.test"


class SlowClient(HttpClient):
    service = "slow"

    async def read(self, path: str = "items") -> str:
        return await self._call("GET", f"{BASE}/{path}", operation="read", parse=lambda r: r.text)


@pytest.fixture
def mock():
    with respx.mock(assert_all_called=False) as router:
        yield router


def config(**overrides) -> HttpConfig:
    return HttpConfig(base_url=BASE, max_connections=2, pool_timeout=30.0, **overrides)


class Held:
    """A respx side effect that answers only once `gate` is set; counts requests that arrived
    (respx counts a call only when it has been answered)."""

    def __init__(self, gate: asyncio.Event) -> None:
        self.gate = gate
        self.arrived = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.arrived += 1
        await self.gate.wait()
        return httpx.Response(200, text="late")


async def test_calls_beyond_the_share_wait_for_a_free_slot(http, mock):
    gate = asyncio.Event()
    held = Held(gate)
    mock.get(f"{BASE}/items").mock(side_effect=held)
    client = SlowClient(config(), http=http)

    calls = [asyncio.create_task(client.read()) for _ in range(3)]
    for _ in range(20):
        await asyncio.sleep(0)

    # two are in flight, the third waits without touching the network
    assert client.bulkhead.snapshot() == {"inUse": 2, "limit": 2, "waiting": 1}
    assert held.arrived == 2
    assert UPSTREAM_IN_FLIGHT.labels("slow")._value.get() == 2

    gate.set()
    assert await asyncio.gather(*calls) == ["late"] * 3
    assert held.arrived == 3
    assert client.bulkhead.snapshot() == {"inUse": 0, "limit": 2, "waiting": 0}


async def test_a_full_share_fails_fast_once_the_waiting_requests_deadline_has_passed(
    http, mock, client_logs
):
    gate = asyncio.Event()
    held = Held(gate)
    mock.get(f"{BASE}/items").mock(side_effect=held)
    client = SlowClient(config(), http=http)
    busy = [asyncio.create_task(client.read()) for _ in range(2)]
    for _ in range(20):
        await asyncio.sleep(0)
    refused_before = UPSTREAM_CAPACITY_REFUSALS.labels("slow")._value.get()

    # when: a call for requests whose deadline is already gone
    with wait_deadline(time.monotonic() - 1), pytest.raises(CapacityExhausted) as caught:
        await client.read()

    # then: refused at once, not sent, not retried, not held against the upstream
    assert held.arrived == 2
    assert caught.value.retryable is True
    assert caught.value.may_have_reached_server is False
    assert client.breaker.consecutive_failures == 0
    assert UPSTREAM_CAPACITY_REFUSALS.labels("slow")._value.get() == refused_before + 1
    (record,) = [r for r in call_records(client_logs) if r.levelno == logging.ERROR]
    assert "CapacityExhausted" in record.outcome
    gate.set()
    await asyncio.gather(*busy)


async def test_the_wait_for_a_slot_ends_at_the_deadline(http, mock):
    gate = asyncio.Event()
    mock.get(f"{BASE}/items").mock(side_effect=Held(gate))
    client = SlowClient(config(), http=http)
    busy = [asyncio.create_task(client.read()) for _ in range(2)]
    for _ in range(20):
        await asyncio.sleep(0)

    waiting = asyncio.create_task(_read_with_deadline(client, time.monotonic() + 0.05))
    done, _ = await asyncio.wait({waiting}, timeout=30)

    # it gave up by itself (the slots never freed), long before the 30 s pool timeout
    assert done == {waiting}
    assert isinstance(waiting.exception(), CapacityExhausted)
    gate.set()
    await asyncio.gather(*busy)


async def _read_with_deadline(client: SlowClient, deadline: float) -> str:
    with wait_deadline(deadline):
        return await client.read()


async def test_one_system_hanging_does_not_take_the_others_capacity(http, mock):
    never = asyncio.Event()
    mock.get(f"{BASE}/hang").mock(side_effect=Held(never))
    mock.get(f"{BASE}/items").respond(200, text="ok")
    hanging = SlowClient(config(), http=http)
    healthy = SlowClient(config(), http=http)

    stuck = [asyncio.create_task(hanging.read("hang")) for _ in range(5)]
    for _ in range(20):
        await asyncio.sleep(0)

    assert hanging.bulkhead.in_use == 2
    assert await asyncio.gather(*(healthy.read() for _ in range(4))) == ["ok"] * 4
    for task in stuck:
        task.cancel()
    await asyncio.gather(*stuck, return_exceptions=True)
    assert hanging.bulkhead.snapshot() == {"inUse": 0, "limit": 2, "waiting": 0}


def test_a_share_needs_a_slot():
    with pytest.raises(ValueError, match="at least one slot"):
        Bulkhead("x", 0)
