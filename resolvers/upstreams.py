"""One client per external system per event loop, built from settings, each with its own pool.

Per event loop because httpx pools (like aiocache's Redis pool) belong to the loop that opened
them: uvicorn runs one loop per worker process, tests one per test. `close_upstreams()` runs at
ASGI shutdown (django_project/asgi.py): FileMaker sessions are logged out, then the pools close.
A pool per system (sized like its bulkhead) so that one system hanging cannot hold the
connections the others need.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from clients.base import ExternalClient
from clients.pool import PoolFactory, new_pool
from resolvers import filemaker, geocoder, salesforce, tax_assessor

#: service name -> how to build its client. A new system adds one line here.
BUILDERS: Mapping[str, Callable[[PoolFactory], ExternalClient]] = MappingProxyType(
    {
        "filemaker": filemaker.build_client,
        "salesforce": salesforce.build_client,
        "tax_assessor": tax_assessor.build_client,
        "geocoder": geocoder.build_client,
    }
)


@dataclass(frozen=True)
class Upstreams:
    clients: Mapping[str, ExternalClient]

    def __getitem__(self, service: str) -> ExternalClient:
        return self.clients[service]

    async def aclose(self) -> None:
        try:
            await asyncio.gather(*(client.aclose() for client in self.clients.values()))
        finally:
            await asyncio.gather(*(client.http.aclose() for client in self.clients.values()))


_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Upstreams] = (
    weakref.WeakKeyDictionary()
)


def get_upstreams() -> Upstreams:
    """This event loop's clients, built on first use."""
    loop = asyncio.get_running_loop()
    upstreams = _per_loop.get(loop)
    if upstreams is None:
        upstreams = Upstreams(clients={name: build(new_pool) for name, build in BUILDERS.items()})
        _per_loop[loop] = upstreams
    return upstreams


async def close_upstreams() -> None:
    """Close this loop's clients and pool, if any were built."""
    upstreams = _per_loop.pop(asyncio.get_running_loop(), None)
    if upstreams is not None:
        await upstreams.aclose()
