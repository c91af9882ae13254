"""The configured cache backend (memory by default, Redis in CI) round-trips values.

In CI this runs against the real Redis from CACHE_URL; an unreachable server fails here.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiocache import Cache
from aiocache.plugins import BasePlugin
from django.conf import settings
from hypothesis import given
from hypothesis import strategies as st

from resolvers import cache as cache_module
from resolvers.cache import (
    JsonSerializer,
    PeekedEntry,
    get_cache,
    peek,
    read_in_process,
    write_in_process,
)


async def test_configured_cache_round_trips_batches():
    cache = get_cache()
    prefix = f"test:{uuid.uuid4().hex}"
    keys = [f"{prefix}:{i}" for i in range(3)]

    await cache.multi_set([(keys[0], {"total": 12.5}), (keys[1], [1, "two"])], ttl=30)
    values = await cache.multi_get(keys)

    assert values == [{"total": 12.5}, [1, "two"], None]
    assert get_cache() is cache
    await cache.delete(keys[0])
    await cache.delete(keys[1])


async def test_entries_are_stored_with_their_expiry():
    """The backend evicts entries after their TTL (entries date themselves for freshness;
    the TTL only frees space). Read back from the backend instead of waiting for it."""
    cache = get_cache()
    key = f"test:{uuid.uuid4().hex}"

    await cache.set(key, "soon gone", ttl=30)
    assert await cache.get(key) == "soon gone"

    stored = cache.build_key(key)
    if settings.CACHE_CONFIG["backend"] == "redis":
        remaining = await cache.raw("pttl", stored) / 1000
    else:
        remaining = cache._handlers[stored].when() - asyncio.get_running_loop().time()
    assert 25 < remaining <= 30
    await cache.delete(key)


def test_backend_matches_cache_url():
    expected = "redis" if settings.CACHE_URL.startswith("redis") else "memory"

    assert settings.CACHE_CONFIG["backend"] == expected


def memory_cache():
    return Cache(Cache.MEMORY, serializer=JsonSerializer(), namespace="test-writes")


async def test_the_memory_cache_is_written_without_a_timer_per_key():
    cache = memory_cache()
    await cache.set("b", {"old": True}, ttl=5)  # through aiocache: its timer would drop ours
    aiocache_timer = cache._handlers[cache.build_key("b")]

    assert write_in_process(cache, [("a", {"v": 1}), ("b", {"v": 2})], ttl=30)

    assert await cache.multi_get(["a", "b"]) == [{"v": 1}, {"v": 2}]
    assert cache._handlers == {}
    assert aiocache_timer.cancelled()


async def test_entries_past_their_deadline_go_at_a_write_after_the_sweep_interval(monkeypatch):
    cache = memory_cache()
    now = [1000.0]
    monkeypatch.setattr(cache_module, "deadline_clock", lambda: now[0])
    write_in_process(cache, [("short", 1)], ttl=10)
    write_in_process(cache, [("long", 2), ("kept", 3)], ttl=3600)
    write_in_process(cache, [("forever", 4)], ttl=0)
    await cache.set("short", "rewritten through aiocache", ttl=5)  # not ours to drop any more

    now[0] += 11  # past "short" but before the next sweep
    write_in_process(cache, [("other", 5)], ttl=10)
    assert await cache.get("long") == 2
    now[0] += cache_module.SWEEP_EVERY + 3600
    write_in_process(cache, [("kept", 6)], ttl=3600)

    assert await cache.multi_get(["short", "long", "kept", "forever", "other"]) == [
        "rewritten through aiocache",
        None,
        6,
        4,
        None,
    ]


async def test_a_sweep_forgets_keys_deleted_since_and_holds_their_value_no_longer(monkeypatch):
    cache = memory_cache()
    now = [1000.0]
    monkeypatch.setattr(cache_module, "deadline_clock", lambda: now[0])
    write_in_process(cache, [("gone", "a large value")], ttl=3600)
    await cache.delete("gone")  # an invalidation, through aiocache

    now[0] += cache_module.SWEEP_EVERY
    write_in_process(cache, [("other", 1)], ttl=3600)

    assert set(cache_module._deadlines[cache].by_key) == {cache.build_key("other")}


def test_a_cache_that_needs_a_round_trip_is_not_written_here():
    plugged = Cache(Cache.MEMORY, serializer=JsonSerializer(), plugins=[BasePlugin()])

    assert write_in_process(plugged, [("a", 1)], ttl=30) is False
    assert plugged._cache == {}


async def test_in_process_reads_and_writes_use_the_caches_own_keys():
    default = memory_cache()
    custom = Cache(
        Cache.MEMORY,
        serializer=JsonSerializer(),
        namespace="ns",
        key_builder=lambda key, namespace: f"{namespace}|{key}",
    )
    for cache in (default, custom):
        write_in_process(cache, [("a", {"v": 1})], ttl=30)
        await cache.set("b", {"v": 2}, ttl=30)

        assert await cache.get("a") == {"v": 1}
        assert read_in_process(cache, ["a", "b", "c"]) == [{"v": 1}, {"v": 2}, None]
    assert set(custom._cache) == {"ns|a", "ns|b"}


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    # strings that look like the write time's key, and keys that are it
    | st.text()
    | st.sampled_from([',"at":', '","at":1}', "at"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["at", "v", "x", ',"at":']) | st.text(), inner, max_size=4
        )
    ),
    max_leaves=12,
)


@given(value=JSON_VALUES, at=st.floats(allow_nan=False, allow_infinity=False))
def test_an_entry_as_the_loader_writes_it_is_peeked_at_without_parsing(value, at):
    serializer = JsonSerializer()
    raw = serializer.dumps({"v": value, "at": at})
    parsed: list[bytes] = []

    peeked = peek(raw, lambda r: parsed.append(r) or serializer.loads(r))

    assert isinstance(peeked, PeekedEntry)
    assert (peeked.at, peeked.empty) == (at, value is None)
    assert parsed == []
    assert peeked.value() == value
    assert parsed == [raw]


@pytest.mark.parametrize(
    "entry",
    [{"at": 5.0, "v": 1}, {"v": 1}, {"v": 1, "at": "5"}, {"v": 1, "at": None}, [1], "x", 3],
)
def test_anything_else_is_parsed_as_it_is(entry):
    serializer = JsonSerializer()
    raw = serializer.dumps(entry)
    assert peek(raw, serializer.loads) == entry
    assert peek(None, serializer.loads) is None
    decoded = PeekedEntry.of(entry)
    if isinstance(entry, dict) and isinstance(entry.get("at"), float):
        assert decoded is not None
        assert (decoded.at, decoded.empty, decoded.value()) == (5.0, False, 1)
    else:
        assert decoded is None  # not an entry: treated as absent
