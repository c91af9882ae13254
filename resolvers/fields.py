"""What a schema resolver calls to read an external field: staleness reported here."""

from __future__ import annotations

from typing import Any, TypeVar

from resolvers.loader import ExternalLoader, Stale

V = TypeVar("V")


async def resolve_external(info: Any, loader: ExternalLoader[Any, V], key: Any) -> V | None:
    """The value for `key`, or None when the upstream has none.

    A value served from cache past its TTL (the upstream failed, or did not answer within the
    request's budget) is returned and listed in the response's `extensions.stale`. The loader
    applies the budget (resolvers/loader.py): it bounds waiting for upstreams only.

    Raises:
        GraphQLError: the upstream failed, or did not answer within the budget, and nothing
            cached could stand in.
    """
    result = await loader.load(key)
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
