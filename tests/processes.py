"""Servers on loopback for tests over real sockets (pools, thread hops and queues only show up
there): an ASGI app under uvicorn in a thread of the test process, or the product and its
emulators as their own processes."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import httpx
import uvicorn

from django_project.bench.stack import free_port

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("filemaker", "salesforce", "tax_assessor", "geocoder")


@contextlib.contextmanager
def in_thread(app: Any, *, lifespan: str = "auto") -> Iterator[str]:
    """Serve the ASGI `app` with uvicorn on a free 127.0.0.1 port in a daemon thread; yields
    its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan=lifespan)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True
        thread.join(timeout=10)


def demo_environment(**overrides: str) -> dict[str, str]:
    """The demo's settings (.env.example) on top of this environment, plus `overrides`."""
    env = dict(os.environ)
    for line in (ROOT / ".env.example").read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#") and value:
            env[name.strip()] = value.strip()
    env.update({"PYTHONUNBUFFERED": "1", **overrides})
    return env


def served_environment(directory: str, name: str, **overrides: str) -> dict[str, str]:
    """`demo_environment` for an app served as in production (DEBUG off) from its own
    SQLite file `<name>.sqlite3` in `directory`, the memory cache and quiet logs, plus
    `overrides`."""
    return demo_environment(
        **{
            "DEBUG": "0",
            "SECRET_KEY": f"{name}-test-only-secret-key-0123456789abcdefghijklmnop",
            "DATABASE_URL": f"sqlite:///{directory}/{name}.sqlite3",
            "CACHE_URL": "memory://",
            "LOG_LEVEL": "WARNING",
            **overrides,
        }
    )


def manage(env: Mapping[str, str], *args: str) -> None:
    subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=dict(env),
        check=True,
        capture_output=True,
        timeout=300,
    )


@contextlib.contextmanager
def running(
    args: list[str], env: Mapping[str, str], log: IO[str]
) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(  # noqa: S603 - fixed argument lists
        args, cwd=ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT, text=True
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def wait_for(url: str, process: subprocess.Popen[str], *, timeout: float = 60.0) -> None:
    """Poll `url` until it answers (bounded by `timeout`, generous: this is start-up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:4]} exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            httpx.get(url, timeout=1.0)
            return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:g} s")


@contextlib.contextmanager
def emulators(env: Mapping[str, str], log: IO[str]) -> Iterator[dict[str, str]]:
    """`manage.py emulators` on free ports; yields each service's base URL."""
    ports = {name: free_port() for name in SERVICES}
    args = [f"--{name.replace('_', '-')}-port={port}" for name, port in ports.items()]
    with running([sys.executable, "manage.py", "emulators", *args], env, log) as process:
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        for url in urls.values():
            wait_for(f"{url}/_emulator/stats", process)
        yield urls


@contextlib.contextmanager
def app_server(env: Mapping[str, str], log: IO[str], *, workers: int = 1) -> Iterator[str]:
    """The ASGI app under uvicorn on a free port; yields its base URL."""
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "django_project.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    with running(args, env, log) as process:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/healthz", process)
        yield base


#: Emulator routes that log in rather than fetch data.
AUTH_ROUTES = ("sessions", "oauth2/token")


def data_calls(urls: Mapping[str, str]) -> dict[str, int]:
    """Data calls each emulator has answered since its last reset (logins not counted)."""
    found = {}
    for name, url in urls.items():
        calls = httpx.get(f"{url}/_emulator/stats").json()["calls"]
        found[name] = sum(n for route, n in calls.items() if not route.endswith(AUTH_ROUTES))
    return found
