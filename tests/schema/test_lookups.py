"""Properties named by key, however a client or gateway spreads them over one request: aliased
`property` / `propertyByParcel` root fields, `_entities`, and the batched lookups
`propertiesByIds` / `propertiesByParcelIds`. Each request loads its rows with one query per
key kind and their external fields with one upstream call per system."""

from __future__ import annotations

import io

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command

from resolvers.properties import PropertyByKeyLoader
from tests.conftest_emulators import calls, graphql_async, http_only

pytestmark = pytest.mark.django_db(transaction=True)

EXTERNAL = "listing { agentName } owner { name } taxAssessment { taxYear } location { latitude }"


@pytest.fixture
async def rows():
    await sync_to_async(call_command)("seed_demo", count=30, stdout=io.StringIO())
    from django_project.properties.models import Property

    return [p async for p in Property.objects.order_by("pk")]


@pytest.fixture
def row_batches(monkeypatch) -> list[list]:
    """The key batches PropertyByKeyLoader sent to the database, one list per batch."""
    seen: list[list] = []
    original = PropertyByKeyLoader._load

    async def spy(keys):
        seen.append(list(keys))
        return await original(keys)

    monkeypatch.setattr(PropertyByKeyLoader, "_load", staticmethod(spy))
    return seen


def data_calls(emulators) -> dict[str, int]:
    return {name: calls(app) for name, app in http_only(emulators).items()}


async def test_25_aliased_root_fields_cost_one_query_and_one_call_per_system(
    async_client, emulators, rows, row_batches, settings
):
    settings.UPSTREAM_BATCH_WINDOW_MS = 0  # the request batches by itself, no help from others
    chosen = rows[:25]
    declared = ", ".join(f"$v{i}: ID!" for i in range(25))
    fields = " ".join(f"_{i}: property(id: $v{i}) {{ id parcelId {EXTERNAL} }}" for i in range(25))

    body = await graphql_async(
        async_client,
        f"query Batch({declared}) {{ {fields} }}",
        {f"v{i}": str(row.pk) for i, row in enumerate(chosen)},
    )

    assert "errors" not in body, body["errors"][:2]
    assert [body["data"][f"_{i}"]["parcelId"] for i in range(25)] == [r.parcel_id for r in chosen]
    assert sum(1 for i in range(25) if body["data"][f"_{i}"]["listing"]) == 25
    assert len(row_batches) == 1
    assert len(row_batches[0]) == 25
    assert data_calls(emulators) == dict.fromkeys(data_calls(emulators), 1)


async def test_property_by_parcel_and_entities_join_the_same_batch(
    async_client, emulators, rows, row_batches
):
    a, b, c = rows[:3]
    query = f"""
    query Mixed($reps: [_Any!]!) {{
      one: property(id: "{a.pk}") {{ parcelId {EXTERNAL} }}
      two: propertyByParcel(parcelId: "{b.parcel_id}") {{ parcelId {EXTERNAL} }}
      _entities(representations: $reps) {{ ... on Property {{ parcelId {EXTERNAL} }} }}
    }}
    """

    body = await graphql_async(
        async_client, query, {"reps": [{"__typename": "Property", "parcelId": c.parcel_id}]}
    )

    assert "errors" not in body, body["errors"][:2]
    assert body["data"]["_entities"][0]["parcelId"] == c.parcel_id
    assert len(row_batches) == 1  # one batch: a query for ids, one for parcel ids
    assert data_calls(emulators) == dict.fromkeys(data_calls(emulators), 1)


async def test_properties_by_ids_one_entry_per_key_in_order(
    async_client, emulators, rows, row_batches
):
    ids = [str(rows[4].pk), "999999", "abc", str(rows[0].pk), str(rows[4].pk)]

    body = await graphql_async(
        async_client,
        f"query($ids: [ID!]!) {{ propertiesByIds(ids: $ids) {{ id {EXTERNAL} }} }}",
        {"ids": ids},
    )

    found = body["data"]["propertiesByIds"]
    assert [p and p["id"] for p in found] == [ids[0], None, None, ids[3], ids[4]]
    (error,) = body["errors"]
    assert error["path"] == ["propertiesByIds", 2]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert len(row_batches) == 1
    assert data_calls(emulators) == dict.fromkeys(data_calls(emulators), 1)


async def test_properties_by_parcel_ids_accepts_dashes(async_client, emulators, rows):
    dashed = rows[1].parcel_id
    dashed = f"{dashed[:2]}-{dashed[2:4]}-{dashed[4:7]}-{dashed[7:10]}-{dashed[10:]}"

    body = await graphql_async(
        async_client,
        "query($p: [String!]!) { propertiesByParcelIds(parcelIds: $p) { id parcelId } }",
        {"p": [dashed, "00000000000000", "nope"]},
    )

    found = body["data"]["propertiesByParcelIds"]
    assert found[0] == {"id": str(rows[1].pk), "parcelId": rows[1].parcel_id}
    assert found[1:] == [None, None]
    assert [e["path"] for e in body["errors"]] == [["propertiesByParcelIds", 2]]


async def test_a_lookup_over_its_size_is_bad_user_input(async_client, emulators, rows):
    from schema.queries import MAX_LOOKUP_KEYS

    body = await graphql_async(
        async_client,
        "query($ids: [ID!]!) { propertiesByIds(ids: $ids) { id } }",
        {"ids": ["1"] * (MAX_LOOKUP_KEYS + 1)},
    )

    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_the_cost_limit_counts_each_key(async_client, emulators, rows, settings):
    settings.GRAPHQL_MAX_COST = 100
    ids = [str(r.pk) for r in rows]  # 30 properties, each with 4 external fields: 150 objects

    body = await graphql_async(
        async_client,
        f"query($ids: [ID!]!) {{ propertiesByIds(ids: $ids) {{ id {EXTERNAL} }} }}",
        {"ids": ids},
    )

    assert body["errors"][0]["extensions"]["code"] == "COST_LIMIT_EXCEEDED"
    assert data_calls(emulators) == dict.fromkeys(data_calls(emulators), 0)
