"""The cross-request cache (aiocache) that loaders read and fill, chosen by CACHE_URL.

Memory for the demo, Redis in production so every worker shares one cache. Entries carry
their own fetch time, so freshness never depends on the backend's TTL timers (aiocache's
memory timers die with the loop that set them); the backend TTL only evicts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import typing
import weakref
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from aiocache import Cache
from aiocache.base import BaseCache
from aiocache.serializers import JsonSerializer
from django.conf import settings

T = TypeVar("T")

NAMESPACE = "propertygraph"
#: Seconds an operation may take before the cache counts as down; well under a request budget.
OPERATION_TIMEOUT = 0.5

_per_loop: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[Any, ...], BaseCache]
] = weakref.WeakKeyDictionary()


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


_process_cache: BaseCache | None = None


def get_cache() -> BaseCache:
    """The cache for this event loop: Redis per loop (its pool belongs to the loop that opened
    it); memory once per process, so every loop in the process (a worker, a management command
    and the requests it serves in tests) sees the same entries."""
    global _process_cache
    if settings.CACHE_CONFIG["backend"] == "memory":
        if _process_cache is None:
            _process_cache = build_cache(settings.CACHE_CONFIG)
        return _process_cache
    caches = _per_loop.setdefault(asyncio.get_running_loop(), {})
    config = tuple(sorted(settings.CACHE_CONFIG.items()))
    cache = caches.get(config)
    if cache is None:
        cache = caches[config] = build_cache(settings.CACHE_CONFIG)
    return cache


def to_json(value: Any) -> Any:
    """A client's frozen dataclass as JSON-safe data (Decimal and dates as strings)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    return value


_REVIVERS: dict[type, tuple[tuple[str, Any], ...]] = {}


def _revivers(cls: type) -> tuple[tuple[str, Any], ...]:
    """(field name, converter or None) per field of `cls`, worked out once per class."""
    known = _REVIVERS.get(cls)
    if known is not None:
        return known
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        kinds = set(typing.get_args(hints[f.name])) or {hints[f.name]}
        convert = next(
            (
                fn
                for kind, fn in (
                    (Decimal, Decimal),
                    (datetime, datetime.fromisoformat),
                    (date, date.fromisoformat),
                )
                if kind in kinds
            ),
            None,
        )
        out.append((f.name, convert))
    _REVIVERS[cls] = tuple(out)
    return _REVIVERS[cls]


def from_json(cls: type[T], data: Mapping[str, Any]) -> T:
    """Rebuild `cls` from `to_json` output, restoring Decimal, date and datetime fields."""
    values: dict[str, Any] = {}
    for name, convert in _revivers(cls):
        raw = data.get(name)
        values[name] = raw if raw is None or convert is None else convert(raw)
    return cls(**values)
