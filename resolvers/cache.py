"""The cross-request cache (aiocache) that loaders read and fill, chosen by CACHE_URL.

Memory for the demo, Redis in production so every worker shares one cache. One instance per
event loop: aiocache's Redis pool and its memory TTL timers are bound to the loop that first
uses them, and tests run each case on a fresh loop.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from typing import Any

from aiocache import Cache
from aiocache.base import BaseCache
from aiocache.serializers import JsonSerializer
from django.conf import settings

NAMESPACE = "propertygraph"
#: Seconds an operation may take before the cache counts as down; well under a request budget.
OPERATION_TIMEOUT = 0.5

_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, BaseCache] = (
    weakref.WeakKeyDictionary()
)


def build_cache(config: Mapping[str, Any]) -> BaseCache:
    """A cache for `config` (from `settings.CACHE_CONFIG`).

    JSON on both backends, so the memory cache in tests behaves like Redis in production
    (no shared mutable objects, the same types coming back).
    """
    if config["backend"] == "redis":
        return Cache(
            Cache.REDIS,
            endpoint=config["endpoint"],
            port=config["port"],
            db=config["db"],
            password=config["password"],
            ssl=config["ssl"],
            namespace=NAMESPACE,
            serializer=JsonSerializer(),
            timeout=OPERATION_TIMEOUT,
        )
    return Cache(
        Cache.MEMORY, namespace=NAMESPACE, serializer=JsonSerializer(), timeout=OPERATION_TIMEOUT
    )


def get_cache() -> BaseCache:
    """This event loop's cache, built on first use."""
    loop = asyncio.get_running_loop()
    cache = _per_loop.get(loop)
    if cache is None:
        cache = _per_loop[loop] = build_cache(settings.CACHE_CONFIG)
    return cache
