"""What a schema resolver calls to read an external field: staleness reported here.

Two paths. `resolve_external` awaits the loader (a coroutine, so graphql-core gives the field
a task of its own). `in_hand` answers at once, without a coroutine, when this request's
loader already holds the key's outcome: after `prefetch` loaded a page's keys for every
selected system in one batch each, a 1,000-row page resolves its external fields as plain
values, as cheaply as its local ones, instead of with four tasks per row.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, TypeVar

from resolvers.loader import ExternalLoader, Stale

V = TypeVar("V")

#: `in_hand`'s answer when the request does not hold the key's outcome yet.
NOT_IN_HAND: Any = object()


async def resolve_external(info: Any, loader: ExternalLoader[Any, V], key: Any) -> V | None:
    """The value for `key`, or None when the upstream has none.

    A value served from cache past its TTL (the upstream failed, or did not answer within the
    request's budget) is returned and listed in the response's `extensions.stale`. The loader
    applies the budget (resolvers/loader.py): it bounds waiting for upstreams only.

    Raises:
        GraphQLError: the upstream failed, or did not answer within the budget, and nothing
            cached could stand in.
    """
    value: V | None = _present(info, await loader.load(key))
    return value


def in_hand(info: Any, loader: ExternalLoader[Any, V], key: Any) -> V | None:
    """What `resolve_external` would answer, when the request already holds it; else
    NOT_IN_HAND (nothing asked for `key` yet, or its load is still under way).

    Raises:
        GraphQLError: the key's load settled with its coded error.
    """
    outcome = loader.settled.get(key, NOT_IN_HAND)
    if outcome is NOT_IN_HAND:
        future = loader.loader.cache_map.get(key)
        if future is None or not future.done() or future.cancelled():
            return NOT_IN_HAND  # type: ignore[no-any-return]
        error = future.exception()
        if error is not None:
            raise error
        outcome = future.result()
    elif isinstance(outcome, BaseException):
        raise outcome
    value: V | None = _present(info, outcome)
    return value


async def prefetch(wanted: Iterable[tuple[ExternalLoader[Any, Any], Iterable[Any]]]) -> None:
    """Load every (loader, keys) pair at once: one batch per loader, all systems in parallel,
    within the request's budget (the loaders apply it). Outcomes stay in the loaders for
    `in_hand` (a dict entry per key: no future, no callback). Never raises (a loader's
    prefetch does not): each field reports its own failure, and a key whose prefetch broke
    is loaded by its field. Waits on the batches' futures directly: no coroutine or task per
    system."""
    waits: set[asyncio.Future[None]] = set()
    for loader, keys in wanted:
        waits |= loader.prefetch_started(keys)
    if waits:
        await asyncio.gather(*waits)


def _present(info: Any, result: Any) -> Any:
    if isinstance(result, Stale):
        info.context.stale.append(
            {
                "path": [str(p) if not isinstance(p, int) else p for p in info.path.as_list()],
                "service": result.service,
                "ageSeconds": round(result.age, 1),
            }
        )
        return result.value
    return result
