"""Workers sharing one Redis fetch each key once between them (resolvers/fleet.py).

A "worker" here is an event loop: this test's loop, and another one on a thread of its own,
each with its own shared-fetch boards and its own link to Redis, as two uvicorn workers have
(tests/reliability/test_fleet_over_sockets.py runs real worker processes). Each loop has its
own toy upstream, so the test sees which worker called. Needs Redis: CACHE_URL when it is
Redis, else 127.0.0.1:6379; skipped without one on a developer machine, a failure in CI.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
import redis.asyncio as redis_asyncio
from aiocache import Cache
from graphql import GraphQLError
from prometheus_client import REGISTRY
from redis import Redis

from clients.errors import ServiceUnavailable
from resolvers import batching
from resolvers import fleet as fleet_module
from resolvers import loader as loader_module
from resolvers.cache import NAMESPACE, JsonSerializer
from resolvers.fleet import CHANNEL, LEASE_PREFIX, close_fleet
from tests.resolvers.test_loader import POLICY, Thing, ThingLoader, Upstream

T = TypeVar("T")
LEASE_MS = 400
#: The lease a dead worker left behind (long: see the test).
DEAD_LEASE_MS = 2000
TEST_DB = 15


@pytest.fixture
def redis_config(settings) -> Iterator[dict[str, Any]]:
    """A Redis for the fleet (the CI one, or a local one), emptied before and after."""
    config = dict(settings.CACHE_CONFIG)
    if config["backend"] != "redis":
        config = {
            "backend": "redis",
            "endpoint": "127.0.0.1",
            "port": 6379,
            "db": TEST_DB,
            "password": None,
            "ssl": False,
        }
        try:
            socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        except OSError:
            if os.environ.get("CI"):
                pytest.fail("CI needs Redis for the fleet tests (CACHE_URL)")
            pytest.skip("no Redis on 127.0.0.1:6379")
    settings.CACHE_CONFIG = config
    settings.UPSTREAM_LEASE_MS = LEASE_MS
    raw = Redis(host=config["endpoint"], port=config["port"], db=config["db"])
    raw.flushdb()
    yield config
    raw.flushdb()
    raw.close()


def redis_cache(config: dict[str, Any]) -> Any:
    return Cache(
        Cache.REDIS,
        endpoint=config["endpoint"],
        port=config["port"],
        db=config["db"],
        namespace=NAMESPACE,
        serializer=JsonSerializer(),
    )


def request(upstream: Upstream, config: dict[str, Any], *, budget: float = 30.0) -> ThingLoader:
    """One request's loader on the running loop (its worker), on the shared Redis cache."""
    deadline = asyncio.get_running_loop().time() + budget
    return ThingLoader(upstream, cache=redis_cache(config), policy=POLICY, deadline=deadline)


class OtherWorker:
    """An event loop on its own thread: another worker's boards, fleet link and upstream."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    async def run(self, make: Callable[[], Awaitable[T]]) -> T:
        async def inside() -> T:
            return await make()

        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(inside(), self.loop)
        return await asyncio.wrap_future(future)

    def waiting_for(self, cache_key: str) -> bool:
        """Whether this worker found `cache_key` leased elsewhere and watches for it."""
        fleet = fleet_module._fleets.get(self.loop)
        return fleet is not None and bool(fleet.watches.get(cache_key))

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(close_fleet(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def other_worker() -> Iterator[OtherWorker]:
    worker = OtherWorker()
    yield worker
    worker.stop()


@pytest.fixture(autouse=True)
async def fleet_closed():
    yield
    await close_fleet()


def fleet_keys(how: str) -> float:
    return (
        REGISTRY.get_sample_value("external_fleet_keys_total", {"service": "things", "how": how})
        or 0.0
    )


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for a condition another loop brings about (bounded: a failure, not a hang)."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def test_two_workers_missing_the_same_keys_make_one_call(redis_config, other_worker):
    here, there = Upstream(), Upstream()
    here.gate.clear()  # this worker's fetch is under way when the other one asks
    first = asyncio.ensure_future(request(here, redis_config).loader.load_many(["a", "b", "c"]))
    await until(lambda: len(here.calls) == 1, "this worker leased and called")
    waited_before = fleet_keys("waited")

    second = asyncio.ensure_future(
        other_worker.run(lambda: request(there, redis_config).loader.load_many(["a", "b", "c"]))
    )
    await until(lambda: other_worker.waiting_for("thing:v1:c"), "the other worker waits")
    here.gate.set()

    assert await first == [Thing("a"), Thing("b"), Thing("c")]
    assert await second == [Thing("a"), Thing("b"), Thing("c")]
    assert here.calls == [["a", "b", "c"]]
    assert there.calls == []
    assert fleet_keys("waited") - waited_before == 3


async def test_a_dead_workers_lease_lapses_and_the_key_is_fetched_here(redis_config):
    raw = Redis(host=redis_config["endpoint"], port=redis_config["port"], db=redis_config["db"])
    upstream = Upstream()
    # this worker's link to Redis first, so the dead lease below is not half gone before
    # this worker even asks (a slow start took longer than a short lease)
    assert await request(upstream, redis_config).load("warm-up") == Thing("warm-up")
    # a key of its own (the previous test's worker thread may still be releasing "a"), and
    # a lease long enough that no machine is slower than it between here and the ask
    raw.set(LEASE_PREFIX + "thing:v1:dead", "a-worker-that-died", px=DEAD_LEASE_MS)
    before = fleet_keys("taken_over")

    started = time.monotonic()
    found = await request(upstream, redis_config).load("dead")
    waited = time.monotonic() - started

    assert found == Thing("dead")
    assert upstream.calls == [["warm-up"], ["dead"]]
    assert fleet_keys("taken_over") - before == 1
    assert waited >= DEAD_LEASE_MS / 1000 * 0.8  # it did wait for the lease (an upper bound would
    # depend on the machine; the note reports the delay measured)
    raw.close()


async def test_another_workers_failure_is_reported_here_as_its_own_error(
    redis_config, other_worker
):
    here, there = Upstream(), Upstream()
    here.gate.clear()
    here.fail = ServiceUnavailable("things", "get", "503 from the upstream")
    first = asyncio.ensure_future(request(here, redis_config).load("a"))
    await until(lambda: len(here.calls) == 1, "this worker leased and called")

    second = asyncio.ensure_future(other_worker.run(lambda: request(there, redis_config).load("a")))
    await until(lambda: other_worker.waiting_for("thing:v1:a"), "the other worker waits")
    here.gate.set()

    for outcome in await asyncio.gather(first, second, return_exceptions=True):
        assert isinstance(outcome, GraphQLError)
        assert outcome.extensions["code"] == "EXTERNAL_SERVICE_UNAVAILABLE"
    assert there.calls == []


async def test_redis_down_each_worker_fetches_for_itself(settings, redis_config):
    settings.CACHE_CONFIG = {**redis_config, "port": 1}  # nothing listens there
    upstream = Upstream()
    before = fleet_keys("unavailable")
    deadline = asyncio.get_running_loop().time() + 30

    down = redis_cache(settings.CACHE_CONFIG)  # its reads and writes fail too: misses
    loader = ThingLoader(upstream, cache=down, policy=POLICY, deadline=deadline)
    assert await loader.loader.load_many(["a", "b"]) == [Thing("a"), Thing("b")]

    assert upstream.calls == [["a", "b"]]
    assert fleet_keys("unavailable") - before == 2


async def test_a_write_in_another_worker_is_forgotten_here_at_once(
    redis_config, other_worker, monkeypatch
):
    # a settled fetch answers joiners for a minute here: only the message can end that
    monkeypatch.setattr(batching, "SETTLED_GRACE", 60.0)
    monkeypatch.setattr(loader_module, "SETTLED_GRACE", 60.0)
    here, there = Upstream(), Upstream()
    assert await request(here, redis_config).load("a") == Thing("a")
    board = batching.shared_fetches("things", "thing:v1", 0.0)
    assert "thing:v1:a" in board._flights  # settled, and would answer joiners
    raw = Redis(host=redis_config["endpoint"], port=redis_config["port"], db=redis_config["db"])
    await until(lambda: raw.pubsub_numsub(CHANNEL)[0][1] >= 1, "this worker listens")

    await other_worker.run(lambda: request(there, redis_config).invalidate("a"))
    await until(lambda: "thing:v1:a" not in board._flights, "the forget reached this worker")
    # and this worker dropped the entry too: its own cache write of the old record may land
    # after the other worker's delete (on a busy machine it did)
    entry = redis_cache(redis_config).build_key("thing:v1:a")
    await until(lambda: not raw.exists(entry), "the old record is out of the cache")
    assert await request(here, redis_config).load("a") == Thing("a")

    assert here.calls == [["a"], ["a"]]  # fetched again, not served from the settled flight
    raw.close()


async def test_a_change_announced_after_our_write_drops_our_cached_copy(redis_config, other_worker):
    # this worker cached "late"; another worker's delete went first, and its announcement
    # arrives after our write: only the announcement can get the old record out
    here = Upstream()
    assert await request(here, redis_config).load("late") == Thing("late")
    raw = Redis(host=redis_config["endpoint"], port=redis_config["port"], db=redis_config["db"])
    entry = redis_cache(redis_config).build_key("thing:v1:late")
    await until(lambda: bool(raw.exists(entry)), "our write landed")
    await until(lambda: raw.pubsub_numsub(CHANNEL)[0][1] >= 1, "this worker listens")

    async def announce() -> None:
        link = fleet_module.fleet_for_loop(batching.forget_here)
        assert link is not None
        await link.forgotten(["thing:v1:late"])

    await other_worker.run(announce)

    await until(lambda: not raw.exists(entry), "the old record is out of the cache")
    raw.close()


async def test_a_write_overtaken_by_a_change_is_deleted_again(redis_config, other_worker):
    # our cache write of "slow" is held until after another worker changed the record and
    # its announcement reached us: the write lands late, and is taken back
    here = Upstream()
    gate = asyncio.Event()
    cache = redis_cache(redis_config)
    write = cache.multi_set

    async def held_write(*args: Any, **kwargs: Any) -> Any:
        await gate.wait()
        return await write(*args, **kwargs)

    cache.multi_set = held_write
    deadline = asyncio.get_running_loop().time() + 30
    loader = ThingLoader(here, cache=cache, policy=POLICY, deadline=deadline)
    assert await loader.load("slow") == Thing("slow")  # answered; the write is held
    raw = Redis(host=redis_config["endpoint"], port=redis_config["port"], db=redis_config["db"])
    await until(lambda: raw.pubsub_numsub(CHANNEL)[0][1] >= 1, "this worker listens")
    board = batching.shared_fetches("things", "thing:v1", 0.0)

    await other_worker.run(lambda: request(Upstream(), redis_config).invalidate("slow"))
    await until(lambda: "thing:v1:slow" in board._invalidated, "the change reached us")
    gate.set()

    entry = cache.build_key("thing:v1:slow")
    await until(lambda: not board._tasks and not raw.exists(entry), "the late write was undone")
    assert await request(here, redis_config).load("slow") == Thing("slow")
    assert here.calls == [["slow"], ["slow"]]
    raw.close()


async def test_the_listener_stops_even_when_redis_py_swallows_its_cancellation(
    redis_config, monkeypatch
):
    # given: redis-py swallows a cancellation arriving while it reads, as it sometimes does
    real = redis_asyncio.client.PubSub.parse_response
    reading, swallowed = [], []

    async def swallowing(self: Any, *args: Any, **kwargs: Any) -> Any:
        reading.append(True)
        try:
            return await real(self, *args, **kwargs)
        except asyncio.CancelledError:
            swallowed.append(True)
            return None

    monkeypatch.setattr(redis_asyncio.client.PubSub, "parse_response", swallowing)
    # and this worker listens on the channel
    fleet = fleet_module.fleet_for_loop(lambda key: None)
    assert fleet is not None
    fleet.watch(["thing:v1:a"])
    raw = Redis(host=redis_config["endpoint"], port=redis_config["port"], db=redis_config["db"])
    await until(lambda: raw.pubsub_numsub(CHANNEL)[0][1] >= 1, "this worker listens")
    raw.close()
    await until(lambda: bool(reading), "the listener reads")
    listener = fleet._listener
    assert listener is not None

    # when: the listener is cancelled (a worker's shutdown, an event loop's close)
    listener.cancel()
    done, _ = await asyncio.wait({listener}, timeout=10)

    # then: it ends (it went on listening, forever)
    try:
        assert swallowed
        assert done == {listener}
        assert listener.cancelled()
    finally:
        if not listener.done():  # none left behind for the loop's close to wait for
            monkeypatch.undo()
            listener.cancel()
            await asyncio.wait({listener}, timeout=10)
