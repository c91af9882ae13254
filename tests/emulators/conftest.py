"""Emulators served in-process (httpx.ASGITransport) or on loopback (uvicorn in a thread)."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
import stamina
import uvicorn

from emulators.base import Emulator

FM = {"database": "PropertyGraphDemo", "username": "demo-api", "password": "demo-fm-pass"}
SF = {"client_id": "3MVG9demo.key", "client_secret": "demo-sf-secret"}
TAX = {"app_token": "demo-app-token", "dataset": "uzyt-m557"}


@pytest.fixture(autouse=True)
def no_backoff_sleep() -> Iterator[None]:
    with stamina.set_testing(True, attempts=3, cap=True):
        yield


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
    """Serve `app` with uvicorn on a free 127.0.0.1 port; yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="critical", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("emulator did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True
        thread.join(timeout=10)
