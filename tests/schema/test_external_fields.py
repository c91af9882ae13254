"""Property's external fields through the async GraphQL view: batching, caching, failures.

The clients, loaders and cache run for real against in-process emulators (see conftest.py),
and every claim about upstream traffic is checked by counting at the emulators.
"""

from __future__ import annotations

import asyncio
import io
import math

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission, User
from django.core.management import call_command

from django_project.properties.models import Property
from emulators import data
from tests.clocks import FakeClock
from tests.conftest_emulators import calls, graphql_async, http_only

pytestmark = pytest.mark.django_db(transaction=True)

ALL_FOUR = """
query Page($limit: Int!, $offset: Int! = 0) {
  properties(pagination: {limit: $limit, offset: $offset}) {
    results {
      id parcelId
      listing { recordId modId agentName listingStatus showingNotes listPrice lastModified }
      owner { id name phone ownerName lastActivityDate }
      taxAssessment { taxYear stage landValue buildingValue totalValue township }
      location { latitude longitude matchedAddress matchType }
    }
  }
}
"""

TAX_ONLY = """
query Tax($limit: Int!) {
  properties(pagination: {limit: $limit}) { results { parcelId taxAssessment { taxYear } } }
}
"""


def seed(count: int) -> None:
    call_command("seed_demo", count=count, stdout=io.StringIO())


def results(body: dict) -> list[dict]:
    return body["data"]["properties"]["results"]


async def test_all_four_fields_come_back_filled_from_the_real_shapes(async_client, emulators):
    await sync_to_async(seed)(3)

    body = await graphql_async(async_client, ALL_FOUR, {"limit": 1})

    assert "errors" not in body
    (row,) = results(body)
    listing = data.listing(0)
    assert row["listing"]["recordId"] == "1"
    assert row["listing"]["agentName"] == listing.agent_name
    assert row["listing"]["lastModified"].startswith("2026-11-01T")
    assert row["owner"]["id"] == data.account(0)["Id"]
    assert row["taxAssessment"]["taxYear"] == 2024
    assert row["taxAssessment"]["stage"] == "MAILED"
    assert row["location"]["matchType"] == "EXACT"
    assert -88.3 < row["location"]["longitude"] < -87.5


@pytest.mark.parametrize("count", [1, 50, 500])
async def test_one_upstream_call_per_system_per_batch_then_none_when_cached(
    async_client, emulators, settings, count
):
    # given: a page of `count` properties (the page cap and cost limit raised for the largest)
    settings.GRAPHQL_MAX_PAGE_SIZE = 500
    settings.GRAPHQL_MAX_COST = 10_000
    settings.STRAWBERRY_DJANGO = {**settings.STRAWBERRY_DJANGO, "PAGINATION_MAX_LIMIT": 500}
    await sync_to_async(seed)(count)

    # when
    cold = await graphql_async(async_client, ALL_FOUR, {"limit": count})

    # then: at most one call per system per batch-limit chunk
    assert len(results(cold)) == count
    assert "errors" not in cold
    filemaker, salesforce, tax, geocoder = (
        emulators[name] for name in ("filemaker", "salesforce", "tax_assessor", "geocoder")
    )
    assert calls(filemaker) == math.ceil(count / settings.FILEMAKER["batch_size"])
    assert calls(tax) == math.ceil(count / settings.TAX_ASSESSOR["batch_size"])
    assert calls(geocoder) == math.ceil(count / settings.GEOCODER["batch_size"])
    # Salesforce chunks by URI length (2,000 characters), about 70 parcel ids per query.
    assert calls(salesforce) <= math.ceil(count / 60)
    assert calls(filemaker, data_only=False) - calls(filemaker) == 1  # one login

    # when: the same page again
    before = {name: calls(app, data_only=False) for name, app in http_only(emulators).items()}
    warm = await graphql_async(async_client, ALL_FOUR, {"limit": count})

    # then: everything from the cache
    assert results(warm) == results(cold)
    assert {name: calls(app, data_only=False) for name, app in http_only(emulators).items()} == (
        before
    )


async def test_the_four_systems_are_called_at_the_same_time(async_client, emulators):
    # given: sessions already open, a cold cache, and half a second per upstream call
    await sync_to_async(seed)(10)
    await graphql_async(async_client, ALL_FOUR, {"limit": 1})
    for app in http_only(emulators).values():
        app.set_faults(latency_ms=500)
        app.timeline.clear()

    # when
    await graphql_async(async_client, ALL_FOUR, {"limit": 10, "offset": 0})

    # then: every system's call was in flight while every other's was (seen from their side)
    spans = [app.timeline[-1][1:] for app in http_only(emulators).values()]
    latest_start = max(start for start, _ in spans)
    earliest_end = min(end for _, end in spans)
    assert latest_start < earliest_end


@pytest.mark.parametrize(
    ("faults", "code"),
    [
        ({"error_rate": 1, "error_status": 503}, "EXTERNAL_SERVICE_UNAVAILABLE"),
        ({"error_rate": 1, "error_status": 500}, "EXTERNAL_SERVICE_UNAVAILABLE"),
        (
            {"error_rate": 1, "error_status": 429, "retry_after": 30},
            "EXTERNAL_SERVICE_RATE_LIMITED",
        ),
        ({"malformed": True}, "EXTERNAL_SERVICE_BAD_RESPONSE"),
        ({"hang": True, "hang_seconds": 60}, "EXTERNAL_SERVICE_TIMEOUT"),
    ],
)
@pytest.mark.parametrize("failing", ["filemaker", "salesforce", "tax_assessor", "geocoder"])
async def test_one_system_failing_nulls_only_its_field(
    async_client, emulators, settings, failing, faults, code
):
    # given: a budget generous for the healthy systems, which a hang outlasts anyway
    settings.GRAPHQL_EXTERNAL_BUDGET = 1.0
    await sync_to_async(seed)(4)
    emulators[failing].set_faults(**faults)
    field = {
        "filemaker": "listing",
        "salesforce": "owner",
        "tax_assessor": "taxAssessment",
        "geocoder": "location",
    }[failing]

    # when
    body = await graphql_async(async_client, ALL_FOUR, {"limit": 4})

    # then: that field is null on every row, with one coded error each
    rows = results(body)
    assert [row[field] for row in rows] == [None] * 4
    assert sorted(e["path"][2] for e in body["errors"]) == [0, 1, 2, 3]
    for error in body["errors"]:
        assert error["path"][-1] == field
        assert error["extensions"]["code"] == code
        assert error["extensions"]["service"] == failing
        assert isinstance(error["extensions"]["retryable"], bool)
        assert "Traceback" not in error["message"]
    # and every other field is there
    others = {"listing", "owner", "taxAssessment", "location"} - {field}
    assert all(rows[0][other] is not None for other in others)


async def test_stale_value_is_served_and_flagged_when_the_upstream_fails(
    async_client, emulators, settings, monkeypatch
):
    # given: assessments fresh for a minute, kept a day as a fallback, read two minutes ago
    clock = FakeClock()
    monkeypatch.setattr("resolvers.loader.wall_clock", clock)
    settings.TAX_ASSESSOR_CACHE = {"ttl": 60, "negative_ttl": 60, "stale_ttl": 86400}
    await sync_to_async(seed)(3)
    fresh = await graphql_async(async_client, TAX_ONLY, {"limit": 3})
    clock.now += 120
    emulators["tax_assessor"].set_faults(error_rate=1)

    # when
    body = await graphql_async(async_client, TAX_ONLY, {"limit": 3})

    # then: the old values, marked stale, and no error
    assert results(body) == results(fresh)
    assert "errors" not in body
    stale = body["extensions"]["stale"]
    assert [s["path"] for s in stale] == [
        ["properties", "results", i, "taxAssessment"] for i in range(3)
    ]
    assert all(s["service"] == "tax_assessor" and s["ageSeconds"] == 120 for s in stale)


async def test_absent_records_are_cached_briefly(async_client, emulators):
    # given: index 5's parcel has no assessment at the county
    await sync_to_async(seed)(6)
    first = await graphql_async(async_client, TAX_ONLY, {"limit": 6})
    assert results(first)[5]["taxAssessment"] is None
    assert "errors" not in first

    # when
    await graphql_async(async_client, TAX_ONLY, {"limit": 6})

    # then: nobody asked the county twice
    assert calls(emulators["tax_assessor"]) == 1


async def test_errors_are_not_cached(async_client, emulators):
    await sync_to_async(seed)(2)
    emulators["tax_assessor"].set_faults(error_rate=1, error_status=500)
    failed = await graphql_async(async_client, TAX_ONLY, {"limit": 2})
    emulators["tax_assessor"].set_faults(error_rate=0)

    recovered = await graphql_async(async_client, TAX_ONLY, {"limit": 2})

    assert failed["errors"]
    assert "errors" not in recovered
    assert results(recovered)[0]["taxAssessment"]["taxYear"] == 2024


async def test_concurrent_identical_queries_share_one_fetch(async_client, emulators):
    await sync_to_async(seed)(5)
    await graphql_async(
        async_client,
        "{ properties(pagination: {limit: 1}) { results { listing { recordId } owner { id } } } }",
    )
    for app in http_only(emulators).values():
        app.calls.clear()  # keep the open sessions; count only what follows
        app.set_faults(latency_ms=50)

    bodies = await asyncio.gather(
        *(graphql_async(async_client, ALL_FOUR, {"limit": 5, "offset": 0}) for _ in range(20))
    )

    assert all("errors" not in b for b in bodies)
    assert all(results(b) == results(bodies[0]) for b in bodies)
    assert {name: calls(app) for name, app in http_only(emulators).items()} == {
        "filemaker": 1,
        "salesforce": 1,
        "tax_assessor": 1,
        "geocoder": 1,
    }


async def test_the_request_budget_bounds_a_slow_system(async_client, emulators, settings):
    settings.GRAPHQL_EXTERNAL_BUDGET = 1.0
    await sync_to_async(seed)(2)
    emulators["geocoder"].set_faults(latency_ms=60_000)

    body = await graphql_async(async_client, ALL_FOUR, {"limit": 2})

    assert [row["location"] for row in results(body)] == [None, None]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"EXTERNAL_SERVICE_TIMEOUT"}
    assert "1 s budget" in body["errors"][0]["message"]
    assert all(row["listing"] is not None for row in results(body))


UPDATE_LISTING = """
mutation Update($propertyId: ID!, $modId: String!, $input: ListingUpdateInput!) {
  updateListing(propertyId: $propertyId, modId: $modId, input: $input) {
    recordId modId showingNotes listingStatus
  }
}
"""

LISTING = """
query One($id: ID!) { property(id: $id) { listing { modId showingNotes } } }
"""


@pytest.fixture
async def editor_client(async_client):
    def make():
        user = User.objects.create_user("lister", password="lister-pass-1234")
        user.user_permissions.add(Permission.objects.get(codename="change_property"))
        return user

    user = await sync_to_async(make)()
    await async_client.aforce_login(user)
    return async_client


async def test_update_listing_writes_invalidates_and_returns_the_fresh_listing(
    editor_client, emulators
):
    await sync_to_async(seed)(2)
    prop = await Property.objects.order_by("pk").afirst()
    before = await graphql_async(editor_client, LISTING, {"id": str(prop.pk)})
    mod_id = before["data"]["property"]["listing"]["modId"]

    body = await graphql_async(
        editor_client,
        UPDATE_LISTING,
        {"propertyId": str(prop.pk), "modId": mod_id, "input": {"showingNotes": "Call first"}},
    )
    after = await graphql_async(editor_client, LISTING, {"id": str(prop.pk)})

    assert body["data"]["updateListing"]["showingNotes"] == "Call first"
    assert body["data"]["updateListing"]["modId"] == str(int(mod_id) + 1)
    assert after["data"]["property"]["listing"] == {
        "modId": str(int(mod_id) + 1),
        "showingNotes": "Call first",
    }
    patches = [r for r in emulators["filemaker"].stats()["calls"] if r.startswith("PATCH")]
    assert emulators["filemaker"].stats()["calls"][patches[0]] == 1


async def test_update_listing_with_a_stale_mod_id_is_a_conflict(editor_client, emulators):
    await sync_to_async(seed)(1)
    prop = await Property.objects.afirst()
    first = {"propertyId": str(prop.pk), "modId": "1", "input": {"showingNotes": "One"}}
    await graphql_async(editor_client, UPDATE_LISTING, first)

    body = await graphql_async(
        editor_client, UPDATE_LISTING, {**first, "input": {"showingNotes": "Two"}}
    )

    assert body["data"]["updateListing"] is None
    (error,) = body["errors"]
    assert error["extensions"] == {
        "code": "EXTERNAL_SERVICE_CONFLICT",
        "service": "filemaker",
        "retryable": False,
    }
    assert "reload" in error["message"]


async def test_update_listing_is_not_retried_when_filemaker_fails(editor_client, emulators):
    await sync_to_async(seed)(1)
    prop = await Property.objects.afirst()
    await graphql_async(editor_client, LISTING, {"id": str(prop.pk)})  # opens the session
    emulators["filemaker"].set_faults(error_rate=1, error_status=503)

    body = await graphql_async(
        editor_client,
        UPDATE_LISTING,
        {"propertyId": str(prop.pk), "modId": "1", "input": {"showingNotes": "x"}},
    )

    assert body["errors"][0]["extensions"]["code"] == "EXTERNAL_SERVICE_UNAVAILABLE"
    patches = sum(
        n for r, n in emulators["filemaker"].stats()["calls"].items() if r.startswith("PATCH")
    )
    assert patches == 1


async def test_update_listing_needs_the_permission(async_client, emulators):
    await sync_to_async(seed)(1)
    prop = await Property.objects.afirst()

    body = await graphql_async(
        async_client,
        UPDATE_LISTING,
        {"propertyId": str(prop.pk), "modId": "1", "input": {"showingNotes": "x"}},
    )

    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert calls(emulators["filemaker"], data_only=False) == 0
