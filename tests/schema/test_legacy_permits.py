"""Property.permits and Property.openViolations through GraphQL: one statement per table for a
page, none warm; the arguments; the legacy database failing or crowded, alone."""

from __future__ import annotations

import asyncio
import io

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from sqlalchemy import text

from django_project.properties.models import Property
from emulators import legacy_permits as legacy
from tests.conftest_emulators import graphql_async

pytestmark = pytest.mark.django_db(transaction=True)

PAGE = """
query Page($limit: Int!) {
  properties(pagination: {limit: $limit}) {
    results {
      parcelId
      permits(first: 100) {
        permitNumber type status issuedOn expiresOn finaledOn valuation description contractor
      }
      openViolations { caseNumber openedOn closedOn codeSection status fineAmount description }
    }
  }
}
"""
ARGUMENTS = """
query Args($id: ID!) {
  property(id: $id) {
    all: permits(first: 100) { permitNumber status issuedOn }
    issued: permits(status: [ISSUED, EXPIRED]) { permitNumber status }
    recent: permits(issuedAfter: "2010-01-01", first: 2) { permitNumber issuedOn }
    listing { agentName }
  }
}
"""
PERMIT_FIELDS = (
    "permitNumber",
    "type",
    "status",
    "issuedOn",
    "expiresOn",
    "finaledOn",
    "valuation",
    "description",
    "contractor",
)


async def seed(count: int) -> list[Property]:
    await sync_to_async(call_command)("seed_demo", count=count, stdout=io.StringIO())
    return [p async for p in Property.objects.order_by("pk")]


def assert_page_is_right(body: dict, count: int) -> None:
    assert "errors" not in body, body.get("errors")
    rows = body["data"]["properties"]["results"]
    assert len(rows) == count
    for index, row in enumerate(rows):
        expected = [{k: p[k] for k in PERMIT_FIELDS} for p in legacy.expected_permits(index)]
        assert row["permits"] == expected, index
        assert row["openViolations"] == legacy.expected_open_violations(index), index


async def test_a_page_costs_one_statement_per_table_cold_and_none_warm(async_client, emulators):
    await seed(100)
    database = emulators["legacy_permits"]

    cold = await graphql_async(async_client, PAGE, {"limit": 100})
    cold_calls = database.stats()["calls"]
    warm = await graphql_async(async_client, PAGE, {"limit": 100})

    assert_page_is_right(cold, 100)
    assert cold_calls == {
        "SELECT PERMIT_STATUS": 1,
        "SELECT V_PERMITS": 1,
        "SELECT V_VIOLATIONS": 1,
    }
    assert warm == cold
    assert database.stats()["calls"] == cold_calls  # nothing more


async def test_the_same_against_mariadb_counted_by_the_server(
    async_client, emulators, legacy_mariadb, settings
):
    settings.LEGACY_PERMITS = {**settings.LEGACY_PERMITS, "url": legacy_mariadb.client_url}
    await seed(100)

    with legacy_mariadb.statement_log() as cold_statements:
        cold = await graphql_async(async_client, PAGE, {"limit": 100})
    with legacy_mariadb.statement_log() as warm_statements:
        warm = await graphql_async(async_client, PAGE, {"limit": 100})

    assert_page_is_right(cold, 100)
    assert cold_statements == {"PERMIT_STATUS": 1, "V_PERMITS": 1, "V_VIOLATIONS": 1}
    assert warm == cold
    assert warm_statements == {}


async def test_arguments_filter_each_property_after_one_batch(async_client, emulators):
    rows = await seed(3)
    index = next(i for i in range(3) if len(legacy.expected_permits(i)) >= 3)

    body = await graphql_async(async_client, ARGUMENTS, {"id": str(rows[index].pk)})

    expected = legacy.expected_permits(index)
    found = body["data"]["property"]
    assert "errors" not in body
    assert [p["permitNumber"] for p in found["all"]] == [p["permitNumber"] for p in expected]
    assert [p["permitNumber"] for p in found["issued"]] == [
        p["permitNumber"] for p in expected if p["status"] in {"ISSUED", "EXPIRED"}
    ]
    assert [p["permitNumber"] for p in found["recent"]] == [
        p["permitNumber"] for p in expected if p["issuedOn"] > "2010-01-01"
    ][:2]
    # three aliases, one statement on the view
    assert emulators["legacy_permits"].stats()["calls"]["SELECT V_PERMITS"] == 1


async def test_null_and_empty_arguments_mean_no_filter_and_the_default_count(
    async_client, emulators
):
    rows = await seed(3)
    index = max(range(3), key=lambda i: len(legacy.expected_permits(i)))
    query = """
    query Nulls($id: ID!, $statuses: [PermitStatus!]) {
      property(id: $id) {
        plain: permits { permitNumber }
        nulls: permits(status: null, issuedAfter: null, first: null) { permitNumber }
        empty: permits(status: []) { permitNumber }
        variable: permits(status: $statuses) { permitNumber status }
      }
    }
    """

    body = await graphql_async(
        async_client, query, {"id": str(rows[index].pk), "statuses": ["ISSUED"]}
    )

    found = body["data"]["property"]
    expected = [p["permitNumber"] for p in legacy.expected_permits(index)][:20]
    assert "errors" not in body
    assert [p["permitNumber"] for p in found["plain"]] == expected
    assert found["nulls"] == found["empty"] == found["plain"]
    assert [p["permitNumber"] for p in found["variable"]] == [
        p["permitNumber"] for p in legacy.expected_permits(index) if p["status"] == "ISSUED"
    ][:20]


@pytest.mark.parametrize("first", [0, 101, -5])
async def test_first_out_of_range_is_bad_user_input(async_client, emulators, first):
    rows = await seed(1)

    body = await graphql_async(
        async_client,
        "query($id: ID!, $n: Int) { property(id: $id) { permits(first: $n) { permitNumber } } }",
        {"id": str(rows[0].pk), "n": first},
    )

    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "first must be between 1 and 100" in error["message"]


async def test_the_database_down_nulls_only_its_fields_with_a_coded_error(
    async_client, emulators, settings
):
    settings.LEGACY_PERMITS = {
        **settings.LEGACY_PERMITS,
        "url": "mysql+aiomysql://nobody:nothing@127.0.0.1:9/permits",
        "connect_timeout": 0.5,
    }
    await seed(2)

    body = await graphql_async(
        async_client,
        "{ properties(pagination: {limit: 2}) { results { listing { agentName } "
        "permits { permitNumber } openViolations { caseNumber } } } }",
    )

    rows = body["data"]["properties"]["results"]
    assert [(r["permits"], r["openViolations"]) for r in rows] == [(None, None)] * 2
    assert all(r["listing"] is not None for r in rows)
    assert {
        (e["path"][-1], e["extensions"]["code"], e["extensions"]["service"]) for e in body["errors"]
    } == {
        ("permits", "EXTERNAL_SERVICE_UNAVAILABLE", "legacy_permits"),
        ("openViolations", "EXTERNAL_SERVICE_UNAVAILABLE", "legacy_permits"),
    }


async def test_slow_queries_crowding_the_pool_leave_the_other_systems_alone(
    async_client, emulators, legacy_mariadb, settings
):
    with legacy_mariadb.admin().begin() as connection:
        connection.execute(
            text(
                "CREATE OR REPLACE VIEW V_PERMITS_SLOW AS SELECT * FROM V_PERMITS "
                "WHERE SLEEP(0.02) = 0"
            )
        )
        connection.execute(
            text("GRANT SELECT ON legacy_permits_test.V_PERMITS_SLOW TO 'permits_ro'@'%'")
        )
    settings.LEGACY_PERMITS = {
        **settings.LEGACY_PERMITS,
        "url": legacy_mariadb.client_url,
        "permits_view": "V_PERMITS_SLOW",
        "max_connections": 1,
        "pool_timeout": 0.05,
        "statement_timeout": 30,
    }
    settings.GRAPHQL_EXTERNAL_BUDGET = 30
    settings.UPSTREAM_BATCH_WINDOW_MS = 0  # each request its own statement: they crowd
    rows = await seed(6)
    query = (
        "query($id: ID!) { property(id: $id) { listing { agentName } owner { id } "
        "taxAssessment { taxYear } location { latitude } permits { permitNumber } } }"
    )

    bodies = await asyncio.gather(
        *(graphql_async(async_client, query, {"id": str(row.pk)}) for row in rows)
    )

    refused = [e for b in bodies for e in b.get("errors", [])]
    assert refused  # some requests found the one connection busy...
    assert {(e["path"][-1], e["extensions"]["code"]) for e in refused} == {
        ("permits", "EXTERNAL_SERVICE_UNAVAILABLE")
    }
    for body in bodies:  # ...and every other system answered every request
        found = body["data"]["property"]
        assert found["listing"] is not None
        assert found["taxAssessment"] is not None or found["location"] is not None


async def test_the_cost_limit_counts_the_permits_database(async_client, emulators, settings):
    settings.GRAPHQL_MAX_COST = 100
    body = await graphql_async(async_client, PAGE, {"limit": 100})

    error = body["errors"][0]
    assert error["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
    assert error["extensions"]["upstreamCalls"] == {"legacy_permits": 2}
