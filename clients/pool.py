"""The pooled HTTP client each external system gets for itself (one per system per loop)."""

from __future__ import annotations

from typing import Protocol

import httpx

HttpPool = httpx.AsyncClient


class PoolFactory(Protocol):
    def __call__(self, *, max_connections: int) -> HttpPool: ...


def new_pool(*, max_connections: int = 20) -> HttpPool:
    """One system's pool: keep-alive across requests, no redirects followed blindly.

    Sized like the system's bulkhead (clients/bulkhead.py), which decides who waits, so this
    pool never queues a call by itself. Each client passes its own timeouts per request; the
    pool's default is only a backstop.
    """
    return httpx.AsyncClient(
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        timeout=httpx.Timeout(10.0),
        follow_redirects=False,
        headers={"User-Agent": "property-graph/0.1"},
    )
