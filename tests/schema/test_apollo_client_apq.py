"""Apollo Client's own persisted-query link against our server: miss, register, then hash only.

tests/federation/apq_client.mjs runs @apollo/client from the npm registry (pinned in
tests/federation/package.json, installed by `make test`) and reports each HTTP exchange.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
from collections.abc import Iterator

import pytest
from django.core.management import call_command

from tests.conftest import NODE_PEERS as PEERS
from tests.conftest import node_with, serve_asgi
from tests.conftest_emulators import clear_cache

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def run_client() -> Iterator:
    node = node_with("@apollo/client")
    call_command("seed_demo", count=7, stdout=io.StringIO())
    clear_cache()
    with serve_asgi() as app_url:

        def run() -> dict:
            done = subprocess.run(  # noqa: S603
                [node, "apq_client.mjs"],
                cwd=PEERS,
                env={**os.environ, "GRAPHQL_URL": f"{app_url}/graphql/"},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr[-2000:]
            return json.loads(done.stdout.strip().splitlines()[-1])

        yield run


def test_apollo_clients_persisted_query_link_registers_then_sends_hashes_only(run_client):
    # when: a first browser session asks for a query the server has never seen
    first = run_client()

    # then: the hash alone misses, the link retries with the query, the answer arrives
    assert first["data"]["properties"]["totalCount"] == 7
    assert [(e["method"], e["sentQuery"], e["status"]) for e in first["exchanges"]] == [
        ("GET", False, 200),
        ("POST", True, 200),
    ]
    assert first["exchanges"][0]["codes"] == ["PERSISTED_QUERY_NOT_FOUND"]
    assert first["exchanges"][1]["contentType"].startswith("application/graphql-response+json")

    # when: another session (a new client) asks again
    second = run_client()

    # then: one GET with the hash only
    assert second["data"] == first["data"]
    assert [(e["method"], e["sentQuery"], e["status"]) for e in second["exchanges"]] == [
        ("GET", False, 200)
    ]
