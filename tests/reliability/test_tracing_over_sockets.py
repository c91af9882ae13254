"""Tracing as production runs it: the app as its own uvicorn process, configured only by the
standard OTEL_* variables, exporting OTLP over HTTP to a collector stand-in in this process,
with the emulators as processes (real sockets, so httpx's own spans too)."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from django_project.bench.stack import otlp_sink
from tests.conftest import post_untraced
from tests.processes import app_server, emulators, manage, served_environment

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
    """Keeps the spans an OTLP sink (the bench's: django_project/bench/stack.py) receives, as
    dicts."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.arrived = threading.Condition()

    def __call__(self, request: ExportTraceServiceRequest, path: str) -> None:
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
                    with self.arrived:
                        self.spans.append(found)
                        self.arrived.notify_all()

    def wait_for(self, done: Any, *, timeout: float = 60.0) -> list[dict[str, Any]]:
        """The spans once `done(spans)` holds, woken by each arrival; the timeout bounds a
        failure, it is not a verdict on speed."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: done(self.spans), timeout=timeout):
                pytest.fail(f"the collector did not receive the expected spans: {self.spans}")
            return list(self.spans)


@pytest.fixture
def otlp_collector() -> Iterator[tuple[Collector, str]]:
    found = Collector()
    with otlp_sink(found) as url:
        yield found, url


def test_an_app_configured_by_otel_variables_exports_the_callers_trace(otlp_collector):
    collector, collector_url = otlp_collector
    with tempfile.TemporaryDirectory() as tmp:
        log = (Path(tmp) / "processes.log").open("w")
        env = served_environment(
            tmp,
            "trace",
            OTEL_EXPORTER_OTLP_ENDPOINT=collector_url,
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
