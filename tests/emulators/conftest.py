"""Emulators served in-process (httpx.ASGITransport) or on loopback (uvicorn in a thread)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from emulators.base import Emulator
from tests.processes import in_thread

FM = {"database": "PropertyGraphDemo", "username": "demo-api", "password": "demo-fm-pass"}
SF = {"client_id": "3MVG9demo.key", "client_secret": "demo-sf-secret"}
TAX = {"app_token": "demo-app-token", "dataset": "uzyt-m557"}


def in_process(app: Emulator, base_url: str = "http://emulator.test") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


@pytest.fixture
async def connect() -> AsyncIterator[Callable[[Emulator], httpx.AsyncClient]]:
    opened: list[httpx.AsyncClient] = []

    def open_client(app: Emulator) -> httpx.AsyncClient:
        client = in_process(app)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        await client.aclose()


@contextmanager
def on_loopback(app: Emulator) -> Iterator[str]:
    """Serve the emulator with uvicorn on a free 127.0.0.1 port; yields its base URL."""
    with in_thread(app, lifespan="off") as url:
        yield url
