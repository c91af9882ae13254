"""The /_emulator control surface and the faults, the same on every emulator."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import httpx
import pytest

from emulators.filemaker import FileMakerEmulator
from emulators.geocoder import GeocoderEmulator
from emulators.salesforce import SalesforceEmulator
from emulators.tax_assessor import TaxAssessorEmulator
from tests.emulators.conftest import FM, SF, TAX

# (emulator factory, a cheap request every emulator routes, its counted route name)
SYSTEMS = {
    "filemaker": (
        lambda **f: FileMakerEmulator(**FM, **f),
        ("DELETE", "/fmi/data/vLatest/databases/PropertyGraphDemo/sessions/nope"),
        "DELETE /fmi/data/{version}/databases/{database}/sessions/{token}",
    ),
    "salesforce": (
        lambda **f: SalesforceEmulator(**SF, **f),
        ("GET", "/services/data/v62.0/query?q=SELECT+Id+FROM+Account"),
        "GET /services/data/{version}/query",
    ),
    "tax_assessor": (
        lambda **f: TaxAssessorEmulator(**TAX, **f),
        ("GET", "/resource/uzyt-m557.json?$where=pin+in('1')"),
        "GET /resource/{dataset}.json",
    ),
    "geocoder": (
        lambda **f: GeocoderEmulator(address_count=10, **f),
        ("GET", "/geocoder/locations/onelineaddress?address=x&benchmark=4&format=json"),
        "GET /geocoder/locations/onelineaddress",
    ),
}


@pytest.fixture(params=list(SYSTEMS))
def system(request):
    build, call, route = SYSTEMS[request.param]
    return build, call, route


async def test_stats_count_every_call_except_control(system, connect):
    build, (method, path), route = system
    http = connect(build())

    for _ in range(3):
        await http.request(method, path)
    await http.get("/_emulator/stats")
    stats = (await http.get("/_emulator/stats")).json()

    assert stats["total"] == 3
    assert stats["calls"] == {route: 3}
    assert stats["max_in_flight"] == 1


async def test_faults_merge_and_empty_changes_nothing(system, connect):
    build, *_ = system
    http = connect(build())

    first = (await http.post("/_emulator/faults", json={"latency_ms": 5, "error_rate": 0.5})).json()
    unchanged = (await http.post("/_emulator/faults", json={})).json()
    second = (await http.post("/_emulator/faults", json={"error_status": 502})).json()

    assert unchanged == first
    assert (second["latency_ms"], second["error_rate"], second["error_status"]) == (5, 0.5, 502)


@pytest.mark.parametrize(
    "bad",
    [{"error_rate": 1.5}, {"hang": "yes"}, {"latency_ms": -1}, {"nonsense": 1}, [1, 2]],
)
async def test_bad_faults_are_refused_and_change_nothing(system, connect, bad):
    build, *_ = system
    http = connect(build())
    before = (await http.get("/_emulator/faults")).json()

    response = await http.post("/_emulator/faults", json=bad)

    assert response.status_code == 400
    assert "error" in response.json()
    assert (await http.get("/_emulator/faults")).json() == before


async def test_reset_clears_faults_and_counters(system, connect):
    build, (method, path), _ = system
    http = connect(build(error_rate=1))
    await http.request(method, path)

    await http.post("/_emulator/reset")

    assert (await http.get("/_emulator/stats")).json()["total"] == 0
    assert (await http.get("/_emulator/faults")).json()["error_rate"] == 0


@pytest.mark.parametrize(
    ("faults", "status", "retry_after"),
    [
        ({"error_rate": 1, "error_status": 503}, 503, "1"),
        ({"error_rate": 1, "error_status": 429, "retry_after": 7}, 429, "7"),
        ({"error_rate": 1, "error_status": 500}, 500, None),
    ],
)
async def test_error_rate_answers_the_chosen_status(system, connect, faults, status, retry_after):
    build, (method, path), _ = system
    http = connect(build(**faults))

    response = await http.request(method, path)

    assert response.status_code == status
    assert response.headers.get("Retry-After") == retry_after


async def test_retry_after_as_http_date(system, connect):
    build, (method, path), _ = system
    http = connect(
        build(error_rate=1, error_status=503, retry_after=30, retry_after_format="http-date")
    )

    response = await http.request(method, path)

    assert parsedate_to_datetime(response.headers["Retry-After"]).tzinfo is not None


async def test_partial_error_rate_is_partial(system, connect):
    build, (method, path), _ = system
    http = connect(build(error_rate=0.5, error_status=503))

    statuses = [(await http.request(method, path)).status_code for _ in range(40)]

    assert 5 < statuses.count(503) < 35


async def test_malformed_body_does_not_parse(system, connect):
    build, (method, path), _ = system
    http = connect(build(malformed=True))

    response = await http.request(method, path)

    with pytest.raises(ValueError):  # noqa: PT011 - any JSON decode error
        response.json()


async def test_dropped_connection_breaks_the_exchange(system, connect):
    build, (method, path), _ = system
    http = connect(build(drop=True))

    with pytest.raises(Exception) as caught:  # noqa: PT011 - in-process the app's error surfaces
        await http.request(method, path)

    assert type(caught.value).__name__ == "DroppedConnection"


#: How each real system says its quota is spent: status, a header, and what the body says.
QUOTA_ANSWERS = {
    "filemaker": (500, {}, lambda body: body["messages"][0]["code"] == "953"),
    "salesforce": (
        403,
        {"Sforce-Limit-Info": "api-usage=100000/100000"},
        lambda body: body[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED",
    ),
    "tax_assessor": (429, {"Retry-After": "60"}, lambda body: body["code"] == "throttled"),
    "geocoder": (429, {"Retry-After": "3600"}, lambda body: body is None),
}


@pytest.mark.parametrize("name", list(SYSTEMS))
async def test_quota_exhausted_answers_as_the_real_system_does(name, connect):
    build, (method, path), _ = SYSTEMS[name]
    http = connect(build(quota_exhausted=True))

    response = await http.request(method, path)

    status, headers, says = QUOTA_ANSWERS[name]
    assert response.status_code == status
    assert {k: response.headers.get(k) for k in headers} == headers
    body = response.json() if "json" in response.headers.get("content-type", "") else None
    assert says(body), response.text[:200]


async def test_latency_is_added(system, connect):
    import time

    build, (method, path), _ = system
    http = connect(build(latency_ms=60))

    started = time.perf_counter()
    await http.request(method, path)

    assert time.perf_counter() - started >= 0.06


def test_hang_over_loopback_outlasts_the_client_timeout():
    from tests.emulators.conftest import on_loopback

    app = TaxAssessorEmulator(**TAX, hang=True, hang_seconds=5)
    with on_loopback(app) as base, pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{base}/resource/uzyt-m557.json", timeout=httpx.Timeout(2.0, read=0.3))
