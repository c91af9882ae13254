"""Our subgraph composed with a second one and queried through a real, unmodified Apollo gateway.

tests/federation/gateway.mjs uses @apollo/composition and @apollo/gateway from the npm registry
(pinned in tests/federation/package.json; `make test` installs them). Needs Node.js: skipped
without it on a developer machine, a failure in CI.
"""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from django.core.management import call_command

from tests.conftest import NODE_PEERS as PEERS
from tests.conftest import node_with, post_untraced, serve_asgi
from tests.conftest_emulators import http_only

pytestmark = pytest.mark.django_db(transaction=True)

QUERY = """
{ properties(pagination: {limit: 3}) { results {
    parcelId city reviews { rating comment } taxAssessment { taxYear } } } }
"""


@contextmanager
def running_gateway(app_url: str, *node_options: str, **env: str) -> Iterator[str]:
    """gateway.mjs in front of our subgraph at `app_url`; yields the gateway's URL."""
    node = node_with("@apollo/gateway")
    process = subprocess.Popen(  # noqa: S603
        [node, *node_options, "gateway.mjs"],
        cwd=PEERS,
        env={**os.environ, "PROPERTIES_URL": f"{app_url}/graphql/", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        seen = []
        for _ in range(50):  # the script prints READY once composed and listening
            line = process.stdout.readline()
            seen.append(line)
            if line.startswith("READY ") or not line:
                break
        if not seen[-1].startswith("READY "):
            pytest.fail("gateway did not start:\n" + "".join(seen)[-3000:])
        yield seen[-1].strip().removeprefix("READY ")
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def gateway(emulators_sync, settings) -> Iterator[tuple[str, dict]]:
    call_command("seed_demo", count=5, stdout=io.StringIO())
    with serve_asgi() as app_url, running_gateway(app_url) as url:
        yield url, emulators_sync


def test_query_across_subgraphs_and_a_failing_upstream_through_the_gateway(gateway):
    url, emulators = gateway

    # when: a query that needs both subgraphs
    body = httpx.post(url, json={"query": QUERY}, timeout=30).json()

    # then: one answer, fields from both
    rows = body["data"]["properties"]["results"]
    assert "errors" not in body
    assert len(rows) == 3
    assert rows[0]["reviews"] == [
        {"rating": 4, "comment": f"Quiet street near {rows[0]['parcelId']}"}
    ]
    assert all(row["taxAssessment"]["taxYear"] == 2024 for row in rows)

    # when: the tax assessor goes down
    emulators["tax_assessor"].reset()
    emulators["tax_assessor"].set_faults(error_rate=1, error_status=503)
    for app in http_only(emulators).values():
        app.calls.clear()
    body = httpx.post(url, json={"query": QUERY.replace("limit: 3", "limit: 5")}, timeout=30).json()

    # then: through the gateway, that field is null with our coded error; the rest answers
    rows = body["data"]["properties"]["results"]
    assert [row["taxAssessment"] for row in rows[3:]] == [None, None]
    assert all(row["reviews"] for row in rows)
    codes = {e.get("extensions", {}).get("code") for e in body["errors"]}
    assert "EXTERNAL_SERVICE_UNAVAILABLE" in codes
    assert any(e["path"][-1] == "taxAssessment" for e in body["errors"])


def test_a_traced_gateways_trace_continues_through_us_and_it_reads_our_ftv1(
    recorded_spans, emulators_sync
):
    """The gateway as a traced Node service runs it (OpenTelemetry's SDK and http
    instrumentation) and asks for inline traces as Apollo's usage reporting does."""
    call_command("seed_demo", count=3, stdout=io.StringIO())
    trace_id, caller_span = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"

    with (
        serve_asgi() as app_url,
        running_gateway(app_url, "--require", "./tracing.cjs", CAPTURE_TRACES="1") as url,
    ):
        body = post_untraced(url, {"query": QUERY}, traceparent=f"00-{trace_id}-{caller_span}-01")

    assert "errors" not in body
    # the gateway continued the caller's trace and passed it on: our server span is in it,
    # under a span of the gateway's own (not the caller's, which a mere copy would give)
    # (the other server span is the script's own `_service` request at start-up)
    servers = [s for s in recorded_spans.get_finished_spans() if s.kind.name == "SERVER"]
    joined = [s for s in servers if format(s.context.trace_id, "032x") == trace_id]
    assert len(joined) == 1, [(s.name, s.context.trace_id) for s in servers]
    (server,) = joined
    assert server.parent is not None
    assert server.parent.is_remote
    assert format(server.parent.span_id, "016x") != caller_span
    # and it asked us for ftv1 and decoded it with Apollo's protobuf code: our fields, timed
    (ours,) = [t for t in body["extensions"]["subgraphTraces"] if t["serviceName"] == "properties"]
    assert ours["traceParsingFailed"] is False
    assert ours["durationNs"] > 0
    timed = {tuple(f["path"]): f["durationNs"] for f in ours["fields"]}
    for row in range(3):
        assert timed[("properties", "results", row, "taxAssessment")] >= 0
    assert ("properties",) in timed
