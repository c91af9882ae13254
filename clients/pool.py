"""The one pooled HTTP client that every external client of a process shares."""

from __future__ import annotations

import httpx

HttpPool = httpx.AsyncClient


def new_pool(*, max_connections: int = 100, max_keepalive: int = 20) -> HttpPool:
    """A pool for all upstreams: keep-alive across requests, no redirects followed blindly.

    Each client passes its own timeouts per request; the pool's default is only a backstop.
    """
    return httpx.AsyncClient(
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_keepalive
        ),
        timeout=httpx.Timeout(10.0),
        follow_redirects=False,
        headers={"User-Agent": "property-graph/0.1"},
    )
