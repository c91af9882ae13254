"""The shared request path: retries, Retry-After, writes, the breaker and one log per call.

Uses a minimal client for a made-up service so the policy is tested apart from any one API.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
import respx

from clients.breaker import BreakerState, CircuitBreaker
from clients.errors import (
    BadResponse,
    CircuitOpen,
    NotFound,
    RateLimited,
    ServiceTimeout,
    ServiceUnavailable,
    parse_retry_after,
)
from clients.http import HttpClient, HttpConfig, json_of
from tests.clients.conftest import call_records
from tests.clocks import FakeClock

BASE = "https://upstream.test"


class EchoClient(HttpClient):
    service = "echo"

    async def read(self) -> dict:
        return await self._call("GET", f"{BASE}/items", operation="read", parse=lambda r: r.json())

    async def write(self) -> dict:
        return await self._call(
            "POST", f"{BASE}/items", operation="write", json={"a": 1}, parse=lambda r: r.json()
        )


@pytest.fixture
def config() -> HttpConfig:
    return HttpConfig(base_url=BASE, max_attempts=3, retry_budget=30.0, max_retry_after=5.0)


@pytest.fixture
def mock():
    with respx.mock(assert_all_called=False) as router:
        yield router


async def test_success_logs_one_info_record_with_timing(http, mock, config, client_logs):
    mock.get(f"{BASE}/items").respond(200, json={"ok": True})

    assert await EchoClient(config, http=http).read() == {"ok": True}

    (record,) = call_records(client_logs)
    assert record.levelno == logging.INFO
    assert (record.service, record.operation, record.method, record.path, record.status) == (
        "echo",
        "read",
        "GET",
        "/items",
        200,
    )
    assert record.attempt == 1
    assert record.duration_ms >= 0


async def test_transient_failure_is_retried_then_succeeds(http, mock, config, client_logs):
    route = mock.get(f"{BASE}/items").mock(
        side_effect=[
            httpx.Response(503),
            httpx.ConnectError("refused"),
            httpx.Response(200, json=[1]),
        ]
    )

    assert await EchoClient(config, http=http).read() == [1]

    assert route.call_count == 3
    levels = [(r.levelno, r.attempt, r.status) for r in call_records(client_logs)]
    assert levels == [(logging.WARNING, 1, 503), (logging.WARNING, 2, None), (logging.INFO, 3, 200)]


async def test_retries_exhausted_raise_the_typed_error(http, mock, config, client_logs):
    route = mock.get(f"{BASE}/items").respond(503)

    with pytest.raises(ServiceUnavailable) as caught:
        await EchoClient(config, http=http).read()

    assert route.call_count == 3
    assert caught.value.service == "echo"
    assert caught.value.operation == "read"
    assert caught.value.status == 503
    assert caught.value.retryable is True
    assert [r.levelno for r in call_records(client_logs)] == [
        logging.WARNING,
        logging.WARNING,
        logging.ERROR,
    ]


@pytest.mark.parametrize(
    ("exception", "error"),
    [(httpx.ReadTimeout("slow"), ServiceTimeout), (httpx.ConnectTimeout("x"), ServiceTimeout)],
)
async def test_timeouts_are_typed_and_retried(http, mock, config, exception, error):
    route = mock.get(f"{BASE}/items").mock(side_effect=exception)

    with pytest.raises(error):
        await EchoClient(config, http=http).read()

    assert route.call_count == 3


async def test_plain_500_and_404_are_not_retried(http, mock, config):
    route = mock.get(f"{BASE}/items").mock(side_effect=[httpx.Response(500), httpx.Response(404)])
    client = EchoClient(config, http=http)

    with pytest.raises(ServiceUnavailable) as server_error:
        await client.read()
    with pytest.raises(NotFound):
        await client.read()

    assert server_error.value.retryable is False
    assert route.call_count == 2


async def test_retry_after_seconds_is_the_requested_wait(http, mock, config, client_logs):
    mock.get(f"{BASE}/items").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3"}),
            httpx.Response(200, json={}),
        ]
    )

    await EchoClient(config, http=http).read()

    warning, _ = call_records(client_logs)
    assert warning.levelno == logging.WARNING
    assert warning.retry_in_s == 3.0


async def test_retry_after_http_date_is_the_requested_wait(http, mock, config, client_logs):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=4), usegmt=True)
    mock.get(f"{BASE}/items").mock(
        side_effect=[
            httpx.Response(503, headers={"Retry-After": when}),
            httpx.Response(200, json={}),
        ]
    )

    await EchoClient(config, http=http).read()

    # Retry-After is advice on a 503 as on a 429 (RFC 9110 10.2.3)
    assert 2.5 < call_records(client_logs)[0].retry_in_s <= 4.0


async def test_retry_after_date_on_429_is_honoured(http, mock, config, client_logs):
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=4), usegmt=True)
    mock.get(f"{BASE}/items").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": when}),
            httpx.Response(200, json={}),
        ]
    )

    await EchoClient(config, http=http).read()

    assert 2.5 < call_records(client_logs)[0].retry_in_s <= 4.0


async def test_retry_after_beyond_the_cap_fails_at_once(http, mock, config):
    route = mock.get(f"{BASE}/items").respond(429, headers={"Retry-After": "120"})

    with pytest.raises(RateLimited) as caught:
        await EchoClient(config, http=http).read()

    assert route.call_count == 1
    assert caught.value.retry_after == 120.0


async def test_waits_never_overrun_the_budget(http, mock):
    tight = HttpConfig(base_url=BASE, retry_budget=2.0, max_retry_after=5.0, connect_timeout=1.0)
    route = mock.get(f"{BASE}/items").respond(429, headers={"Retry-After": "2"})

    with pytest.raises(RateLimited):
        await EchoClient(tight, http=http).read()

    assert route.call_count == 1


@pytest.mark.parametrize(
    "failure", [httpx.Response(503), httpx.ReadTimeout("lost"), httpx.RemoteProtocolError("x")]
)
async def test_a_write_that_may_have_arrived_is_never_resent(http, mock, config, failure):
    route = mock.post(f"{BASE}/items").mock(side_effect=[failure, httpx.Response(200, json={})])

    with pytest.raises((ServiceUnavailable, ServiceTimeout)):
        await EchoClient(config, http=http).write()

    assert route.call_count == 1


async def test_a_write_that_never_left_is_retried(http, mock, config):
    route = mock.post(f"{BASE}/items").mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, json={"id": 1})]
    )

    assert await EchoClient(config, http=http).write() == {"id": 1}
    assert route.call_count == 2


@pytest.mark.parametrize("body", [b"<html>oops</html>", b'{"truncated": '])
async def test_unparsable_answer_is_bad_response(http, mock, config, body, client_logs):
    mock.get(f"{BASE}/items").respond(200, content=body)

    with pytest.raises(BadResponse):
        await EchoClient(config, http=http).read()

    (record,) = call_records(client_logs)
    assert record.levelno == logging.ERROR


async def test_breaker_opens_fails_fast_and_recovers_after_one_probe(http, mock, config):
    # given: a breaker that opens after 2 failed calls, with a clock we move by hand
    clock = FakeClock(start=1000.0)
    breaker = CircuitBreaker(threshold=2, cooldown=30, clock=clock)
    client = EchoClient(config, http=http, breaker=breaker)
    route = mock.get(f"{BASE}/items").respond(503)

    # when: two calls fail
    for _ in range(2):
        with pytest.raises(ServiceUnavailable):
            await client.read()

    # then: the circuit is open and calls fail without touching the network
    assert breaker.state is BreakerState.OPEN
    calls_before = route.call_count
    with pytest.raises(CircuitOpen) as fast:
        await client.read()
    assert route.call_count == calls_before
    assert fast.value.retryable is True

    # when: the cool-down passes and the upstream is back
    clock.now += 31
    route.respond(200, json={"back": True})

    # then: one probe goes out and closes the circuit
    assert await client.read() == {"back": True}
    assert breaker.state is BreakerState.CLOSED
    assert route.call_count == calls_before + 1


async def test_half_open_lets_exactly_one_probe_through(http, mock, config):
    clock = FakeClock(start=1000.0)
    breaker = CircuitBreaker(threshold=1, cooldown=10, clock=clock)
    client = EchoClient(config, http=http, breaker=breaker)
    gate = asyncio.Event()

    async def slow_ok(request):
        await gate.wait()
        return httpx.Response(200, json={})

    mock.get(f"{BASE}/items").mock(side_effect=[httpx.Response(500), slow_ok])
    with pytest.raises(ServiceUnavailable):
        await client.read()
    clock.now += 11

    probe = asyncio.create_task(client.read())
    await asyncio.sleep(0)
    others = await asyncio.gather(*(client.read() for _ in range(5)), return_exceptions=True)
    gate.set()
    await probe

    assert all(isinstance(o, CircuitOpen) for o in others)
    assert breaker.state is BreakerState.CLOSED


async def test_failed_probe_reopens(http, mock, config):
    clock = FakeClock(start=1000.0)
    breaker = CircuitBreaker(threshold=3, cooldown=10, clock=clock)
    client = EchoClient(config, http=http, breaker=breaker)
    mock.get(f"{BASE}/items").respond(500)
    for _ in range(3):
        with pytest.raises(ServiceUnavailable):
            await client.read()
    clock.now += 11

    with pytest.raises(ServiceUnavailable):
        await client.read()

    assert breaker.state is BreakerState.OPEN


async def test_cancelled_probe_hands_the_probe_back(http, mock, config):
    clock = FakeClock(start=1000.0)
    breaker = CircuitBreaker(threshold=1, cooldown=10, clock=clock)
    client = EchoClient(config, http=http, breaker=breaker)
    never = asyncio.Event()

    async def hang(request):
        await never.wait()

    mock.get(f"{BASE}/items").mock(
        side_effect=[httpx.Response(500), hang, httpx.Response(200, json={})]
    )
    with pytest.raises(ServiceUnavailable):
        await client.read()
    clock.now += 11

    probe = asyncio.create_task(client.read())
    await asyncio.sleep(0.01)
    probe.cancel()
    with pytest.raises(asyncio.CancelledError):
        await probe

    assert await client.read() == {}
    assert breaker.state is BreakerState.CLOSED


def test_retry_after_parsing():
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    assert parse_retry_after("7", now=now) == 7.0
    assert parse_retry_after("Thu, 26 Nov 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Thu, 26 Nov 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    "content",
    [
        b'{"a": [1, 2.5, "x\\u00e9", null, true], "b": {"c": -0.0}}',
        '{"name": "Zoë"}'.encode("utf-16"),  # not UTF-8: orjson refuses, httpx reads it
        b'{"n": NaN, "big": 123456789012345678901234567890}',  # past orjson, not httpx
        b"\xef\xbb\xbf[1]",  # a byte-order mark
    ],
)
def test_answers_parse_as_httpx_parses_them(content):
    response = httpx.Response(200, content=content)
    parsed, expected = json_of(response), response.json()
    assert repr(parsed) == repr(expected)  # repr: NaN != NaN


@pytest.mark.parametrize("content", [b"", b"<html>", b'{"a": 1', b"\xff\xfe\x00"])
def test_an_answer_that_is_not_json_is_a_value_error(content):
    with pytest.raises(ValueError):  # noqa: PT011 - what the clients catch, any message
        json_of(httpx.Response(200, content=content))
