"""The cost limit: queries that could cause too many upstream calls are refused before any."""

from __future__ import annotations

import io

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command

from tests.conftest_emulators import calls, graphql_async

pytestmark = pytest.mark.django_db(transaction=True)

ALL_FOUR = """
  results {
    listing { agentName } owner { name } taxAssessment { taxYear } location { latitude }
  }
"""


async def seed(count: int) -> None:
    await sync_to_async(call_command)("seed_demo", count=count, stdout=io.StringIO())


def pages(count: int, limit: int = 100) -> str:
    fields = [
        f"p{i}: properties(pagination: {{limit: {limit}, offset: {i * limit}}}) {{ {ALL_FOUR} }}"
        for i in range(count)
    ]
    return "{ " + " ".join(fields) + " }"


async def test_a_query_that_could_fan_out_upstream_is_refused_before_any_call(
    async_client, emulators, settings
):
    # given: five full pages' worth of properties, each page asking for all four systems
    await seed(500)

    body = await graphql_async(async_client, pages(5))

    # then: refused with the estimate, and no system was called
    (error,) = body["errors"]
    assert "data" not in body
    assert error["extensions"] == {
        "code": "COST_LIMIT_EXCEEDED",
        # 500 keys per system in all: FileMaker 100 per call, Salesforce 73, assessor 100,
        # geocoder 1,000
        "cost": 5 * (1 + 100 + 400) + 20 * (5 + 7 + 5 + 1),
        "limit": settings.GRAPHQL_MAX_COST,
        "upstreamCalls": {"filemaker": 5, "geocoder": 1, "salesforce": 7, "tax_assessor": 5},
    }
    assert error["message"].startswith(
        f"Query cost 2865 is over the limit of {settings.GRAPHQL_MAX_COST}"
    )
    assert {name: calls(app) for name, app in emulators.items()} == dict.fromkeys(emulators, 0)


async def test_a_full_page_with_every_external_field_fits_the_default_limit(
    async_client, emulators
):
    await seed(100)

    body = await graphql_async(async_client, pages(1))

    assert "errors" not in body
    assert len(body["data"]["p0"]["results"]) == 100
    assert calls(emulators["filemaker"]) == 1


async def test_variables_count_like_literals(async_client, emulators, settings):
    settings.GRAPHQL_MAX_COST = 600
    query = f"query Page($n: Int!) {{ properties(pagination: {{limit: $n}}) {{ {ALL_FOUR} }} }}"

    small = await graphql_async(async_client, query, {"n": 10})
    large = await graphql_async(async_client, query, {"n": 100})

    assert "errors" not in small
    assert large["errors"][0]["extensions"]["cost"] == 1 + 100 + 400 + 20 * 5


async def test_entity_representations_are_counted(async_client, emulators, settings):
    settings.GRAPHQL_MAX_COST = 100
    query = """
      query Entities($representations: [_Any!]!) {
        _entities(representations: $representations) { ... on Property { listing { agentName } } }
      }
    """
    representations = [{"__typename": "Property", "id": str(i)} for i in range(1, 201)]

    body = await graphql_async(async_client, query, {"representations": representations})

    assert body["errors"][0]["extensions"]["cost"] == 1 + 200 + 20 * 2
    assert body["errors"][0]["extensions"]["upstreamCalls"] == {"filemaker": 2}


async def test_local_fields_are_cheap(async_client, emulators, settings):
    # a page of 100 rows costs 101 objects however many local scalars each row asks for
    settings.GRAPHQL_MAX_COST = 101
    few = "{ properties(pagination: {limit: 100}) { totalCount results { id city } } }"
    many = (
        "{ properties(pagination: {limit: 100}) { totalCount results { id parcelId "
        "streetAddress city state postalCode bedrooms bathrooms listPrice status } } }"
    )

    accepted = [await graphql_async(async_client, q) for q in (few, many)]
    settings.GRAPHQL_MAX_COST = 100
    refused = await graphql_async(async_client, few)

    assert all("errors" not in body for body in accepted)
    assert refused["errors"][0]["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
    assert refused["errors"][0]["extensions"]["cost"] == 101


async def test_a_repeated_document_is_estimated_once_per_values_of_what_it_reads(
    async_client, emulators, settings, monkeypatch
):
    """schema/cost.py remembers estimates per document and the values of the variables the
    walk reads: another `$id` costs a lookup; a page size sent later (absent the first time)
    is estimated anew, and refused when over the limit."""
    from schema import cost

    walks: list[str] = []
    original = cost.estimate

    def counting(schema, document, operation_name, variables):
        walks.append(operation_name)  # reading `variables` here would count as the walk's
        return original(schema, document, operation_name, variables)

    monkeypatch.setattr(cost, "estimate", counting)
    await seed(3)
    detail = "query One($id: ID!) { property(id: $id) { listing { agentName } } }"
    for pk in ("1", "2", "3", "1"):
        assert "errors" not in await graphql_async(async_client, detail, {"id": pk})
    assert len(walks) == 1

    settings.GRAPHQL_MAX_COST = 600
    page = f"query Page($n: Int) {{ properties(pagination: {{limit: $n}}) {{ {ALL_FOUR} }} }}"
    assert "errors" not in await graphql_async(async_client, page)  # the default page: 20
    assert "errors" not in await graphql_async(async_client, page, {})
    refused = await graphql_async(async_client, page, {"n": 100})
    assert refused["errors"][0]["extensions"]["cost"] == 1 + 100 + 400 + 20 * 5
    assert len(walks) == 3

    # a setting the estimate reads: estimated anew (the default page, no variable sent)
    settings.STRAWBERRY_DJANGO = {**settings.STRAWBERRY_DJANGO, "PAGINATION_DEFAULT_LIMIT": 100}
    refused = await graphql_async(async_client, page)
    assert refused["errors"][0]["extensions"]["cost"] == 1 + 100 + 400 + 20 * 5
    assert len(walks) == 4
