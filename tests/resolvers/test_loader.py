"""ExternalLoader without GraphQL: cache-aside, negative caching, stale-if-error, single flight
and batching across requests, the deadline, and a cache that is down.

A "request" here is one loader instance (the API builds one per request); a toy upstream
records the keys of every call and answers when the test says so.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass

import pytest
from aiocache import Cache
from aiocache.plugins import BasePlugin
from graphql import GraphQLError

from clients.errors import ExternalServiceError, ServiceUnavailable
from resolvers import batching
from resolvers.cache import JsonSerializer
from resolvers.loader import CachePolicy, ExternalLoader, Stale
from tests.clocks import FakeClock

POLICY = CachePolicy(ttl=60, negative_ttl=10, stale_ttl=3600)


@dataclass(frozen=True)
class Thing:
    name: str


class Upstream:
    """Answers `Thing(key)` for keys it knows; `fail` makes the next calls raise it; a cleared
    `gate` holds every call until it is set."""

    def __init__(self, known: set[str] | None = None) -> None:
        self.known = known
        self.calls: list[list[str]] = []
        self.fail: ExternalServiceError | None = None
        self.gate = asyncio.Event()
        self.gate.set()

    async def get(self, keys: list[str]) -> Mapping[str, Thing]:
        self.calls.append(sorted(keys))
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return {k: Thing(k) for k in keys if self.known is None or k in self.known}


class ThingLoader(ExternalLoader[str, Thing]):
    service = "things"
    namespace = "thing:v1"
    value_type = Thing

    @classmethod
    def keys_per_call(cls) -> int:
        return 50

    async def fetch(self, keys: list[str]) -> Mapping[str, Thing]:
        return await self.client.get(keys)


@pytest.fixture
def cache():
    return Cache(Cache.MEMORY, serializer=JsonSerializer(), namespace="test-loader")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def request(upstream, cache, clock, *, deadline=None, window=0.0) -> ThingLoader:
    return ThingLoader(
        upstream, cache=cache, policy=POLICY, deadline=deadline, window=window, clock=clock
    )


def in_(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


async def turns(n: int = 20) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_cache_aside_one_call_then_hits(cache, clock):
    upstream = Upstream()

    first = request(upstream, cache, clock)
    assert await first.loader.load_many(["a", "b"]) == [Thing("a"), Thing("b")]
    second = request(upstream, cache, clock)
    assert await second.loader.load_many(["a", "b"]) == [Thing("a"), Thing("b")]

    assert upstream.calls == [["a", "b"]]
    assert first.tally == {"fetched": 2}
    assert second.tally == {"hit": 2}


async def test_keys_the_memory_cache_answers_are_settled_at_once_without_a_batch(cache, clock):
    upstream = Upstream(known={"a"})
    await request(upstream, cache, clock).loader.load_many(["a", "gone"])
    written = clock.now
    clock.now += 5

    loader = request(upstream, cache, clock)
    waits = loader.prefetch_started(["a", "gone"])

    # nothing to wait for and no batch scheduled: answered before any turn of the loop
    assert waits == set()
    assert loader._next_prefetch is None
    assert loader.settled == {"a": Thing("a"), "gone": None}
    assert loader.tally == {"hit": 1, "negative_hit": 1}
    assert loader.fresh_until == written + POLICY.negative_ttl
    assert upstream.calls == [["a", "gone"]]


async def test_only_keys_the_memory_cache_cannot_answer_fresh_go_to_a_batch(cache, clock):
    upstream = Upstream()
    await request(upstream, cache, clock).load("old")
    clock.now += POLICY.ttl + 5
    await request(upstream, cache, clock).load("new")
    upstream.fail = ServiceUnavailable("things", "get", "down")

    loader = request(upstream, cache, clock)
    await loader.prefetch(["new", "old", "unknown"])

    assert upstream.calls[-1] == ["old", "unknown"]
    assert loader.settled["new"] == Thing("new")
    assert loader.settled["old"] == Stale(Thing("old"), pytest.approx(POLICY.ttl + 5), "things")
    assert isinstance(loader.settled["unknown"], GraphQLError)
    assert loader.tally == {"hit": 1, "stale": 1, "failed": 1}


async def test_entries_the_prefetch_read_are_not_read_again_by_its_batch(cache, clock, monkeypatch):
    upstream = Upstream()
    await request(upstream, cache, clock).loader.load_many(["old", "older"])
    clock.now += POLICY.ttl + 5
    decoded: list[bytes] = []
    loads = cache.serializer.loads
    monkeypatch.setattr(cache.serializer, "loads", lambda raw: decoded.append(raw) or loads(raw))

    loader = request(upstream, cache, clock)
    await loader.prefetch(["old", "older", "unknown"])

    # the stale entries read once, by the prefetch (the batch took them), and never parsed:
    # their write times were peeked at, and the upstream answered (only the absent key
    # went through the serializer, as None)
    assert decoded == [None]
    assert upstream.calls[-1] == ["old", "older", "unknown"]
    assert loader.settled == {k: Thing(k) for k in ("old", "older", "unknown")}
    assert loader._read_ahead == {}


async def test_a_fresh_entry_decoded_before_is_not_parsed_again(cache, clock, monkeypatch):
    """resolvers/cache.py's PeekedEntry: the write time read off the entry's JSON finds the
    record decoded before; an expired entry is parsed only when it stands in."""
    upstream = Upstream()
    await request(upstream, cache, clock).loader.load_many(["a", "b"])
    decoded: list[bytes] = []
    loads = cache.serializer.loads
    monkeypatch.setattr(cache.serializer, "loads", lambda raw: decoded.append(raw) or loads(raw))

    for parsed in (2, 0):  # the first reader decodes them; the next finds them decoded
        decoded.clear()
        loader = request(upstream, cache, clock)
        await loader.prefetch(["a", "b"])
        assert loader.settled == {"a": Thing("a"), "b": Thing("b")}
        assert loader.tally == {"hit": 2}
        assert len(decoded) == parsed

    decoded.clear()
    clock.now += POLICY.ttl + 5
    upstream.fail = ServiceUnavailable("things", "get", "down")
    loader = request(upstream, cache, clock)
    await loader.prefetch(["a", "b"])
    assert loader.settled["a"] == Stale(Thing("a"), pytest.approx(POLICY.ttl + 5), "things")
    assert len(decoded) == 2  # each parsed once, to stand in


async def test_a_cache_that_needs_a_round_trip_is_read_in_a_batch(clock):
    class Noted(BasePlugin):  # aiocache plugins see every call: only aiocache's path runs them
        calls = 0

        async def pre_multi_get(self, *args, **kwargs):
            Noted.calls += 1

    cache = Cache(Cache.MEMORY, serializer=JsonSerializer(), plugins=[Noted()])
    upstream = Upstream()
    await request(upstream, cache, clock).load("a")

    loader = request(upstream, cache, clock)
    waits = loader.prefetch_started(["a"])
    assert len(waits) == 1
    assert loader.settled == {}
    await asyncio.gather(*waits)

    assert loader.settled == {"a": Thing("a")}
    assert loader.tally == {"hit": 1}
    assert Noted.calls == 2


async def test_no_such_record_is_cached_for_the_negative_ttl(cache, clock):
    upstream = Upstream(known=set())

    assert await request(upstream, cache, clock).load("gone") is None
    assert await request(upstream, cache, clock).load("gone") is None
    clock.now += POLICY.negative_ttl + 1
    later = request(upstream, cache, clock)
    assert await later.load("gone") is None

    assert upstream.calls == [["gone"], ["gone"]]
    assert later.tally == {"missing": 1}


async def test_stale_value_stands_in_when_the_upstream_fails(cache, clock):
    upstream = Upstream()
    await request(upstream, cache, clock).load("a")
    clock.now += POLICY.ttl + 5
    upstream.fail = ServiceUnavailable("things", "get", "down")

    loader = request(upstream, cache, clock)
    result = await loader.load("a")

    assert result == Stale(Thing("a"), pytest.approx(POLICY.ttl + 5), "things")
    assert loader.tally == {"stale": 1}
    assert len(upstream.calls) == 2


async def test_an_entry_past_the_stale_ttl_never_stands_in_while_the_cache_still_holds_it(
    cache, clock
):
    upstream = Upstream()
    await request(upstream, cache, clock).load("a")
    clock.now += POLICY.stale_ttl + 1  # the backend drops it later: entries date themselves
    upstream.fail = ServiceUnavailable("things", "get", "down")

    loader = request(upstream, cache, clock)
    with pytest.raises(GraphQLError):
        await loader.load("a")

    assert await cache.get(loader.cache_key("a")) is not None
    assert loader.tally == {"failed": 1}


async def test_failure_without_fallback_is_a_coded_error_and_is_not_cached(cache, clock):
    upstream = Upstream()
    upstream.fail = ServiceUnavailable("things", "get", "down")

    with pytest.raises(GraphQLError) as caught:
        await request(upstream, cache, clock).load("a")
    upstream.fail = None
    assert await request(upstream, cache, clock).load("a") == Thing("a")

    assert caught.value.extensions == {
        "code": "EXTERNAL_SERVICE_UNAVAILABLE",
        "service": "things",
        "retryable": True,
    }
    assert len(upstream.calls) == 2


async def test_concurrent_requests_for_the_same_key_share_one_call(cache, clock):
    upstream = Upstream()
    upstream.gate.clear()
    loads = [asyncio.create_task(request(upstream, cache, clock).load("a")) for _ in range(5)]
    await turns()
    upstream.gate.set()

    assert await asyncio.gather(*loads) == [Thing("a")] * 5
    assert upstream.calls == [["a"]]


async def test_keys_of_concurrent_requests_leave_in_one_call_within_the_window(cache, clock):
    upstream = Upstream()

    async def one_request(key: str, delay_turns: int) -> Thing | None:
        await turns(delay_turns)
        return await request(upstream, cache, clock, window=0.5).load(key)

    results = await asyncio.gather(*(one_request(k, n) for n, k in enumerate("abcd")))

    assert results == [Thing(k) for k in "abcd"]
    assert upstream.calls == [["a", "b", "c", "d"]]


async def test_window_zero_batches_per_request_only(cache, clock):
    upstream = Upstream()

    async def one_request(key: str, delay_turns: int) -> Thing | None:
        await turns(delay_turns)
        return await request(upstream, cache, clock, window=0.0).load(key)

    await asyncio.gather(*(one_request(k, n * 3) for n, k in enumerate("abcd")))

    assert upstream.calls == [["a"], ["b"], ["c"], ["d"]]


async def test_a_lone_key_waits_only_for_the_quiet_gap_not_the_window(cache, clock, monkeypatch):
    upstream = Upstream()
    monkeypatch.setattr(batching, "QUIET_SHARE", 0.01)

    # the window is 20 s; with nobody else asking, the call leaves after the quiet gap (0.2 s)
    load = request(upstream, cache, clock, window=20.0).load("a")

    assert await asyncio.wait_for(load, timeout=10.0) == Thing("a")
    assert upstream.calls == [["a"]]


async def test_the_only_request_in_progress_does_not_wait_for_company(cache, clock):
    # window 60 s, quiet gap 30 s: a lone request's key leaves at once anyway
    upstream = Upstream()
    mark = batching.request_started()
    try:
        load = request(upstream, cache, clock, window=60.0).load("a")
        assert await asyncio.wait_for(load, timeout=10.0) == Thing("a")
    finally:
        batching.request_finished(mark)
    assert upstream.calls == [["a"]]


async def test_keys_wait_for_requests_in_progress_that_have_not_asked_yet(cache, clock):
    # quiet gap 0.5 s; request B asks only after 1.5 s (still parsing, or waiting for the
    # database under a burst): A's key waits for it instead of leaving alone
    upstream = Upstream()
    b_may_ask = asyncio.Event()

    async def request_a() -> Thing | None:
        mark = batching.request_started()
        try:
            return await request(upstream, cache, clock, window=1.0).load("a")
        finally:
            batching.request_finished(mark)

    async def request_b() -> Thing | None:
        mark = batching.request_started()
        try:
            await b_may_ask.wait()
            return await request(upstream, cache, clock, window=1.0).load("b")
        finally:
            batching.request_finished(mark)

    a, b = asyncio.create_task(request_a()), asyncio.create_task(request_b())
    await asyncio.sleep(1.5)  # three quiet gaps: without the rule, A's call has left
    b_may_ask.set()

    assert await asyncio.wait_for(asyncio.gather(a, b), timeout=10.0) == [Thing("a"), Thing("b")]
    assert upstream.calls == [["a", "b"]]


async def test_keys_stop_waiting_when_the_request_yet_to_ask_ends_without_asking(cache, clock):
    upstream = Upstream()
    done = asyncio.Event()

    async def request_without_external_fields() -> None:
        mark = batching.request_started()
        await done.wait()
        batching.request_finished(mark)

    other = asyncio.create_task(request_without_external_fields())
    mark = batching.request_started()
    try:
        load = asyncio.ensure_future(request(upstream, cache, clock, window=1.0).load("a"))
        await turns()
        done.set()  # the only request that could have joined is gone: no point waiting
        # the stretch is 12 windows (12 s); the call leaves within a quiet gap or two
        assert await asyncio.wait_for(load, timeout=6.0) == Thing("a")
    finally:
        batching.request_finished(mark)
    await other
    assert upstream.calls == [["a"]]


async def test_the_call_leaves_by_the_earliest_waiting_deadline(cache, clock):
    upstream = Upstream()
    stop = asyncio.Event()

    async def trickle() -> None:
        # another "request" adds a key on every turn, so no turn is ever quiet
        n = 0
        while not stop.is_set():
            request(upstream, cache, clock, window=3600.0).loader.load(f"t{n}")
            n += 1
            await asyncio.sleep(0)

    background = asyncio.create_task(trickle())
    result = await request(upstream, cache, clock, window=3600.0, deadline=in_(0.05)).load("a")
    stop.set()
    await background

    assert result == Thing("a")
    assert "a" in upstream.calls[0]


async def test_a_failure_reaches_every_request_as_its_own_coded_error(cache, clock):
    upstream = Upstream()
    upstream.gate.clear()
    upstream.fail = ServiceUnavailable("things", "get", "down")
    loads = [asyncio.create_task(request(upstream, cache, clock).load("a")) for _ in range(3)]
    await turns()
    upstream.gate.set()

    errors = await asyncio.gather(*loads, return_exceptions=True)

    assert len(upstream.calls) == 1
    assert all(isinstance(e, GraphQLError) for e in errors)
    assert len({id(e) for e in errors}) == 3
    assert {e.extensions["code"] for e in errors} == {"EXTERNAL_SERVICE_UNAVAILABLE"}


async def test_past_the_deadline_a_pending_key_times_out_and_its_fetch_fills_the_cache(
    cache, clock
):
    upstream = Upstream()
    upstream.gate.clear()

    with pytest.raises(GraphQLError) as caught:
        await request(upstream, cache, clock, deadline=in_(0.01)).load("a")
    upstream.gate.set()
    await turns()
    after = request(upstream, cache, clock, deadline=in_(0.01))

    assert caught.value.extensions["code"] == "EXTERNAL_SERVICE_TIMEOUT"
    assert await after.load("a") == Thing("a")
    assert after.tally == {"hit": 1}
    assert len(upstream.calls) == 1


async def test_past_the_deadline_a_stale_value_stands_in_for_a_slow_upstream(cache, clock):
    upstream = Upstream()
    await request(upstream, cache, clock).load("a")
    clock.now += POLICY.ttl + 1
    upstream.gate.clear()

    loader = request(upstream, cache, clock, deadline=in_(0.01))
    result = await loader.load("a")
    upstream.gate.set()

    assert isinstance(result, Stale)
    assert result.value == Thing("a")
    assert loader.tally == {"stale": 1}


class SlowCache:
    """A cache whose reads answer only when `gate` is set (a busy or distant Redis)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.gate = asyncio.Event()

    async def multi_get(self, keys, **options):
        await self.gate.wait()
        return await self.inner.multi_get(keys, **options)

    async def multi_set(self, pairs, **options):
        return await self.inner.multi_set(pairs, **options)


async def test_a_cached_value_is_returned_however_late_the_cache_answers(cache, clock):
    upstream = Upstream()
    await request(upstream, cache, clock).load("a")
    slow = SlowCache(cache)

    load = asyncio.create_task(request(upstream, slow, clock, deadline=in_(0.01)).load("a"))
    await asyncio.sleep(0.05)  # the deadline has passed while the cache was reading
    slow.gate.set()

    assert await load == Thing("a")
    assert len(upstream.calls) == 1


async def test_a_busy_loop_does_not_turn_a_healthy_answer_into_a_timeout(cache, clock, settings):
    settings.GRAPHQL_EXTERNAL_GRACE = 5.0
    upstream = Upstream()

    class Quick(Upstream):
        async def get(self, keys):
            await asyncio.sleep(0.01)
            await turns(5)  # reading the answer takes a few more turns of the loop
            return await super().get(keys)

    quick = Quick()
    loop = asyncio.get_running_loop()
    # The process is busy from before the answer is due until well after the deadline.
    loop.call_later(0.005, time.sleep, 0.3)

    result = await request(quick, cache, clock, deadline=in_(0.05)).load("a")

    assert result == Thing("a")
    assert upstream.calls == []


async def test_an_abandoned_fetch_that_fails_later_logs_no_unretrieved_error(cache, clock, caplog):
    caplog.set_level(logging.DEBUG, logger="asyncio")
    upstream = Upstream()
    upstream.gate.clear()
    upstream.fail = ServiceUnavailable("things", "get", "down")

    loader = request(upstream, cache, clock, deadline=in_(0.01))
    results = await asyncio.gather(
        *(loader.load(k) for k in ("a", "b", "c")), return_exceptions=True
    )
    upstream.gate.set()
    await turns()
    upstream.fail = None  # the error's traceback would keep the fetch's futures alive
    del results, loader
    gc.collect()
    await turns()

    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


class BrokenCache:
    async def multi_get(self, keys, **options):
        raise ConnectionError("redis is down")

    async def multi_set(self, pairs, **options):
        raise ConnectionError("redis is down")


async def test_a_cache_outage_degrades_to_fetching(clock, caplog):
    upstream = Upstream()

    first = request(upstream, BrokenCache(), clock)
    second = request(upstream, BrokenCache(), clock)

    assert await first.load("a") == Thing("a")
    await turns()
    assert await second.load("b") == Thing("b")
    assert upstream.calls == [["a"], ["b"]]
    messages = [r.getMessage() for r in caplog.records if r.name == "resolvers.loader"]
    assert any("cache read failed" in m for m in messages)
    assert any("cache write failed" in m for m in messages)


async def test_a_read_in_flight_during_a_write_does_not_cache_the_old_record(cache, clock):
    upstream = Upstream()
    upstream.gate.clear()
    reading = asyncio.create_task(request(upstream, cache, clock).load("a"))
    await turns()

    # the record is written upstream while the read is under way
    await request(upstream, cache, clock).invalidate("a")
    upstream.gate.set()
    assert await reading == Thing("a")

    after = request(upstream, cache, clock)
    assert await after.load("a") == Thing("a")
    assert after.tally == {"fetched": 1}
    assert len(upstream.calls) == 2
