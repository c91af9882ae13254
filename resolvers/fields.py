"""What a schema resolver calls to read an external field: deadline and staleness handled here."""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from resolvers.errors import deadline_error
from resolvers.loader import ExternalLoader, Stale

V = TypeVar("V")


async def resolve_external(info: Any, loader: ExternalLoader[Any, V], key: Any) -> V | None:
    """The value for `key`, or None when the upstream has none.

    A value served from cache past its TTL (the upstream just failed) is returned and listed
    in the response's `extensions.stale`. When the request's budget runs out first, the field
    fails with EXTERNAL_SERVICE_TIMEOUT while the fetch goes on for the next request's cache.

    Raises:
        GraphQLError: the upstream failed and nothing cached could stand in.
    """
    context = info.context
    pending = loader.load(key)
    try:
        # shield: the batch fetch is shared with other fields and requests; only we give up.
        async with asyncio.timeout_at(context.deadline):
            result = await asyncio.shield(pending)
    except TimeoutError:
        raise deadline_error(loader.service, context.budget) from None
    if isinstance(result, Stale):
        context.stale.append(
            {
                "path": [str(p) if not isinstance(p, int) else p for p in info.path.as_list()],
                "service": result.service,
                "ageSeconds": round(result.age, 1),
            }
        )
        return result.value
    return result
