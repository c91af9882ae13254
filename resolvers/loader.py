"""The one loading mechanism every external field goes through.

Per request, a DataLoader per system gathers every key the query needs into one batch. For a
batch, `ExternalLoader`:

1. reads all keys from the shared cache with one `multi_get` (`<namespace>:<key>`; entries
   are `{"v": value-or-null, "at": unix time}`, so a definite "no such record" is cached too);
2. hands the keys that are missing or past their TTL to this process's shared fetches
   (resolvers/batching.py): a key another request is already fetching is joined, and keys that
   concurrent requests want within a moment leave in one client call (the client splits it
   only at the upstream's own batch limit);
3. the fetch writes what it got with one `multi_set` (the memory cache: at once, without a
   timer per key; resolvers/cache.py), kept for `stale_ttl`, so that
4. when the upstream fails, a value past its TTL, and younger than `stale_ttl` (its write
   time says; the backend evicts it only later), is served as `Stale` (the resolver reports
   it under `extensions.stale`) instead of null; keys with nothing to fall back on get a coded
   GraphQL error in their slot. Errors are never cached.

The request's deadline bounds only the wait for upstreams: a value read from the cache, or
from a fetch that completed, is returned however late the process got to it. A key still
being fetched at the deadline gets its stale value, or EXTERNAL_SERVICE_TIMEOUT; its fetch
goes on and fills the cache for the next request.

The cache itself failing (Redis down) degrades to "miss" and never fails a request.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import logging
import math
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar, cast

from aiocache import RedisCache
from aiocache.base import BaseCache
from django.conf import settings
from prometheus_client import Counter
from strawberry.dataloader import DataLoader

from clients.errors import ExternalServiceError
from resolvers.batching import SETTLED_GRACE, forget_here, shared_fetches, wait_until
from resolvers.cache import (
    OPERATION_TIMEOUT,
    PeekedEntry,
    from_json,
    read_in_process,
    read_shared,
    write_in_process,
)
from resolvers.errors import deadline_error, graphql_error
from resolvers.fleet import fleet_for_loop
from resolvers.settings_memo import from_settings
from resolvers.telemetry import BatchTrace, tracing_on
from resolvers.timing import within

CACHE_LOOKUPS = Counter(
    "external_cache_lookups",
    "External-field keys by how they were answered: hit, negative_hit (cached 'no such "
    "record'), fetched, missing (fetched: no such record), stale (served past its TTL "
    "because the upstream failed or did not answer in time), failed or timed_out.",
    ["service", "result"],
)

if TYPE_CHECKING:
    from resolvers.upstreams import Upstreams

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MISSING = object()


def wall_clock() -> float:
    """Unix time for cache entries' `at` (entries are shared across processes); tests that
    age entries replace it."""
    return time.time()


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


#: Prefetch batches running (held so they are not garbage-collected mid-flight).
_PREFETCHES: set[asyncio.Task[None]] = set()
#: Records decoded from fresh cache entries, by (cache key, write time); emptied when full.
_DECODED: dict[tuple[str, Any], Any] = {}
DECODED_MAX = 20_000


@from_settings
def _policy_and_window(service: str) -> tuple[CachePolicy, float]:
    """The system's TTLs, and the batch window in seconds."""
    policy = CachePolicy(**getattr(settings, f"{service.upper()}_CACHE"))
    return policy, settings.UPSTREAM_BATCH_WINDOW_MS / 1000


@from_settings
def _keys_per_call(service: str) -> int:
    from resolvers.registry import integration  # the registry imports every loader

    found = integration(service)
    if found is None:
        raise LookupError(f"{service} is not in EXTERNAL_SYSTEMS")
    return found.config().keys_per_call


@functools.cache
def _lookups_counter(service: str, result: str) -> Any:
    """CACHE_LOOKUPS' child for (service, result): `labels()` costs a lock and a lookup."""
    return CACHE_LOOKUPS.labels(service, result)


class ExternalLoader(Generic[K, V]):
    """Cache-aside, single-flight, stale-if-error batch loading for one external system."""

    service: ClassVar[str]
    #: Cache key prefix: the system and a version bumped whenever the stored shape changes.
    namespace: ClassVar[str]
    #: The client's frozen dataclass this loader returns (stored in the cache as JSON).
    value_type: type[V]
    #: The Property model fields the key is made of (the schema keeps them loaded).
    key_fields: ClassVar[tuple[str, ...]] = ("parcel_id",)

    def __init__(
        self,
        client: Any,
        *,
        cache: BaseCache,
        policy: CachePolicy,
        deadline: float | None = None,
        window: float = 0.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.client = client
        self.clock = clock or wall_clock
        self.cache = cache
        self.policy = policy
        #: Loop time after which this request stops waiting for upstreams (None: no limit).
        self.deadline = deadline
        #: Seconds keys may wait for other requests' keys before their call leaves.
        self.window = window
        self.loader: DataLoader[K, V | Stale[V] | None] = DataLoader(load_fn=self._load_batch)
        #: How this loader's keys were answered (same categories as CACHE_LOOKUPS).
        self.tally: collections.Counter[str] = collections.Counter()
        #: Outcomes `prefetch` loaded (a value, Stale, None, or the key's error), read by
        #: resolvers/fields.py's `in_hand` without a future or callback per key.
        self.settled: dict[K, Any] = {}
        #: Keys being prefetched, with the future their batch completes.
        self._prefetching: dict[K, asyncio.Future[None]] = {}
        #: The prefetch batch collecting keys in this turn of the loop, if any.
        self._next_prefetch: tuple[list[K], asyncio.Future[None]] | None = None
        #: Memory-cache entries `_settle_in_process` read for keys it left to a batch (stale
        #: or absent): the batch takes them instead of reading and decoding them again.
        self._read_ahead: dict[K, Any] = {}
        #: When (the loader's clock) the first of its fresh answers goes stale: what a
        #: response holding them may be cached for (schema/cache_control.py).
        self.fresh_until = math.inf

    @classmethod
    def for_request(
        cls, upstreams: Upstreams, cache: BaseCache, *, deadline: float | None = None
    ) -> Self:
        """A loader for one request, on this loop's client and cache, with the system's TTLs;
        it waits for upstreams until `deadline` (loop time)."""
        policy, window = _policy_and_window(cls.service)
        return cls(
            upstreams[cls.service], cache=cache, policy=policy, deadline=deadline, window=window
        )

    @classmethod
    def keys_per_call(cls) -> int:
        """Keys one upstream call carries at most: the client config says (its batch size, or
        what else bounds a request), in one place."""
        return _keys_per_call(cls.service)

    @classmethod
    def max_calls(cls, keys: int) -> int:
        """Upstream calls `keys` uncached keys can cost: what the query cost limit counts."""
        return -(-keys // cls.keys_per_call()) if keys > 0 else 0

    @classmethod
    def key_for(cls, row: Any) -> K:
        """The key of a Property row: its key field, or the tuple of its key fields."""
        if len(cls.key_fields) == 1:
            return cast(K, getattr(row, cls.key_fields[0]))
        return cast(K, tuple(getattr(row, name) for name in cls.key_fields))

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
        """What a cache entry keeps of `value`: the record itself, which the cache's
        serializer writes as JSON (resolvers/cache.py); `decode` rebuilds it from that."""
        return value

    def decode(self, data: Any) -> V:
        return from_json(self.value_type, data)

    # -- API --------------------------------------------------------------------------------

    async def load(self, key: K) -> V | Stale[V] | None:
        under_way = self._prefetching.get(key)
        if under_way is not None:  # its prefetch is loading it: no second read
            await under_way
        if key in self.settled:
            outcome = self.settled[key]
            if isinstance(outcome, BaseException):
                raise outcome
            return cast("V | Stale[V] | None", outcome)
        return await self.loader.load(key)

    async def prefetch(self, keys: Iterable[K]) -> None:
        """Load `keys` (within the request's budget, like `load`) and keep their outcomes in
        `settled`. Every prefetch asked for in the same turn of the event loop (25 aliased
        `property(id:)` fields resolving their rows together) shares one batch, as
        DataLoader batches `load`s; keys already settled, loading or prefetching are not
        asked again, and keys this process's memory cache holds fresh are settled at once."""
        waits = self.prefetch_started(keys)
        if waits:
            await asyncio.gather(*waits)

    def prefetch_started(self, keys: Iterable[K]) -> set[asyncio.Future[None]]:
        """`prefetch` without the wait: the futures that complete when `keys` are settled
        (resolvers/fields.py waits for every system's at once, with no task per system)."""
        cache_map = self.loader.cache_map
        waits: set[asyncio.Future[None]] = set()
        wanted: list[K] = []
        for key in dict.fromkeys(keys):
            if key in self.settled or cache_map.get(key) is not None:
                continue
            under_way = self._prefetching.get(key)
            if under_way is not None:
                waits.add(under_way)
            else:
                wanted.append(key)
        if wanted:
            wanted = self._settle_in_process(wanted)
        if wanted:
            if self._next_prefetch is None:
                loop = asyncio.get_running_loop()
                self._next_prefetch = ([], loop.create_future())
                loop.call_soon(self._start_prefetch, *self._next_prefetch)
            batch, done = self._next_prefetch
            batch.extend(wanted)
            for key in wanted:
                self._prefetching[key] = done
            waits.add(done)
        return waits

    def _settle_in_process(self, keys: list[K]) -> list[K]:
        """Settle the keys this process's memory cache answers fresh, now, without a batch;
        returns the others. (Redis needs a round trip: every key goes on to a batch.)

        A warm request then costs no task, future or turn of the event loop per system: the
        batch each system took to answer from memory was a quarter of a warm detail query's
        CPU time (in-process, 3,000 requests). Counted, and its freshness noted, as a batch's
        answers are."""
        cache_keys = [self.cache_key(k) for k in keys]
        read = read_in_process(self.cache, cache_keys)
        if read is None:
            return keys
        entries = [PeekedEntry.of(entry) for entry in read]
        counted: collections.Counter[str] = collections.Counter()
        results: list[Any] = [_MISSING] * len(keys)
        self._take_fresh(cache_keys, entries, self.clock(), counted, results)
        rest = []
        for key, result, entry in zip(keys, results, entries, strict=True):
            if result is _MISSING:
                rest.append(key)
                self._read_ahead[key] = entry
            else:
                self.settled[key] = result
        self._count(counted)
        return rest

    def _start_prefetch(self, batch: list[K], done: asyncio.Future[None]) -> None:
        self._next_prefetch = None
        task = asyncio.get_running_loop().create_task(self._run_prefetch(batch, done))
        _PREFETCHES.add(task)
        task.add_done_callback(_PREFETCHES.discard)

    async def _run_prefetch(self, keys: list[K], done: asyncio.Future[None]) -> None:
        """Never raises: a key whose prefetch broke is left unsettled, and its field loads
        it through `load` (reporting its own error)."""
        try:
            outcomes = await self._load_batch(keys)
            self.settled.update(zip(keys, outcomes, strict=True))
        except Exception:
            logger.exception("%s: prefetching %d key(s) failed", self.service, len(keys))
        finally:
            for key in keys:
                if self._prefetching.get(key) is done:
                    del self._prefetching[key]
            if not done.done():
                done.set_result(None)

    def cache_key(self, key: K) -> str:
        return f"{self.namespace}:{self.key_text(key)}"

    def freshness(self) -> float:
        """Seconds until the first answer this loader gave goes stale (inf: none given)."""
        return self.fresh_until - self.clock()

    async def invalidate(self, key: K) -> None:
        """Forget `key` here and in the shared cache (after a write)."""
        if self.loader.cache_map.get(key) is not None:
            self.loader.clear(key)
        self.settled.pop(key, None)
        shared_fetches(self.service, self.namespace, self.window).forget(self.cache_key(key))
        try:
            await self.cache.delete(self.cache_key(key))
        except Exception:  # noqa: BLE001 - a cache outage must not fail the write that just worked
            logger.warning("%s cache: could not invalidate %s", self.service, self.cache_key(key))
        fleet = fleet_for_loop(forget_here) if self.shares_cache() else None
        if fleet is not None:  # every other worker forgets it now, not after the settled grace
            await fleet.forgotten([self.cache_key(key)])

    # -- the batch --------------------------------------------------------------------------

    def _decoded(self, cache_key: str, entry: PeekedEntry) -> V:
        """The record in a fresh cache entry, decoded once per process and version (the
        entry's write time tells versions apart): records are frozen, so every request may
        share one. A warm 1,000-row page otherwise rebuilds 6,000 of them (and, its entry
        peeked at, parses none)."""
        memo_key = (cache_key, entry.at)
        found = _DECODED.get(memo_key)
        if found is None:
            if len(_DECODED) >= DECODED_MAX:
                _DECODED.clear()
            found = _DECODED[memo_key] = self.decode(entry.value())
        return cast(V, found)

    async def _load_batch(self, keys: list[K]) -> Sequence[V | Stale[V] | BaseException | None]:
        now = self.clock()
        # counted per batch, not per key: a labelled metric costs microseconds per update
        counted: collections.Counter[str] = collections.Counter()
        trace = BatchTrace(self.service, len(keys), counted) if tracing_on() else None
        try:
            return await self._answer(keys, now, counted, trace)
        finally:
            self._count(counted)
            if trace is not None:
                trace.done()

    def _count(self, counted: Mapping[str, int]) -> None:
        self.tally.update(counted)
        for result, n in counted.items():
            _lookups_counter(self.service, result).inc(n)

    def _take_fresh(
        self,
        cache_keys: list[str],
        entries: list[Any],
        now: float,
        counted: collections.Counter[str],
        results: list[Any],
    ) -> None:
        """Put the fresh entries' records (None for a cached "no such record") in `results`,
        count them and note when the first of them goes stale."""
        policy = self.policy
        fresh_until = math.inf
        for i, entry in enumerate(entries):
            if self._is_fresh(entry, now):
                hit = not entry.empty
                results[i] = self._decoded(cache_keys[i], entry) if hit else None
                counted["hit" if hit else "negative_hit"] += 1
                fresh_until = min(
                    fresh_until, entry.at + (policy.ttl if hit else policy.negative_ttl)
                )
        # min: this loader's earlier answers count too
        self.fresh_until = min(self.fresh_until, fresh_until)

    async def _answer(
        self,
        keys: list[K],
        now: float,
        counted: collections.Counter[str],
        trace: BatchTrace | None = None,
    ) -> Sequence[V | Stale[V] | BaseException | None]:
        cache_keys = [self.cache_key(k) for k in keys]
        entries = await self._entries(keys, cache_keys)
        results: list[Any] = [_MISSING] * len(keys)
        self._take_fresh(cache_keys, entries, now, counted, results)
        policy = self.policy
        # past stale_ttl an entry may still be held (the backend evicts it later): never used
        stale: dict[int, PeekedEntry] = {
            i: entry
            for i, entry in enumerate(entries)
            if results[i] is _MISSING
            and entry is not None
            and not entry.empty
            and now - entry.at < policy.stale_ttl
        }
        fresh_until = math.inf
        missing = [i for i, r in enumerate(results) if r is _MISSING]
        if missing:
            board = shared_fetches(self.service, self.namespace, self.window)
            # traced, the wait is a span: the parent of the upstream calls it starts
            with contextlib.nullcontext() if trace is None else trace.waiting():
                futures = board.join(
                    self,
                    [keys[i] for i in missing],
                    self.deadline,
                    [cache_keys[i] for i in missing],
                )
                await wait_until(futures, self.deadline, grace=settings.GRAPHQL_EXTERNAL_GRACE)
            failures: dict[str, list[str]] = {}
            # a joined fetch may have settled up to `grace` before this batch began
            fetched_at = now - self.grace()
            for i, future in zip(missing, futures, strict=True):
                outcome: Any = future.result() if future.done() else _MISSING
                if outcome is not _MISSING and not isinstance(outcome, ExternalServiceError):
                    results[i] = outcome
                    counted["fetched" if outcome is not None else "missing"] += 1
                    ttl = policy.ttl if outcome is not None else policy.negative_ttl
                    fresh_until = min(fresh_until, fetched_at + ttl)
                elif i in stale:
                    entry = stale[i]
                    results[i] = Stale(self.decode(entry.value()), now - entry.at, self.service)
                    counted["stale"] += 1
                elif outcome is _MISSING:
                    results[i] = deadline_error(self.service, self.budget_seconds())
                    counted["timed_out"] += 1
                    failures.setdefault("deadline", []).append(self.key_text(keys[i]))
                else:
                    results[i] = graphql_error(cast(ExternalServiceError, outcome))
                    counted["failed"] += 1
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
        # min: another batch of this request may have lowered it while this one waited
        self.fresh_until = min(self.fresh_until, fresh_until)
        return results

    async def _entries(self, keys: list[K], cache_keys: list[str]) -> list[Any]:
        """The cache entries for `keys`: those the prefetch read a moment ago (a cold page
        read and decoded every stale entry twice), the rest read now."""
        ahead = self._read_ahead
        if not ahead:
            return await self._cache_read(cache_keys)
        entries = [ahead.pop(key, _MISSING) for key in keys]
        unread = [i for i, entry in enumerate(entries) if entry is _MISSING]
        if unread:
            read = await self._cache_read([cache_keys[i] for i in unread])
            for i, entry in zip(unread, read, strict=True):
                entries[i] = entry
        return entries

    def _is_fresh(self, entry: PeekedEntry | None, now: float) -> bool:
        if entry is None:
            return False
        ttl = self.policy.negative_ttl if entry.empty else self.policy.ttl
        return now - entry.at < ttl

    def budget_seconds(self) -> float:
        """The request budget, for messages (the setting; the deadline is what counts)."""
        return float(settings.GRAPHQL_EXTERNAL_BUDGET)

    # -- called by the shared fetch (resolvers/batching.py) ---------------------------------

    async def fetched(self, outcomes: Iterable[tuple[str, V | None]]) -> None:
        """Cache what a fetch returned: values and "no such record" alike."""
        now = self.clock()
        await self._cache_write(
            [
                (cache_key, {"v": None if value is None else self.encode(value), "at": now})
                for cache_key, value in outcomes
            ]
        )

    async def uncache(self, cache_keys: list[str]) -> None:
        """Drop entries from the shared cache (a record changed); an outage is logged only."""
        for cache_key in cache_keys:
            try:
                await self.cache.delete(cache_key)
            except Exception:  # noqa: BLE001 - the write that changed it already worked
                logger.warning("%s cache: could not invalidate %s", self.service, cache_key)

    async def cached(self, cache_keys: list[str]) -> dict[str, V | None]:
        """The fresh cache entries among `cache_keys` (another worker's fetch wrote them),
        decoded; None for a cached "no such record". Keys without one are left out."""
        now = self.clock()
        entries = await self._cache_read(cache_keys)
        return {
            key: None if entry.empty else self.decode(entry.value())
            for key, entry in zip(cache_keys, entries, strict=True)
            if entry is not None and self._is_fresh(entry, now)
        }

    def grace(self) -> float:
        """How long a settled fetch keeps answering joiners; never past the TTL."""
        return min(SETTLED_GRACE, self.policy.ttl)

    def shares_cache(self) -> bool:
        """Whether other workers read this cache (Redis): only then do they coordinate their
        fetches through leases (resolvers/fleet.py). A loader on a process-local cache
        fetches for itself, whatever CACHE_URL says."""
        return isinstance(self.cache, RedisCache)

    # -- cache access that never fails a request --------------------------------------------

    # Timeouts here are resolvers/timing.py's `within`, not aiocache's own (asyncio.wait_for,
    # which on Python 3.11 can swallow a cancellation that arrives as the read completes), and
    # not a plain asyncio.timeout either: on a saturated loop that fires before the task whose
    # answer already arrived, and every request of a burst fetched upstream what Redis had.

    async def _cache_read(self, cache_keys: list[str]) -> list[PeekedEntry | None]:
        """The entries for `cache_keys`, None where absent or not an entry."""
        try:
            read = await read_shared(self.cache, cache_keys)
            return [PeekedEntry.of(entry) for entry in read]
        except Exception as exc:  # noqa: BLE001 - Redis down or slow: fetch instead
            logger.warning(
                "%s cache read failed (%s); fetching %d keys upstream",
                self.service,
                type(exc.__cause__ or exc).__name__,
                len(cache_keys),
            )
            return [None] * len(cache_keys)

    async def _cache_write(self, pairs: list[tuple[str, Any]]) -> None:
        if not pairs:
            return
        try:
            if write_in_process(self.cache, pairs, self.policy.stale_ttl):
                return
            await within(
                self.cache.multi_set(pairs, ttl=self.policy.stale_ttl, timeout=None),
                OPERATION_TIMEOUT,
            )
        except Exception:  # noqa: BLE001 - the answer is already in hand
            logger.warning("%s cache write failed for %d keys", self.service, len(pairs))
