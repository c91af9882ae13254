"""The configured cache backend (memory by default, Redis in CI) round-trips values.

In CI this runs against the real Redis from CACHE_URL; an unreachable server fails here.
"""

from __future__ import annotations

import asyncio
import uuid

from django.conf import settings

from resolvers.cache import get_cache


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
