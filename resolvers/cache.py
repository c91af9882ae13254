"""The cross-request cache (aiocache) that loaders read and fill, chosen by CACHE_URL.

Memory for the demo, Redis in production so every worker shares one cache. Entries carry
their own fetch time, so freshness never depends on the backend's TTL timers (aiocache's
memory timers die with the loop that set them); the backend TTL only evicts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
import typing
import weakref
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import orjson
from aiocache import Cache, SimpleMemoryCache
from aiocache.base import BaseCache
from aiocache.serializers import BaseSerializer
from django.conf import settings
from redis.asyncio import BlockingConnectionPool

T = TypeVar("T")

NAMESPACE = "propertygraph"
#: Seconds an operation may take before the cache counts as down; well under a request budget.
OPERATION_TIMEOUT = 0.5
#: Redis connections per worker (event loop). A burst of requests queues for them, up to
#: OPERATION_TIMEOUT; redis-py's own pool allows 100 and then *raises* at once, which made a
#: busy worker treat a healthy Redis as down and fetch upstream what it had cached.
REDIS_CONNECTIONS = 32

_per_loop: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[Any, ...], BaseCache]
] = weakref.WeakKeyDictionary()


def _json_default(value: Any) -> Any:
    """What orjson does not write by itself: a Decimal, as its exact text (as `to_json`)."""
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class JsonSerializer(BaseSerializer):  # type: ignore[misc]  # aiocache ships no types
    """JSON through orjson: entries read back are parsed on every cache hit (6,000 for a
    warm 1,000-row page), and orjson parses them several times faster than the standard
    library, whose parser was the largest single cost of a warm page after GraphQL
    execution itself. Same JSON on the wire, so entries written either way read back.

    Records (the clients' frozen dataclasses, with dates, datetimes and Decimals) are
    written as they are: orjson writes dataclasses, dates and datetimes itself, the same
    JSON `to_json` makes (a test holds them equal), in half the time of converting them
    in Python first (a cold 1,000-row page writes 5,800 entries)."""

    DEFAULT_ENCODING = None  # bytes as orjson makes them; Redis and the memory cache keep them

    def dumps(self, value: Any) -> bytes:
        return orjson.dumps(value, default=_json_default)

    def loads(self, value: Any) -> Any:
        if value is None:
            return None
        return orjson.loads(value)


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
            pool_max_size=REDIS_CONNECTIONS,
            connection_pool_class=BlockingConnectionPool,
            connection_pool_kwargs={"timeout": OPERATION_TIMEOUT},
            create_connection_timeout=OPERATION_TIMEOUT,
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


def read_in_process(cache: BaseCache, cache_keys: list[str]) -> list[Any] | None:
    """The entries for `cache_keys` (None where absent) when `cache` is this process's memory
    cache, read at once; None for a cache that needs a round trip (Redis). An entry the
    loader wrote comes back as a `PeekedEntry`, decoded only when its value is needed.

    What aiocache's `multi_get` does for the memory backend (namespaced keys, the backend's
    dict, the serializer), without its coroutine and three decorator coroutines: a warm
    request reads its entries with no await, so a system answered from memory costs the
    request no turn of the event loop (resolvers/loader.py's `prefetch_started`). Caches
    with aiocache plugins (we configure none) go through aiocache.
    """
    if not isinstance(cache, SimpleMemoryCache) or cache.plugins:
        return None
    stored = cache._cache  # the backend's dict (aiocache.backends.memory)
    loads = cache.serializer.loads
    return [peek(stored.get(key), loads) for key in _namespaced(cache, cache_keys)]


class PeekedEntry:
    """A cache entry `{"v": value, "at": write time}` as the loader writes it: its write time
    and whether it says "no such record" read off the ends of its JSON, its value decoded
    only when asked for (`value()`); or an entry decoded already, the same way (`of`).

    A loader needs the write time of every entry it reads (fresh or not) but the value of
    few: a fresh record it decoded before is remembered by key and write time
    (resolvers/loader.py), and an expired one stands in only when its system fails. A cold
    1,000-row page read and decoded 6,000 expired entries for that; a warm one 6,000 it
    already had.
    """

    __slots__ = ("_decoded", "_loads", "at", "empty", "raw")

    def __init__(self, raw: bytes | None, at: float, empty: bool, loads: Any = None) -> None:
        self.raw, self.at, self.empty, self._loads = raw, at, empty, loads
        self._decoded: Any = None

    @classmethod
    def of(cls, entry: Any) -> PeekedEntry | None:
        """What a cache read returned as a PeekedEntry: itself, or a decoded entry (Redis,
        or one `peek` did not recognise); None for anything else (absent, or not an entry)."""
        if isinstance(entry, PeekedEntry):
            return entry
        if not isinstance(entry, dict) or "v" not in entry:
            return None
        at = entry.get("at")
        if not isinstance(at, int | float) or isinstance(at, bool) or not math.isfinite(at):
            return None
        found = cls(None, float(at), entry["v"] is None)
        found._decoded = entry["v"]
        return found

    def value(self) -> Any:
        if self.raw is None:
            return self._decoded
        return self._loads(self.raw)["v"]


_AT = b',"at":'
_EMPTY = b'{"v":null,"at":'


def peek(raw: Any, loads: Any) -> Any:
    """`raw` as a `PeekedEntry` when it is an entry as the loader writes it (orjson keeps
    the keys in the order written, the write time last: inside a JSON string a quote is
    always escaped, so the last `,"at":` is that key's); decoded as it is otherwise."""
    if type(raw) is bytes and raw.startswith(b'{"v":') and raw.endswith(b"}"):
        where = raw.rfind(_AT)
        if where > 0:
            try:
                at = float(raw[where + len(_AT) : -1])
            except ValueError:
                pass
            else:
                if math.isfinite(at):
                    return PeekedEntry(raw, at, raw.startswith(_EMPTY), loads)
    return loads(raw)


def _namespaced(cache: BaseCache, keys: list[str]) -> list[str]:
    """The backend's keys for `keys`, as aiocache builds them: with its own key builder, the
    namespace and the key joined, which the in-process paths do here (aiocache's builder,
    a method call, a format and an Enum check per key, was a twentieth of a cold page)."""
    if getattr(cache.build_key, "__func__", None) is not BaseCache._build_key:
        return [cache.build_key(key, namespace=cache.namespace) for key in keys]
    prefix = cache.namespace or ""
    return [prefix + key for key in keys]


#: Seconds between sweeps of the memory cache's entries written by `write_in_process`.
SWEEP_EVERY = 60.0
#: The deadlines' clock (tests move it without moving the event loop's).
deadline_clock = time.monotonic


class _Deadlines:
    """When the entries `write_in_process` wrote to one memory cache go: kept per key, and
    swept at a write once SWEEP_EVERY has passed, instead of a timer per key."""

    def __init__(self) -> None:
        #: Namespaced key -> (monotonic deadline, the value written): a value written since
        #: by anything else (aiocache's own set, with its own timer) is not ours to drop.
        self.by_key: dict[str, tuple[float, Any]] = {}
        self.next_sweep = 0.0

    def sweep(self, stored: dict[str, Any], now: float) -> None:
        """Drop the entries past their deadline, and forget the keys deleted or rewritten
        through aiocache since (not ours to drop, and their old value held no longer)."""
        for key, (deadline, value) in list(self.by_key.items()):
            if stored.get(key) is not value:
                del self.by_key[key]
            elif deadline <= now:
                del self.by_key[key]
                del stored[key]
        self.next_sweep = now + SWEEP_EVERY


_deadlines: weakref.WeakKeyDictionary[BaseCache, _Deadlines] = weakref.WeakKeyDictionary()


def write_in_process(cache: BaseCache, pairs: list[tuple[str, Any]], ttl: float) -> bool:
    """Write `pairs` (kept `ttl` seconds; 0: for good) when `cache` is this process's memory
    cache, at once, and say so; False for a cache that needs a round trip (Redis).

    What aiocache's `multi_set` does for the memory backend, less its coroutine per key and,
    above all, its timer per key (a TimerHandle pushed on the event loop's heap, and the one
    it replaces cancelled): a cold 1,000-row page writes 5,800 entries, and those timers and
    coroutines cost more than encoding the entries (22 ms against 19). Entries go instead
    when a later write finds them past their deadline (`_Deadlines`); readers never depend
    on that: entries carry their write time and the loader judges their age
    (resolvers/loader.py). Caches with aiocache plugins go through aiocache.
    """
    if not isinstance(cache, SimpleMemoryCache) or cache.plugins:
        return False
    stored, timers = cache._cache, cache._handlers  # the backend's dicts (aiocache.backends.memory)
    dumps = cache.serializer.dumps
    deadlines = _deadlines.get(cache)
    if deadlines is None:
        deadlines = _deadlines[cache] = _Deadlines()
    by_key = deadlines.by_key
    now = deadline_clock()
    for namespaced, (_, value) in zip(
        _namespaced(cache, [k for k, _ in pairs]), pairs, strict=True
    ):
        timer = timers.pop(namespaced, None)
        if timer is not None:  # written through aiocache before: its timer would drop ours
            timer.cancel()
        raw = stored[namespaced] = dumps(value)
        if ttl:
            by_key[namespaced] = (now + ttl, raw)
        else:
            by_key.pop(namespaced, None)
    if now >= deadlines.next_sweep:
        deadlines.sweep(stored, now)
    return True


@dataclasses.dataclass(frozen=True)
class _ReadFailed:
    error: BaseException


_reads: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[tuple[int, str], asyncio.Future[Any]]
] = weakref.WeakKeyDictionary()


async def read_shared(cache: BaseCache, cache_keys: list[str]) -> list[Any]:
    """The entries for `cache_keys` (None where absent). Requests of this event loop reading
    a key at the same time share one round trip: a burst of requests for the same page
    reads it once per worker, not once per request (each read holds a Redis connection
    and decodes every entry). Waits at most OPERATION_TIMEOUT (resolvers/timing.py).

    Raises:
        Exception: the read failed or timed out (for a read shared with others, theirs).
    """
    from resolvers.timing import WITHIN_EXTENSIONS, wait_until, within

    entries = read_in_process(cache, cache_keys)
    if entries is not None:
        # a dict lookup in this process: nothing to wait for or to share, and a task and a
        # timer per read were a tenth of a warm detail query's time
        return entries
    loop = asyncio.get_running_loop()
    flights = _reads.setdefault(loop, {})
    ident = id(cache)
    futures: list[asyncio.Future[Any]] = []
    mine: list[tuple[str, asyncio.Future[Any]]] = []
    for key in cache_keys:
        flight = flights.get((ident, key))
        if flight is None:
            flight = flights[(ident, key)] = loop.create_future()
            mine.append((key, flight))
        futures.append(flight)
    if mine:
        outcome: list[Any] | _ReadFailed
        try:
            outcome = list(
                await within(cache.multi_get([k for k, _ in mine], timeout=None), OPERATION_TIMEOUT)
            )
        except BaseException as exc:
            outcome = _ReadFailed(exc)
            if not isinstance(exc, Exception):
                _settle_reads(flights, ident, mine, outcome)
                raise
        _settle_reads(flights, ident, mine, outcome)
    waiting = [f for f in futures if not f.done()]
    if waiting:
        await wait_until(
            waiting,
            loop.time() + OPERATION_TIMEOUT,
            grace=OPERATION_TIMEOUT,
            extensions=WITHIN_EXTENSIONS,
        )
    entries = []
    for future in futures:
        if not future.done():
            raise TimeoutError("a shared cache read did not finish")
        value = future.result()
        if isinstance(value, _ReadFailed):
            raise ConnectionError("the cache read failed") from value.error
        entries.append(value)
    return entries


def _settle_reads(
    flights: dict[tuple[int, str], asyncio.Future[Any]],
    ident: int,
    mine: list[tuple[str, asyncio.Future[Any]]],
    outcome: list[Any] | _ReadFailed,
) -> None:
    """Results, never exceptions: a future nobody awaits must not log an error."""
    for index, (key, flight) in enumerate(mine):
        if flights.get((ident, key)) is flight:
            del flights[(ident, key)]
        if not flight.done():
            flight.set_result(outcome if isinstance(outcome, _ReadFailed) else outcome[index])


#: Types that JSON takes as they are.
_PLAIN = frozenset({str, int, float, bool, type(None)})
#: Field names per dataclass, worked out once per class (dataclasses.fields is slow).
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def to_json(value: Any) -> Any:
    """A client's frozen dataclass as JSON-safe data (Decimal and dates as strings): what a
    cache entry holds once read back. (Entries are written by JsonSerializer, which makes
    the same JSON from the record itself.)"""
    kind = type(value)
    if kind in _PLAIN:
        return value
    names = _FIELD_NAMES.get(kind)
    if names is None:
        if not (dataclasses.is_dataclass(value) and not isinstance(value, type)):
            if isinstance(value, Decimal):
                return str(value)
            if isinstance(value, date):  # datetime too
                return value.isoformat()
            return value
        names = _FIELD_NAMES[kind] = tuple(f.name for f in dataclasses.fields(value))
    return {name: to_json(getattr(value, name)) for name in names}


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
