"""One client per external system per event loop, built from settings, each with its own pool.

Every system in settings.EXTERNAL_SYSTEMS (resolvers/registry.py) gets its client here.

Per event loop because httpx pools (like aiocache's Redis pool) belong to the loop that opened
them: uvicorn runs one loop per worker process, tests one per test. `close_upstreams()` runs at
ASGI shutdown (django_project/asgi.py): FileMaker sessions are logged out, then the pools close.
A pool per system (sized like its bulkhead) so that one system hanging cannot hold the
connections the others need.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from clients.core import ExternalClient
from clients.pool import new_pool
from resolvers.fleet import close_fleet
from resolvers.registry import integrations


@dataclass(frozen=True)
class Upstreams:
    clients: Mapping[str, ExternalClient[Any]]

    def __getitem__(self, service: str) -> ExternalClient[Any]:
        return self.clients[service]

    async def aclose(self) -> None:
        try:
            await asyncio.gather(*(client.aclose() for client in self.clients.values()))
        finally:
            await asyncio.gather(*(client.close_pool() for client in self.clients.values()))


_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Upstreams] = (
    weakref.WeakKeyDictionary()
)


def get_upstreams() -> Upstreams:
    """This event loop's clients, built on first use."""
    loop = asyncio.get_running_loop()
    upstreams = _per_loop.get(loop)
    if upstreams is None:
        upstreams = Upstreams(clients={i.service: i.build_client(new_pool) for i in integrations()})
        _per_loop[loop] = upstreams
    return upstreams


async def close_upstreams() -> None:
    """Close this loop's clients and pools, if any were built, and its link to the other
    workers (resolvers/fleet.py)."""
    upstreams = _per_loop.pop(asyncio.get_running_loop(), None)
    if upstreams is not None:
        await upstreams.aclose()
    await close_fleet()
