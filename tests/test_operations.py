"""Operations: /healthz, /readyz, /metrics, warm_cache, JSON logs and production settings."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from asgiref.sync import sync_to_async
from django.core.management import CommandError, call_command
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from django_project import ops
from tests.conftest_emulators import calls, graphql_async, http_only

PAGE = """
query Page { properties(pagination: {limit: 5}) { results { parcelId
  listing { agentName } owner { name } taxAssessment { taxYear } location { latitude }
  permits { permitNumber } openViolations { caseNumber } } } }
"""


def seed(count: int) -> None:
    call_command("seed_demo", count=count, stdout=io.StringIO())


def scrape(client) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def growth(before, after, name: str, **labels: str) -> float:
    """How much a sample grew between two scrapes."""
    return value(after, name, **labels) - value(before, name, **labels)


def test_healthz_answers_without_dependencies(client):
    response = client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.django_db(transaction=True)
async def test_readyz_reports_database_cache_and_each_breaker(async_client, emulators, settings):
    response = await async_client.get("/readyz")

    body = response.json()
    assert response.status_code == 200
    assert body["ready"] is True
    assert body["database"]["ok"] is True
    assert body["cache"]["ok"] is True
    assert set(body["services"]) == set(settings.EXTERNAL_SYSTEMS)
    assert body["services"]["geocoder"] == {
        "circuit": "closed",
        "consecutiveFailures": 0,
        "lastFailureSecondsAgo": None,
        "connections": {"inUse": 0, "limit": 20, "waiting": 0},
    }
    assert body["admission"] == {
        "inFlight": 0,
        "limit": 512,
        "loopLagMs": 0.0,
        "saturated": False,
    }


@pytest.mark.django_db(transaction=True)
async def test_readyz_is_503_when_the_cache_is_down(async_client, emulators, settings):
    settings.CACHE_CONFIG = {
        "backend": "redis",
        "endpoint": "127.0.0.1",
        "port": 1,
        "db": 0,
        "password": None,
        "ssl": False,
    }

    response = await async_client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["ready"] is False
    assert response.json()["cache"]["ok"] is False
    assert response.json()["database"]["ok"] is True


@pytest.mark.django_db(transaction=True)
async def test_readyz_is_503_when_the_database_is_down(async_client, emulators, monkeypatch):
    from django.db import OperationalError

    def down() -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(ops, "_database_ping", down)

    response = await async_client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["database"] == {"ok": False, "error": "OperationalError"}


@pytest.mark.django_db(transaction=True)
async def test_external_systems_down_do_not_make_the_app_unready(async_client, emulators):
    await sync_to_async(seed)(3)
    for app in http_only(emulators).values():
        app.set_faults(error_rate=1)
    await graphql_async(async_client, PAGE)

    response = await async_client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["services"]["tax_assessor"]["consecutiveFailures"] >= 1
    assert response.json()["services"]["tax_assessor"]["lastFailureSecondsAgo"] >= 0


@pytest.mark.django_db(transaction=True)
async def test_metrics_follow_calls_cache_hits_failures_retries_and_the_breaker(
    async_client, emulators, settings
):
    # given
    settings.METRICS = "open"
    settings.TAX_ASSESSOR = {**settings.TAX_ASSESSOR, "breaker_threshold": 1}
    await sync_to_async(seed)(5)
    get = sync_to_async(lambda: scrape(Client()))
    before = await get()

    # when: a cold query, the same query warm, then one with the tax assessor failing
    await graphql_async(async_client, PAGE)
    await graphql_async(async_client, PAGE)
    await sync_to_async(seed)(8)
    emulators["tax_assessor"].set_faults(error_rate=1, error_status=503)
    await graphql_async(async_client, PAGE.replace("limit: 5", "limit: 8"))
    after = await get()

    # then
    def delta(name: str, **labels: str) -> float:
        return growth(before, after, name, **labels)

    tax = {"service": "tax_assessor", "operation": "get_assessments"}
    assert delta("upstream_calls_total", outcome="ok", **tax) == 1
    assert delta("upstream_calls_total", outcome="ServiceUnavailable", **tax) >= 2
    assert delta("upstream_call_duration_seconds_count", **tax) >= 3
    assert (
        delta(
            "stamina_retries_total",
            callable="<context block>",
            retry_num="1",
            error_type="clients.errors.ServiceUnavailable",
        )
        >= 1
    )
    assert delta("external_cache_lookups_total", service="tax_assessor", result="hit") >= 4
    assert delta("external_cache_lookups_total", service="tax_assessor", result="failed") == 3
    assert delta("external_cache_lookups_total", service="filemaker", result="fetched") == 8
    assert value(after, "upstream_circuit_open", service="tax_assessor") == 1
    assert delta("graphql_operations_total", operation="Page", type="query") == 3
    assert delta("graphql_errors_total", code="EXTERNAL_SERVICE_UNAVAILABLE") == 3
    assert delta("graphql_upstream_calls_per_operation_count", service="geocoder") == 3
    assert delta("graphql_upstream_calls_per_operation_sum", service="geocoder") == 2


@pytest.mark.django_db
def test_http_refusals_are_counted_by_code(client, settings):
    settings.METRICS = "open"
    before = scrape(client)

    client.post(
        "/graphql/", data="{}", content_type="application/json", HTTP_AUTHORIZATION="Bearer x"
    )
    client.post(
        "/graphql/", data="{}", content_type="application/json", HTTP_AUTHORIZATION="Bearer y"
    )
    client.put("/graphql/", data="{}", content_type="application/json")
    after = scrape(client)

    refusals = "graphql_http_refusals_total"
    assert growth(before, after, refusals, code="UNAUTHENTICATED") == 2
    assert growth(before, after, refusals, code="METHOD_NOT_ALLOWED") == 1


@pytest.mark.django_db
def test_operations_refused_by_extensions_are_counted(client, settings):
    settings.METRICS = "open"
    settings.GRAPHQL_MAX_COST = 10
    before = scrape(client)

    for body in (
        {"query": "{ properties(pagination: {limit: 50}) { results { id } } }"},
        {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "ab" * 32}}},
    ):
        client.post("/graphql/", data=json.dumps(body), content_type="application/json")
    after = scrape(client)

    errors = "graphql_errors_total"
    assert growth(before, after, errors, code="COST_LIMIT_EXCEEDED") == 1
    assert growth(before, after, errors, code="PERSISTED_QUERY_NOT_FOUND") == 1
    assert growth(before, after, "graphql_persisted_queries_total", outcome="not_found") == 1


@pytest.mark.django_db
def test_metrics_guard(client, settings):
    settings.METRICS = "off"
    assert client.get("/metrics").status_code == 404

    settings.METRICS = "token"
    settings.METRICS_TOKEN = "a-long-metrics-token-123"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    allowed = client.get("/metrics", HTTP_AUTHORIZATION="Bearer a-long-metrics-token-123")
    assert allowed.status_code == 200
    assert b"graphql_operations_total" in allowed.content or b"# HELP" in allowed.content


@pytest.mark.django_db(transaction=True)
def test_warm_cache_makes_the_next_query_free(emulators_sync):
    # given
    seed(20)
    out, err = io.StringIO(), io.StringIO()

    # when
    call_command("warm_cache", batch_size=8, no_progress=True, stdout=out, stderr=err)
    before = {name: calls(app, data_only=False) for name, app in emulators_sync.items()}
    response = Client().post(
        "/graphql/",
        data=json.dumps({"query": PAGE.replace("limit: 5", "limit: 20")}),
        content_type="application/json",
    )

    # then: batches of 8 -> 3 calls per system, and the query afterwards made none
    assert calls(emulators_sync["tax_assessor"]) == 3
    assert "errors" not in response.json()
    assert {name: calls(app, data_only=False) for name, app in emulators_sync.items()} == before
    report = out.getvalue()
    assert "Warmed 20 properties." in report
    rows = {line.rsplit(None, 6)[0]: line.split()[-6:] for line in report.splitlines()[2:]}
    assert rows["filemaker"] == ["20", "0", "0", "0", "0", "0"]
    # one row per kind of record when a system has several: each counts one key per property
    assert rows["legacy_permits (permits)"][0] == "20"
    assert rows["legacy_permits (violations)"][0] == "20"


@pytest.mark.django_db(transaction=True)
def test_warm_cache_reports_failures(emulators_sync):
    seed(3)
    emulators_sync["geocoder"].set_faults(error_rate=1, error_status=500)
    out = io.StringIO()

    with pytest.raises(CommandError, match="could not be fetched"):
        call_command("warm_cache", no_progress=True, stdout=out, stderr=io.StringIO())

    geocoder_row = next(line for line in out.getvalue().splitlines() if line.startswith("geocoder"))
    assert geocoder_row.split()[-1] == "3"


#: Variables CI or a developer may have set that these subprocesses must not inherit.
INHERITED = {"DEBUG", "SECRET_KEY", "DATABASE_URL", "CACHE_URL", "ALLOWED_HOSTS", "PRODUCTION"}


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in INHERITED
        and not k.startswith(("FILEMAKER_", "SALESFORCE_", "TAX_", "GEOCODER_", "LEGACY_"))
    }
    return subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_names_every_missing_variable():
    result = run_python("import django_project.settings", PRODUCTION="1")

    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    for name in (
        "SECRET_KEY",
        "DATABASE_URL",
        "CACHE_URL",
        "ALLOWED_HOSTS",
        "FILEMAKER_PASSWORD",
        "SALESFORCE_CLIENT_SECRET",
        "TAX_ASSESSOR_URL",
        "GEOCODER_URL",
    ):
        assert name in message


def test_json_logs_keep_structured_fields():
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('clients.base').info("
        "'call done', extra={'service': 'geocoder', 'duration_ms': 12.5})"
    )
    result = run_python(
        code, DJANGO_SETTINGS_MODULE="django_project.settings", DEBUG="1", LOG_FORMAT="json"
    )

    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "call done"
    assert (line["service"], line["duration_ms"], line["level"]) == ("geocoder", 12.5, "INFO")
