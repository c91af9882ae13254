"""OpenTelemetry tracing in one process: the SDK's in-memory exporter records the spans of
requests served by uvicorn (the ASGI app as production builds it, tracing middleware
included) to the in-process emulators.

Across processes and through a real gateway: tests/reliability/test_tracing_over_sockets.py.
"""

from __future__ import annotations

import io
import json
import secrets
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.test.globals_test import reset_trace_globals
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client.parser import text_string_to_metric_families

from django_project import tracing
from resolvers.telemetry import tracing_on
from tests.conftest import post_untraced, serve_asgi

pytestmark = pytest.mark.django_db(transaction=True)

PAGE = """
query Page { properties(pagination: {limit: 3}) { results {
  parcelId listing { agentName } taxAssessment { taxYear } } } }
"""
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def ask(url: str, query: str, **headers: str) -> dict[str, Any]:
    return post_untraced(f"{url}/graphql/", {"query": query}, **headers)


def by_name(finished: tuple[ReadableSpan, ...]) -> dict[str, list[ReadableSpan]]:
    found: dict[str, list[ReadableSpan]] = {}
    for span in finished:
        found.setdefault(span.name, []).append(span)
    return found


def is_redis(span: ReadableSpan) -> bool:
    return (span.attributes or {}).get("db.system") == "redis"


def is_setup_redis(span: ReadableSpan) -> bool:
    """A Redis command outside any request (a fixture emptying the cache): a trace root."""
    return is_redis(span) and span.parent is None


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def test_a_request_continues_the_callers_trace_with_a_span_per_batch_and_upstream_call(
    recorded_spans, emulators_sync
):
    call_command("seed_demo", count=3, stdout=io.StringIO())
    with serve_asgi() as url:
        body = ask(url, PAGE, traceparent=f"00-{TRACE_ID}-{PARENT_ID}-01")
        cold = recorded_spans.get_finished_spans()
        recorded_spans.clear()
        warm_body = ask(url, PAGE)
        warm = recorded_spans.get_finished_spans()
    assert "errors" not in body
    assert warm_body == body

    named = by_name(cold)
    # the server span continues the caller's trace, under the caller's span
    (server,) = [s for s in cold if s.kind is SpanKind.SERVER]
    assert format(server.context.trace_id, "032x") == TRACE_ID
    assert server.parent is not None
    assert server.parent.is_remote
    assert format(server.parent.span_id, "016x") == PARENT_ID
    # every span is in that trace (but a Redis command the test's own set-up sent)
    request_spans = [s for s in cold if not is_setup_redis(s)]
    assert {format(s.context.trace_id, "032x") for s in request_spans} == {TRACE_ID}
    # the operation is on it; a batch per system that waited, one span per upstream call
    assert server.attributes["graphql.operation.type"] == "query"
    assert server.attributes["graphql.operation.name"] == "Page"
    assert server.attributes["graphql.errors"] == 0
    assert server.attributes["loader.fetched"] == 6
    assert server.attributes["loader.fetched.systems"] == ("filemaker", "tax_assessor")
    assert "graphql.parse_ms" in server.attributes
    for system, call in (("filemaker", "find_records"), ("tax_assessor", "get_assessments")):
        (batch,) = named[f"{system} batch"]
        assert parent_of(batch) == server.context.span_id
        assert batch.attributes["loader.keys"] == 3
        assert batch.attributes["loader.fetched"] == 3
        calls = [s for s in cold if s.attributes.get("upstream.system") == system]
        upstream = [s for s in calls if s.attributes.get("upstream.operation") == call]
        assert len(upstream) == 1, [s.name for s in calls]
        assert parent_of(upstream[0]) == batch.context.span_id
        assert upstream[0].status.status_code is StatusCode.UNSET
        assert upstream[0].attributes["upstream.outcome"] == "ok"
        assert upstream[0].attributes["upstream.attempts"] == 1
    assert "GraphQL Resolving: parcelId" not in named  # no field spans unless asked
    # warm: the cache answered every key, so the request is one span that says so (and,
    # with a Redis cache, the instrumentation's span for each Redis command under it; the
    # cold request's cache writes and lease releases may end in this window too, in the
    # cold request's trace)
    (warm_server,) = [s for s in warm if not is_redis(s)]
    assert warm_server.kind is SpanKind.SERVER
    warm_trace = [s for s in warm if s.context.trace_id == warm_server.context.trace_id]
    assert all(parent_of(s) == warm_server.context.span_id for s in warm_trace if is_redis(s))
    assert all(is_redis(s) for s in warm if s not in warm_trace)
    assert warm_server.attributes["loader.hit"] == 6
    assert "loader.fetched" not in warm_server.attributes


async def test_without_a_server_span_the_operation_is_a_span_of_its_own(
    recorded_spans, async_client, emulators
):
    """The Django test client calls the view with no ASGI instrumentation around it."""
    await sync_to_async(call_command)("seed_demo", count=3, stdout=io.StringIO())

    response = await async_client.post(
        "/graphql/", data=json.dumps({"query": PAGE}), content_type="application/json"
    )

    assert response.status_code == 200
    (operation,) = by_name(recorded_spans.get_finished_spans())["query Page"]
    assert operation.attributes["loader.fetched"] == 6
    batches = [s for s in recorded_spans.get_finished_spans() if s.name.endswith(" batch")]
    assert len(batches) == 2
    assert all(parent_of(batch) == operation.context.span_id for batch in batches)


def test_a_failing_upstream_call_says_how_it_failed_and_how_often_it_was_tried(
    recorded_spans, emulators_sync
):
    call_command("seed_demo", count=3, stdout=io.StringIO())
    emulators_sync["tax_assessor"].set_faults(error_rate=1, error_status=503)
    with serve_asgi() as url:
        body = ask(url, PAGE)
    assert body["errors"]

    finished = recorded_spans.get_finished_spans()
    (failed,) = [s for s in finished if s.name == "tax_assessor get_assessments"]
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description.startswith(failed.attributes["upstream.outcome"])
    assert failed.attributes["upstream.attempts"] == 3
    assert failed.attributes["upstream.retries"] == 2
    (batch,) = by_name(finished)["tax_assessor batch"]
    assert batch.attributes["loader.failed"] == 3
    assert not failed.events  # no exception event with a traceback


def test_field_spans_only_when_asked(recorded_spans, emulators_sync, settings):
    call_command("seed_demo", count=3, stdout=io.StringIO())
    settings.GRAPHQL_TRACE_FIELDS = True
    with serve_asgi() as url:
        ask(url, PAGE)

    named = by_name(recorded_spans.get_finished_spans())
    assert len(named["GraphQL Resolving: taxAssessment"]) == 3
    assert len(named["GraphQL Resolving: listing"]) == 3


def test_no_span_or_middleware_without_a_tracer_provider(emulators_sync):
    reset_trace_globals()
    from django_project.asgi import build_application

    assert not tracing_on()
    assert type(build_application()).__name__ != "OpenTelemetryMiddleware"


def test_spans_carry_no_credentials(recorded_spans, emulators_sync, settings):
    call_command("seed_demo", count=3, stdout=io.StringIO())
    token = f"pgt_{secrets.token_urlsafe(24)}"
    with serve_asgi() as url:
        refused = httpx.post(
            f"{url}/graphql/",
            json={"query": PAGE},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        ask(url, PAGE)
    assert refused.status_code == 401

    secrets_in_settings = [
        str(value)
        for system in settings.EXTERNAL_SYSTEMS
        for name, value in getattr(settings, system.upper()).items()
        if any(word in name for word in ("password", "secret", "key", "token"))
        and value
        and len(str(value)) > 4
    ]
    assert secrets_in_settings
    dumped = " ".join(span.to_json() for span in recorded_spans.get_finished_spans())
    for secret in [token, *secrets_in_settings]:
        assert secret not in dumped


def test_tracing_is_configured_by_the_standard_variables(monkeypatch):
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    assert not tracing.tracing_configured()

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector.internal:4318")
    assert tracing.tracing_configured()
    assert type(tracing.otlp_exporter()).__module__.endswith("proto.http.trace_exporter")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    assert type(tracing.otlp_exporter()).__module__.endswith("proto.grpc.trace_exporter")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")
    with pytest.raises(ImproperlyConfigured, match="http/protobuf or grpc"):
        tracing.otlp_exporter()

    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not tracing.tracing_configured()


def test_metrics_are_unchanged_by_tracing(recorded_spans, emulators_sync, settings):
    settings.METRICS = "open"
    call_command("seed_demo", count=3, stdout=io.StringIO())
    with serve_asgi() as url:
        ask(url, PAGE)
        metrics = httpx.get(f"{url}/metrics", timeout=30).text

    labels = {
        name
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        for name in sample.labels
    }
    assert 'external_cache_lookups_total{result="fetched",service="tax_assessor"}' in metrics
    assert {"service", "operation", "code"} <= labels
    assert not [name for name in labels if "trace" in name or "span" in name]
    # and the scrape itself is not traced
    finished = recorded_spans.get_finished_spans()
    assert [s.name for s in finished if s.kind is SpanKind.SERVER] == ["POST /graphql/"]


def test_long_attribute_values_are_cut(recorded_spans, emulators_sync):
    call_command("seed_demo", count=1, stdout=io.StringIO())
    padding = "#" * 5000  # a GET's URL carries the whole document
    query = (
        f"query Long {{ properties(pagination: {{limit: 1}}) {{ results {{ id }} }} }} {padding}"
    )
    with serve_asgi() as url:
        response = httpx.get(f"{url}/graphql/", params={"query": query}, timeout=30)
    assert response.status_code == 200

    (server,) = [s for s in recorded_spans.get_finished_spans() if s.kind is SpanKind.SERVER]
    assert server.attributes["graphql.operation.name"] == "Long"
    longest = max(len(str(v)) for v in server.attributes.values())
    assert longest == tracing.ATTRIBUTE_VALUE_LENGTH
