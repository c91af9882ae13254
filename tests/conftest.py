"""Shared fixtures: a GraphQL-over-HTTP helper, users, and demo data."""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import stamina
from asgiref.sync import SyncToAsync
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.db import connections
from django.test import Client

from tests.processes import in_thread

pytest_plugins = ["tests.conftest_emulators"]

GraphQL = Callable[..., dict[str, Any]]


@pytest.fixture(autouse=True)
def no_backoff_sleep() -> Iterator[None]:
    """Retries run at once, in every test; the backoff hook still computes (and logs) the
    wait it asks for. Nothing here waits for a backoff in real time."""
    with stamina.set_testing(True, attempts=3, cap=True):
        yield


@pytest.fixture(autouse=True)
def close_worker_thread_connections() -> Iterator[None]:
    """After each test, the database connection asgiref's worker thread opened (a test's
    `sync_to_async` calls and Django's AsyncClient run there) is closed on that thread:
    left open, PostgreSQL refused to drop the test database at the end of the run ("being
    accessed by other users"). The app's own database threads close theirs at the lifespan
    shutdown (django_project/asgi.py)."""
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=30)


#: Real npm packages the tests run (Apollo gateway, subgraph, client), pinned in package.json.
NODE_PEERS = Path(__file__).resolve().parent / "federation"


def node_with(package: str) -> str:
    """Node's path, once `package` is installed under tests/federation; skips on a developer
    machine without them, fails in CI (`make test` installs them)."""
    node = shutil.which("node")
    if node is None or not (NODE_PEERS / "node_modules" / package).is_dir():
        if os.environ.get("CI"):
            pytest.fail(
                f"Node.js and `npm ci --prefix tests/federation` ({package}) are required in CI"
            )
        pytest.skip(f"Node.js or {package} is missing (make test installs them)")
    return node


def post_graphql(
    client: Client, query: str, variables: dict[str, Any] | None = None, **headers: Any
) -> dict[str, Any]:
    response = client.post(
        "/graphql/",
        data=json.dumps({"query": query, "variables": variables or {}}),
        content_type="application/json",
        **headers,
    )
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return {"status": response.status_code, **response.json()}


@pytest.fixture
def graphql(client: Client) -> GraphQL:
    """POST a query to /graphql/ as an anonymous client; returns the JSON body plus `status`."""

    def run(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return post_graphql(client, query, variables)

    return run


@pytest.fixture
def seeded(db: None) -> int:
    """The default demo data set (200 properties)."""
    call_command("seed_demo", count=200, stdout=io.StringIO())
    return 200


@pytest.fixture
def editor(db: None) -> User:
    user = User.objects.create_user("editor", password="editor-pass-1234")
    user.user_permissions.add(Permission.objects.get(codename="change_property"))
    return user


@pytest.fixture
def viewer(db: None) -> User:
    return User.objects.create_user("viewer", password="viewer-pass-1234")


@contextmanager
def serve_asgi() -> Iterator[str]:
    """The Django ASGI app (lifespan included) under uvicorn on a free loopback port, built
    now so it sees the test's settings."""
    from django_project.asgi import build_application

    with in_thread(build_application()) as url:
        yield url


@pytest.fixture
def recorded_spans() -> Iterator[Any]:
    """Tracing installed for this test only (django_project/tracing.py with the SDK's
    in-memory exporter instead of OTLP); every finished span lands in the exporter."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.test.globals_test import reset_trace_globals

    from django_project import tracing

    reset_trace_globals()
    exporter = InMemorySpanExporter()
    tracing.install_tracing(SimpleSpanProcessor(exporter))
    try:
        yield exporter
    finally:
        tracing.uninstall_tracing()
        reset_trace_globals()


def post_untraced(url: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    """POST JSON with urllib, not httpx: with tracing installed in this process httpx is
    instrumented, and would send a traceparent of its own."""
    import urllib.request

    request = urllib.request.Request(  # noqa: S310 - our own loopback servers
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        assert response.status == 200
        found: dict[str, Any] = json.loads(response.read())
    return found
