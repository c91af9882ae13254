"""Tracing as production runs it: the app as its own uvicorn process, configured only by the
standard OTEL_* variables, exporting OTLP over HTTP to a collector stand-in in this process,
with the emulators as processes (real sockets, so httpx's own spans too)."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.conftest import post_untraced
from tests.processes import app_server, demo_environment, emulators, manage

pytestmark = pytest.mark.reliability

QUERY = """
query Page { properties(pagination: {limit: 3}) { results {
  parcelId listing { agentName } owner { name } taxAssessment { taxYear } location { latitude }
} } }
"""
TRACE_ID = "5b8efff798038103d269b633813fc60c"
CALLER_SPAN = "eee19b7ec3c1b174"
#: The demo's credentials (.env.example): none may appear in any span.
SECRETS = (
    "demo-filemaker-password",
    "demo-salesforce-consumer-secret",
    "demo-socrata-app-token",
    "3MVG9demo.consumer.key",
)


class Collector:
    """An OTLP/HTTP receiver: decodes each export with OpenTelemetry's own protobuf classes
    and keeps the spans as dicts."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                collector.add(request, self.path)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, request: ExportTraceServiceRequest, path: str) -> None:
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {}
                    for a in span.attributes:
                        value = a.value
                        attributes[a.key] = getattr(
                            value, value.WhichOneof("value") or "string_value"
                        )
                    found = {
                        "path": path,
                        "service": resource.get("service.name"),
                        "name": span.name,
                        "kind": span.kind,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_id": span.parent_span_id.hex(),
                        "status": span.status.code,
                        "attributes": attributes,
                    }
                    with self.lock:
                        self.spans.append(found)

    def wait_for(self, done: Any, *, timeout: float = 60.0) -> list[dict[str, Any]]:
        """The spans once `done(spans)` holds; a bound on waiting, not a verdict on speed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                spans = list(self.spans)
            if done(spans):
                return spans
            time.sleep(0.1)
        pytest.fail(f"the collector did not receive the expected spans: {spans}")


@pytest.fixture
def collector() -> Iterator[Collector]:
    found = Collector()
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        found.server.shutdown()


def test_an_app_configured_by_otel_variables_exports_the_callers_trace(collector):
    with tempfile.TemporaryDirectory() as tmp:
        log = (Path(tmp) / "processes.log").open("w")
        env = demo_environment(
            DEBUG="0",
            SECRET_KEY="trace-test-only-secret-key-0123456789abcdefghijklmnop",
            DATABASE_URL=f"sqlite:///{tmp}/trace.sqlite3",
            CACHE_URL="memory://",
            LOG_LEVEL="WARNING",
            OTEL_EXPORTER_OTLP_ENDPOINT=collector.url,
            OTEL_SERVICE_NAME="property-graph-under-test",
            OTEL_BSP_SCHEDULE_DELAY="50",
        )
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo", "--count", "3")
        with emulators(env, log) as urls:
            env.update({f"{name.upper()}_URL": url for name, url in urls.items()})
            with app_server(env, log) as base:
                body = post_untraced(
                    f"{base}/graphql/",
                    {"query": QUERY},
                    traceparent=f"00-{TRACE_ID}-{CALLER_SPAN}-01",
                )

                def complete(spans: list[dict[str, Any]]) -> bool:
                    ours = [s for s in spans if s["trace_id"] == TRACE_ID]
                    return any(s["name"] == "POST /graphql/" for s in ours)

                spans = collector.wait_for(complete)

    assert "errors" not in body
    ours = [s for s in spans if s["trace_id"] == TRACE_ID]
    assert {s["path"] for s in ours} == {"/v1/traces"}
    assert {s["service"] for s in ours} == {"property-graph-under-test"}
    (server,) = [s for s in ours if s["name"] == "POST /graphql/"]
    assert server["parent_id"] == CALLER_SPAN
    assert server["attributes"]["graphql.operation.name"] == "Page"
    # every system: its batch, its call, and the HTTP exchanges under the call
    by_id = {s["span_id"]: s for s in ours}
    for system in ("filemaker", "salesforce", "tax_assessor", "geocoder"):
        calls = [
            s
            for s in ours
            if s["attributes"].get("upstream.system") == system
            and "upstream.outcome" in s["attributes"]
        ]
        assert calls, system
        assert all(c["attributes"]["upstream.outcome"] == "ok" for c in calls)
        exchanges = [s for s in ours if by_id.get(s["parent_id"]) in calls]
        assert exchanges, f"no HTTP span under {system}'s calls"
        for exchange in exchanges:
            url = exchange["attributes"].get("url.full") or exchange["attributes"]["http.url"]
            assert url.startswith("http://127.0.0.1:")
            assert "?" not in url
    dumped = repr(spans)
    for secret in SECRETS:
        assert secret not in dumped
