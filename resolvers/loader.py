"""The one loading mechanism every external field goes through.

Per request, a DataLoader per system gathers every key the query needs into one batch. For a
batch, `ExternalLoader`:

1. reads all keys from the shared cache with one `multi_get` (`<namespace>:<key>`; entries
   are `{"v": value-or-null, "at": unix time}`, so a definite "no such record" is cached too);
2. fetches the keys that are missing or past their TTL with one client call (the client
   splits it only at the upstream's own batch limit), sharing in-flight fetches with any other
   request in this process that wants the same keys (single flight);
3. writes what it fetched with one `multi_set`, kept for `stale_ttl` so that
4. when the upstream fails, a value past its TTL is served as `Stale` (the resolver reports
   it under `extensions.stale`) instead of null; keys with nothing to fall back on get a coded
   GraphQL error in their slot. Errors are never cached.

The cache itself failing (Redis down) degrades to "miss" and never fails a request.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
import weakref
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

from aiocache.base import BaseCache
from django.conf import settings
from prometheus_client import Counter
from strawberry.dataloader import DataLoader

from clients.errors import ExternalServiceError, ServiceUnavailable
from resolvers.cache import from_json, to_json
from resolvers.errors import graphql_error

CACHE_LOOKUPS = Counter(
    "external_cache_lookups",
    "External-field keys by how they were answered: hit, negative_hit (cached 'no such "
    "record'), fetched, missing (fetched: no such record), stale (served past its TTL "
    "because the upstream failed) or failed.",
    ["service", "result"],
)

if TYPE_CHECKING:
    from resolvers.upstreams import Upstreams

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MISSING = object()


@dataclass(frozen=True)
class CachePolicy:
    """Seconds a value is fresh, a "no such record" is trusted, and a value may serve as stale."""

    ttl: float
    negative_ttl: float
    stale_ttl: float


@dataclass(frozen=True)
class Stale(Generic[V]):
    """A value served past its TTL because the upstream failed just now."""

    value: V
    age: float
    service: str


# Fetches in flight in this process, per event loop: cache key -> future of value-or-None.
_in_flight: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Future[Any]]] = (
    weakref.WeakKeyDictionary()
)


#: Seconds a settled fetch keeps answering joiners (covers reads that raced the cache write);
#: never longer than the system's TTL.
SETTLED_GRACE = 1.0


def _release(flights: dict[str, asyncio.Future[Any]], cache_key: str, future: Any) -> None:
    if flights.get(cache_key) is future:
        del flights[cache_key]


def _flights() -> dict[str, asyncio.Future[Any]]:
    loop = asyncio.get_running_loop()
    flights = _in_flight.get(loop)
    if flights is None:
        flights = _in_flight[loop] = {}
    return flights


class ExternalLoader(Generic[K, V]):
    """Cache-aside, single-flight, stale-if-error batch loading for one external system."""

    service: ClassVar[str]
    #: Cache key prefix: the system and a version bumped whenever the stored shape changes.
    namespace: ClassVar[str]
    #: The client's frozen dataclass this loader returns (stored in the cache as JSON).
    value_type: type[V]

    def __init__(self, client: Any, *, cache: BaseCache, policy: CachePolicy) -> None:
        self.client = client
        self.cache = cache
        self.policy = policy
        self.loader: DataLoader[K, V | Stale[V] | None] = DataLoader(load_fn=self._load_batch)
        #: How this loader's keys were answered (same categories as CACHE_LOOKUPS).
        self.tally: collections.Counter[str] = collections.Counter()

    @classmethod
    def for_request(cls, upstreams: Upstreams, cache: BaseCache) -> Self:
        """A loader for one request, on this loop's client and cache, with the system's TTLs."""
        policy = CachePolicy(**getattr(settings, f"{cls.service.upper()}_CACHE"))
        return cls(upstreams[cls.service], cache=cache, policy=policy)

    @classmethod
    def keys_per_call(cls) -> int:
        """Keys one upstream call carries at most (the client's batch size by default)."""
        return int(getattr(settings, cls.service.upper())["batch_size"])

    @classmethod
    def max_calls(cls, keys: int) -> int:
        """Upstream calls `keys` uncached keys can cost: what the query cost limit counts."""
        return -(-keys // cls.keys_per_call()) if keys > 0 else 0

    # -- for subclasses ---------------------------------------------------------------------

    def key_text(self, key: K) -> str:
        return str(key)

    async def fetch(self, keys: list[K]) -> Mapping[K, V]:
        """The records for `keys`; a key left out has no record upstream.

        Raises:
            ExternalServiceError: the upstream failed for the whole batch.
        """
        raise NotImplementedError

    def encode(self, value: V) -> Any:
        return to_json(value)

    def decode(self, data: Any) -> V:
        return from_json(self.value_type, data)

    # -- API --------------------------------------------------------------------------------

    async def load(self, key: K) -> V | Stale[V] | None:
        return await self.loader.load(key)

    def cache_key(self, key: K) -> str:
        return f"{self.namespace}:{self.key_text(key)}"

    async def invalidate(self, key: K) -> None:
        """Forget `key` here and in the shared cache (after a write)."""
        if self.loader.cache_map.get(key) is not None:
            self.loader.clear(key)
        _flights().pop(self.cache_key(key), None)
        try:
            await self.cache.delete(self.cache_key(key))
        except Exception:  # noqa: BLE001 - a cache outage must not fail the write that just worked
            logger.warning("%s cache: could not invalidate %s", self.service, self.cache_key(key))

    # -- the batch --------------------------------------------------------------------------

    async def _load_batch(self, keys: list[K]) -> Sequence[V | Stale[V] | BaseException | None]:
        now = time.time()
        cache_keys = [self.cache_key(k) for k in keys]
        entries = await self._cache_read(cache_keys)
        results: list[Any] = [_MISSING] * len(keys)
        stale: dict[int, dict[str, Any]] = {}
        for i, entry in enumerate(entries):
            if self._is_fresh(entry, now):
                hit = entry["v"] is not None
                results[i] = self.decode(entry["v"]) if hit else None
                self._count("hit" if hit else "negative_hit")
            elif isinstance(entry, dict) and entry.get("v") is not None:
                stale[i] = entry
        missing = [i for i, r in enumerate(results) if r is _MISSING]
        if missing:
            fetched = await self._fetch_shared([keys[i] for i in missing])
            failures: dict[str, list[str]] = {}
            for i, outcome in zip(missing, fetched, strict=True):
                if not isinstance(outcome, ExternalServiceError):
                    results[i] = outcome
                    self._count("fetched" if outcome is not None else "missing")
                elif i in stale:
                    entry = stale[i]
                    results[i] = Stale(self.decode(entry["v"]), now - entry["at"], self.service)
                    self._count("stale")
                else:
                    results[i] = graphql_error(outcome)
                    self._count("failed")
                    failures.setdefault(type(outcome).__name__, []).append(self.key_text(keys[i]))
            for kind, failed in failures.items():
                shown = ", ".join(failed[:10]) + (
                    f" and {len(failed) - 10} more" if len(failed) > 10 else ""
                )
                logger.warning(
                    "%s failed (%s) for %d key(s): %s",
                    self.service,
                    kind,
                    len(failed),
                    shown,
                    extra={"service": self.service, "keys": failed, "error": kind},
                )
        return results

    def _count(self, result: str) -> None:
        self.tally[result] += 1
        CACHE_LOOKUPS.labels(self.service, result).inc()

    def _is_fresh(self, entry: Any, now: float) -> bool:
        if not isinstance(entry, dict) or "at" not in entry or "v" not in entry:
            return False
        ttl = self.policy.ttl if entry["v"] is not None else self.policy.negative_ttl
        return bool(now - entry["at"] < ttl)

    async def _fetch_shared(self, keys: list[K]) -> list[V | ExternalServiceError | None]:
        """Fetch `keys`, joining fetches of the same keys already under way in this process."""
        flights = _flights()
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Any]] = []
        mine: dict[str, tuple[K, asyncio.Future[Any]]] = {}
        for key in keys:
            cache_key = self.cache_key(key)
            future = flights.get(cache_key)
            if future is None:
                future = flights[cache_key] = loop.create_future()
                mine[cache_key] = (key, future)
            futures.append(future)
        if mine:
            await self._fetch_own(mine)
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        return [
            outcome
            if not isinstance(outcome, BaseException) or isinstance(outcome, ExternalServiceError)
            else ServiceUnavailable(self.service, "fetch", "a shared fetch failed unexpectedly")
            for outcome in outcomes
        ]

    async def _fetch_own(self, mine: dict[str, tuple[K, asyncio.Future[Any]]]) -> None:
        """Fetch the keys this batch owns, settle their futures, and cache what came back."""
        flights = _flights()
        try:
            records = await self.fetch([key for key, _ in mine.values()])
        except BaseException as exc:
            for cache_key, (_, future) in mine.items():
                future.set_exception(exc)
                _release(flights, cache_key, future)
            if isinstance(exc, ExternalServiceError):
                return
            raise
        now = time.time()
        pairs = []
        for cache_key, (key, future) in mine.items():
            value = records.get(key)
            future.set_result(value)
            pairs.append(
                (cache_key, {"v": None if value is None else self.encode(value), "at": now})
            )
        await self._cache_write(pairs)
        # A request whose cache read raced this write may still ask: answer it from the
        # settled future for a moment instead of fetching the same keys again.
        loop = asyncio.get_running_loop()
        grace = min(SETTLED_GRACE, self.policy.ttl)
        for cache_key, (_, future) in mine.items():
            loop.call_later(grace, _release, flights, cache_key, future)

    # -- cache access that never fails a request --------------------------------------------

    async def _cache_read(self, cache_keys: list[str]) -> list[Any]:
        try:
            return list(await self.cache.multi_get(cache_keys))
        except Exception:  # noqa: BLE001 - Redis down or slow: fetch instead
            logger.warning(
                "%s cache read failed; fetching %d keys upstream", self.service, len(cache_keys)
            )
            return [None] * len(cache_keys)

    async def _cache_write(self, pairs: list[tuple[str, Any]]) -> None:
        if not pairs:
            return
        try:
            await self.cache.multi_set(pairs, ttl=self.policy.stale_ttl)
        except Exception:  # noqa: BLE001 - the answer is already in hand
            logger.warning("%s cache write failed for %d keys", self.service, len(pairs))
