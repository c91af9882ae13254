"""Upstream fetches shared by every worker on one Redis: one fetch per key at a time, fleet-wide.

resolvers/batching.py makes the requests of one process share their upstream calls. Workers
that share the Redis cache (`make serve` runs several) coordinate through it, per cache key:

- Before a batch leaves, its keys are leased in one atomic step (a Lua script doing
  `SET <lease key> <token> NX PX <UPSTREAM_LEASE_MS>` for each key), so two workers racing
  for the same page split nothing: one gets every key, the other none. The keys this worker
  got are fetched here; their lease is renewed while the fetch runs (a dead worker's lease
  lapses within UPSTREAM_LEASE_MS) and released with a compare-and-delete once the values
  are in the cache.
- Keys another worker holds are waited for. The holder publishes on one channel when it has
  written them, or that it failed (with the error, which every waiter reports as its own
  coded error); each worker's listener wakes its waiters, which read the cache. A poll every
  `POLL` seconds covers a lost message and a lease that lapsed (its holder died) or was
  released without a value: the waiter then leases the key itself and fetches it.
- A write publishes the keys it invalidates; every worker forgets them at once, in-flight and
  settled fetches alike, instead of serving the old record for the settled grace.
- Redis down: no leases (each worker fetches for itself, as with one worker), counted in
  `external_fleet_keys_total{how="unavailable"}`; Redis is tried again after DOWN_BACKOFF.

An efficiency lease, not a lock for correctness (aiocache's RedLock makes waiters in other
processes proceed at once, so it is not this): in the worst case, a failover or a holder
slower than its renewals, a key is fetched twice, never answered wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from prometheus_client import Counter
from redis.asyncio import BlockingConnectionPool, Connection, Redis, SSLConnection

from clients import errors
from clients.errors import ExternalServiceError
from resolvers.cache import NAMESPACE, OPERATION_TIMEOUT
from resolvers.timing import within

logger = logging.getLogger(__name__)

LEASE_PREFIX = f"{NAMESPACE}:lease:"
CHANNEL = f"{NAMESPACE}:fleet"
#: Seconds between a waiter's looks at the cache and at the leases it waits on.
POLL = 0.1
#: Redis connections per worker for leases and messages (a burst queues for them), besides
#: the listener's own.
FLEET_CONNECTIONS = 16
#: Seconds Redis is left alone after it failed (each worker fetches for itself meanwhile).
DOWN_BACKOFF = 1.0
#: Seconds the listener waits for a message before it looks whether it was cancelled.
#: redis-py (8.1) can swallow a cancellation that arrives during one of its calls (about half
#: the time when it arrives while subscribing, measured): a listener blocked in `listen()`
#: then ran forever, and the worker's shutdown, or an event loop's close, waited for it.
LISTEN_POLL = 1.0

FLEET_KEYS = Counter(
    "external_fleet_keys",
    "Keys this worker needed from an upstream, by how the fleet settled them: leased (this "
    "worker fetched them), waited (another worker's fetch answered), taken_over (another "
    "worker's lease lapsed or was released: fetched here), failed_elsewhere (another "
    "worker's fetch failed: its error reported here), unavailable (Redis down: fetched here "
    "without a lease), timed_out (nobody answered before the requests gave up).",
    ["service", "how"],
)

# KEYS: lease keys; ARGV: token, milliseconds. Returns the 1-based indexes leased.
_ACQUIRE = """
local got = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then got[#got + 1] = i end
end
return got
"""
_RENEW = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('PEXPIRE', key, ARGV[2]) end
end
return 1
"""
_RELEASE = """
for _, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
return 1
"""


@dataclass(frozen=True)
class Lease:
    """The keys of one acquire: those this worker holds (`mine`, under `token`), the rest."""

    token: str
    mine: tuple[str, ...]
    others: tuple[str, ...]


class Watch:
    """Messages about some cache keys (filled, failed, forgotten), as they arrive."""

    def __init__(self, fleet: Fleet, cache_keys: Iterable[str]) -> None:
        self.fleet = fleet
        self.keys = set(cache_keys)
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        for key in self.keys:
            fleet.watches[key].add(self)

    async def next(self, seconds: float) -> list[dict[str, Any]]:
        """The messages that arrived, waiting up to `seconds` for the first."""
        if self.messages.empty():
            try:
                async with asyncio.timeout(max(0.0, seconds)):
                    first = await self.messages.get()
            except TimeoutError:
                return []
            found = [first]
        else:
            found = []
        while not self.messages.empty():
            found.append(self.messages.get_nowait())
        return found

    def close(self) -> None:
        for key in self.keys:
            watchers = self.fleet.watches.get(key)
            if watchers is not None:
                watchers.discard(self)
                if not watchers:
                    del self.fleet.watches[key]


class Fleet:
    """This event loop's link to the other workers: leases, the channel, its listener."""

    def __init__(
        self, config: Mapping[str, Any], lease_seconds: float, forget: Callable[[str], None]
    ) -> None:
        self.redis = Redis(
            connection_pool=BlockingConnectionPool(
                host=config["endpoint"],
                port=config["port"],
                db=config["db"],
                password=config["password"],
                connection_class=SSLConnection if config["ssl"] else Connection,
                socket_connect_timeout=OPERATION_TIMEOUT,
                max_connections=FLEET_CONNECTIONS,
                timeout=OPERATION_TIMEOUT,
            )
        )
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self.forget = forget
        self.watches: dict[str, set[Watch]] = defaultdict(set)
        self._acquire = self.redis.register_script(_ACQUIRE)
        self._renew = self.redis.register_script(_RENEW)
        self._release = self.redis.register_script(_RELEASE)
        self._listener: asyncio.Task[None] | None = None
        self._down_until = 0.0
        #: The settings it was made from (fleet_for_loop makes a new one when they change).
        self.config: dict[str, Any] = {}

    # -- leases -------------------------------------------------------------------------------

    async def acquire(self, cache_keys: list[str]) -> Lease | None:
        """Lease what nobody holds; None when Redis cannot be asked (fetch without one)."""
        loop = asyncio.get_running_loop()
        if loop.time() < self._down_until:
            return None
        self._listen()
        token = secrets.token_hex(12)
        try:
            got = await within(
                self._acquire(
                    keys=[LEASE_PREFIX + key for key in cache_keys], args=[token, self.lease_ms]
                ),
                OPERATION_TIMEOUT,
            )
        except Exception as exc:  # noqa: BLE001 - Redis down or slow: fetch without a lease
            self._down(exc)
            return None
        indexes = {int(i) - 1 for i in got}
        return Lease(
            token,
            tuple(k for i, k in enumerate(cache_keys) if i in indexes),
            tuple(k for i, k in enumerate(cache_keys) if i not in indexes),
        )

    @contextlib.asynccontextmanager
    async def holding(self, lease: Lease) -> AsyncIterator[None]:
        """Keep `lease.mine` leased while the block runs; release it after."""
        renewing = asyncio.get_running_loop().create_task(self._keep(lease))
        try:
            yield
        finally:
            renewing.cancel()
            await self._script(self._release, lease)

    async def _keep(self, lease: Lease) -> None:
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            await self._script(self._renew, lease)

    async def _script(self, script: Any, lease: Lease) -> None:
        try:
            await within(
                script(
                    keys=[LEASE_PREFIX + key for key in lease.mine],
                    args=[lease.token, self.lease_ms],
                ),
                OPERATION_TIMEOUT,
            )
        except Exception:
            logger.debug("fleet: could not renew or release a lease", exc_info=True)

    # -- the channel --------------------------------------------------------------------------

    async def filled(self, cache_keys: list[str]) -> None:
        await self._publish({"kind": "filled", "keys": cache_keys})

    async def failed(self, cache_keys: list[str], error: ExternalServiceError) -> None:
        await self._publish({"kind": "failed", "keys": cache_keys, "error": describe(error)})

    async def forgotten(self, cache_keys: list[str]) -> None:
        await self._publish({"kind": "forget", "keys": cache_keys})

    def watch(self, cache_keys: Iterable[str]) -> Watch:
        self._listen()
        return Watch(self, cache_keys)

    async def _publish(self, message: dict[str, Any]) -> None:
        if not message["keys"] or asyncio.get_running_loop().time() < self._down_until:
            return
        try:
            await within(self.redis.publish(CHANNEL, json.dumps(message)), OPERATION_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - waiters poll; invalidation then waits for TTLs
            self._down(exc)

    def _listen(self) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.get_running_loop().create_task(self._receive())

    async def _receive(self) -> None:
        listener = asyncio.current_task()

        def raise_if_cancelled() -> None:  # a cancellation redis-py swallowed
            if listener is not None and listener.cancelling():
                raise asyncio.CancelledError

        while True:
            raise_if_cancelled()
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                while True:
                    raise_if_cancelled()
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=LISTEN_POLL
                    )
                    if message is not None and message.get("type") == "message":
                        self._dispatch(json.loads(message["data"]))
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.debug("fleet: listener lost Redis", exc_info=True)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(DOWN_BACKOFF)

    def _dispatch(self, message: dict[str, Any]) -> None:
        keys = [k for k in message.get("keys", ()) if isinstance(k, str)]
        if message.get("kind") == "forget":
            for key in keys:
                self.forget(key)
        woken: set[Watch] = set()
        for key in keys:
            woken |= self.watches.get(key, set())
        for watch in woken:
            watch.messages.put_nowait(message)

    def _down(self, exc: BaseException) -> None:
        if asyncio.get_running_loop().time() >= self._down_until:
            logger.warning(
                "fleet: Redis unavailable (%s); fetching without leases", type(exc).__name__
            )
        self._down_until = asyncio.get_running_loop().time() + DOWN_BACKOFF

    async def aclose(self) -> None:
        """Stop the listener (waiting at most a few polls: it notices a cancellation redis-py
        swallowed at its next poll) and close the connections."""
        listener = self._listener
        if listener is not None:
            listener.cancel()
            await asyncio.wait({listener}, timeout=3 * LISTEN_POLL)
            if not listener.done():
                logger.warning("fleet: the channel listener did not stop; left behind")
        await self.redis.aclose()


def describe(error: ExternalServiceError) -> dict[str, Any]:
    """An error as the channel carries it (what a coded GraphQL error needs, no more)."""
    return {
        "type": type(error).__name__,
        "service": error.service,
        "operation": error.operation,
        "detail": error.detail,
        "retryable": error.retryable,
        "status": error.status,
    }


def revive(data: Mapping[str, Any]) -> ExternalServiceError:
    """The error another worker's fetch ended with, as this worker reports it."""
    cls = getattr(errors, str(data.get("type")), None)
    if not (isinstance(cls, type) and issubclass(cls, ExternalServiceError)):
        cls = errors.ServiceUnavailable
    return cls(
        str(data.get("service", "")),
        str(data.get("operation", "fetch")),
        str(data.get("detail", "failed in another worker")),
        retryable=bool(data.get("retryable", True)),
        status=data.get("status") if isinstance(data.get("status"), int) else None,
    )


_fleets: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Fleet] = weakref.WeakKeyDictionary()


def fleet_for_loop(forget: Callable[[str], None]) -> Fleet | None:
    """This event loop's Fleet, or None when workers share no Redis (CACHE_URL memory://) or
    UPSTREAM_LEASE_MS is 0."""
    if settings.CACHE_CONFIG["backend"] != "redis" or settings.UPSTREAM_LEASE_MS <= 0:
        return None
    loop = asyncio.get_running_loop()
    config = {**settings.CACHE_CONFIG, "lease_ms": settings.UPSTREAM_LEASE_MS}
    fleet = _fleets.get(loop)
    if fleet is None or fleet.config != config:
        if fleet is not None:  # the settings changed (tests): the old one closes in the back
            closing = loop.create_task(fleet.aclose())
            _closing.add(closing)
            closing.add_done_callback(_closing.discard)
        fleet = _fleets[loop] = Fleet(settings.CACHE_CONFIG, config["lease_ms"] / 1000, forget)
        fleet.config = config
    return fleet


_closing: set[asyncio.Task[None]] = set()


async def close_fleet() -> None:
    """Stop this loop's listener and close its Redis connections (at shutdown)."""
    with contextlib.suppress(RuntimeError):
        fleet = _fleets.pop(asyncio.get_running_loop(), None)
        if fleet is not None:
            await fleet.aclose()
