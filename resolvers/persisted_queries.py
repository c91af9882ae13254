"""Where Automatic Persisted Queries live: the shared cache (Redis in production), so a query
registered through one worker is found by every other."""

from __future__ import annotations

import logging

from django.conf import settings
from prometheus_client import Counter

from resolvers.cache import get_cache

logger = logging.getLogger(__name__)

PERSISTED_QUERIES = Counter(
    "graphql_persisted_queries",
    "Requests carrying a persisted query or refused for lacking one, by outcome: hit, "
    "registered, not_found, not_in_list, not_supported, bad_request.",
    ["outcome"],
)


def _key(sha256_hash: str) -> str:
    return f"apq:v1:{sha256_hash}"


async def find_persisted_query(sha256_hash: str) -> str | None:
    """The query registered under `sha256_hash`; None when unknown or the cache is down (the
    client then sends the full query, which still works)."""
    try:
        found = await get_cache().get(_key(sha256_hash))
    except Exception:  # noqa: BLE001 - an outage reads as a miss
        logger.warning("APQ cache: lookup failed; answering PERSISTED_QUERY_NOT_FOUND")
        return None
    return found if isinstance(found, str) else None


async def register_persisted_query(sha256_hash: str, query: str) -> None:
    """Keep `query` under its hash for GRAPHQL_APQ_TTL seconds (refreshed on each register)."""
    try:
        await get_cache().set(_key(sha256_hash), query, ttl=settings.GRAPHQL_APQ_TTL)
    except Exception:  # noqa: BLE001 - the query ran; only the next request's shortcut is lost
        logger.warning("APQ cache: could not register a persisted query")
