"""32 concurrent clients while one external system at a time misbehaves: nothing fails.

The whole stack runs in-process: the Django ASGI app behind httpx.ASGITransport, the real
clients, loaders and cache, and the emulators standing in for the four systems. Bounded by
count (32 clients x 2 requests per scenario), not by time. No verdict depends on the
machine's speed: the budget is generous (time is not what these scenarios are about: a hang
outlasts it whatever it is), cached values are aged with a clock the test moves, and the
breaker's cool-down passes on a clock too.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import time
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command

from django_project.asgi import application
from django_project.properties.models import Property
from emulators import data
from resolvers.upstreams import get_upstreams
from tests.clocks import FakeClock

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

CLIENTS = 32
REQUESTS_PER_CLIENT = 2
PROPERTIES = 40
WARMED = 20  # the first 20 properties were read before the fault: they can be served stale
BUDGET = 2.0

FIELD = {
    "filemaker": "listing",
    "salesforce": "owner",
    "tax_assessor": "taxAssessment",
    "geocoder": "location",
}
QUERY = """
query Detail($id: ID!) {
  property(id: $id) {
    id parcelId
    listing { recordId agentName }
    owner { id name }
    taxAssessment { taxYear totalValue }
    location { latitude longitude }
  }
}
"""
FAULTS = {
    "down": {"error_rate": 1, "error_status": 503, "retry_after": 0},
    "hang": {"hang": True, "hang_seconds": 60},
    "5xx_burst": {"error_rate": 0.5, "error_status": 502},
    "429_storm": {"error_rate": 1, "error_status": 429, "retry_after": 1},
    "malformed": {"malformed": True},
    "token_expiry": {"expire_tokens": True},
    "quota": {"quota_exhausted": True},
}
CODES = {
    "EXTERNAL_SERVICE_UNAVAILABLE",
    "EXTERNAL_SERVICE_TIMEOUT",
    "EXTERNAL_SERVICE_RATE_LIMITED",
    "EXTERNAL_SERVICE_BAD_RESPONSE",
}


def expected_fields(index: int) -> dict[str, Any]:
    """What each external field holds for demo property `index` when its system is healthy."""
    listing = data.listing(index)
    account = data.account(index)
    return {
        "listing": {"recordId": str(listing.record_id), "agentName": listing.agent_name},
        "owner": None if account is None else {"id": account["Id"], "name": account["Name"]},
        "taxAssessment": (
            {"taxYear": 2024, "totalValue": data.assessment_rows(index)[-1]["mailed_tot"]}
            if data.has_assessment(index)
            else None
        ),
        "location": (
            dict(zip(("longitude", "latitude"), data.coordinates(index), strict=True))
            if data.geocodes(index)
            else None
        ),
    }


async def run_load(
    http: httpx.AsyncClient, ids: list[int]
) -> list[tuple[float, httpx.Response, int]]:
    async def client(worker: int) -> list[tuple[float, httpx.Response, int]]:
        out = []
        for n in range(REQUESTS_PER_CLIENT):
            index = (worker * REQUESTS_PER_CLIENT + n) % len(ids)
            started = time.perf_counter()
            response = await http.post(
                "/graphql/", json={"query": QUERY, "variables": {"id": str(ids[index])}}
            )
            out.append((time.perf_counter() - started, response, index))
        return out

    batches = await asyncio.gather(*(client(w) for w in range(CLIENTS)))
    return [item for batch in batches for item in batch]


@pytest.fixture
async def stack(emulators, settings, monkeypatch):
    settings.GRAPHQL_EXTERNAL_BUDGET = BUDGET
    clock = FakeClock()
    monkeypatch.setattr("resolvers.loader.wall_clock", clock)
    for name in FIELD:
        key = name.upper()
        setattr(settings, key, {**getattr(settings, key), "read_timeout": 0.4, "retry_budget": 0.8})
        # Fresh for a minute, kept a day: once the clock moves on, everything read before a
        # fault is stale during it.
        setattr(settings, f"{key}_CACHE", {"ttl": 60, "negative_ttl": 60, "stale_ttl": 86400})
    await sync_to_async(call_command)("seed_demo", count=PROPERTIES, stdout=io.StringIO())
    ids = [p.pk async for p in Property.objects.order_by("pk")]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url="http://testserver"
    ) as http:
        yield http, ids, emulators, clock


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("service", list(FIELD))
async def test_one_system_misbehaving_under_load(stack, service, fault):
    http, ids, emulators, clock = stack
    # given: the first WARMED properties were read while all was well, two minutes ago
    for pk in ids[:WARMED]:
        await http.post("/graphql/", json={"query": QUERY, "variables": {"id": str(pk)}})
    clock.now += 120
    emulators[service].set_faults(**FAULTS[fault])

    # when
    results = await run_load(http, ids)

    # then: no 5xx, always GraphQL JSON with data
    assert all(response.status_code == 200 for _, response, _ in results)
    field = FIELD[service]
    for _, response, index in results:
        body = response.json()
        row = body["data"]["property"]
        expected = expected_fields(index)
        # unaffected fields are exactly right
        for other, value in expected.items():
            if other != field:
                assert row[other] == value, (other, index)
        # the affected field is right (fresh or stale, and then flagged), or null with a code
        errors = [e for e in body.get("errors", []) if e["path"] == ["property", field]]
        stale = [
            s
            for s in body.get("extensions", {}).get("stale", [])
            if s["path"] == ["property", field]
        ]
        if row[field] is None and errors:
            assert errors[0]["extensions"]["code"] in CODES
            assert errors[0]["extensions"]["service"] == service
        else:
            assert row[field] == expected[field]
            assert not errors
            if stale:
                assert stale[0]["service"] == service
        assert [e for e in body.get("errors", []) if e["path"] != ["property", field]] == []
    latencies = sorted(seconds for seconds, _, _ in results)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    assert p99 < BUDGET + 1.0, f"p99 {p99:.2f}s, median {statistics.median(latencies):.2f}s"


async def test_breaker_opens_stops_calls_and_closes_after_recovery(stack, settings):
    http, ids, emulators, clock = stack
    settings.TAX_ASSESSOR = {
        **settings.TAX_ASSESSOR,
        "breaker_threshold": 3,
        "breaker_cooldown": 5.0,
    }
    tax = emulators["tax_assessor"]
    get_upstreams()["tax_assessor"].breaker.clock = clock
    tax.set_faults(error_rate=1, error_status=503, retry_after=0)

    # when: requests fail until the breaker opens
    for pk in ids[WARMED : WARMED + 6]:
        await http.post("/graphql/", json={"query": QUERY, "variables": {"id": str(pk)}})
    ready = (await http.get("/readyz")).json()
    assert ready["services"]["tax_assessor"]["circuit"] == "open"

    # then: while open, 32 clients cause no call at all
    calls_before = tax.stats()["total"]
    results = await run_load(http, ids[WARMED:])
    assert tax.stats()["total"] == calls_before
    codes = {e["extensions"]["code"] for _, r, _ in results for e in r.json().get("errors", [])}
    assert codes == {"EXTERNAL_SERVICE_UNAVAILABLE"}

    # when: the assessor recovers and the cool-down passes
    tax.set_faults(error_rate=0)
    clock.now += 5.1
    body = (
        await http.post("/graphql/", json={"query": QUERY, "variables": {"id": str(ids[-1])}})
    ).json()

    # then: one probe closed the circuit and the field is back
    assert (
        body["data"]["property"]["taxAssessment"]
        == expected_fields(PROPERTIES - 1)["taxAssessment"]
    )
    assert (await http.get("/readyz")).json()["services"]["tax_assessor"]["circuit"] == "closed"
