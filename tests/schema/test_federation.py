"""The schema is a Federation v2 subgraph: Property is an entity keyed by id and by parcelId."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from django_project.properties.models import Property
from tests.conftest_emulators import calls

pytestmark = pytest.mark.django_db

ENTITIES = """
query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) {
    ... on Property { id parcelId city taxAssessment { taxYear } location { latitude } }
  }
}
"""


def post(client, query: str, variables: dict | None = None) -> dict:
    response = client.post(
        "/graphql/",
        data=json.dumps({"query": query, "variables": variables or {}}),
        content_type="application/json",
    )
    assert response.status_code == 200
    return response.json()


def test_service_sdl_declares_the_entity_keys(client):
    sdl = post(client, "{ _service { sdl } }")["data"]["_service"]["sdl"]

    assert '@link(url: "https://specs.apollo.dev/federation/v2.5"' in sdl
    assert '@key(fields: "id"' in sdl
    assert '@key(fields: "parcelId"' in sdl


def test_entities_load_in_one_query_and_external_fields_batch(
    client, emulators_sync, django_assert_num_queries
):
    # given: 30 representations, half by id and half by parcel id (dashed, as people type)
    call_command("seed_demo", count=30, stdout=io.StringIO())
    rows = list(Property.objects.order_by("pk"))
    representations = [{"__typename": "Property", "id": str(p.pk)} for p in rows[:15]] + [
        {"__typename": "Property", "parcelId": f"{p.parcel_id[:2]}-{p.parcel_id[2:]}"}
        for p in rows[15:]
    ]

    # when: one query per key kind, whatever the number of representations
    with django_assert_num_queries(2):
        body = post(client, ENTITIES, {"representations": representations})

    # then
    assert "errors" not in body
    assert [e["parcelId"] for e in body["data"]["_entities"]] == [p.parcel_id for p in rows]
    assert sum(e["taxAssessment"] is not None for e in body["data"]["_entities"]) >= 25
    assert calls(emulators_sync["tax_assessor"]) == 1
    assert calls(emulators_sync["geocoder"]) == 1


def test_unknown_entity_is_null_and_a_bad_key_is_a_clear_error(client, emulators_sync):
    body = post(
        client,
        "query E($r: [_Any!]!) { _entities(representations: $r) { ... on Property { id } } }",
        {"r": [{"__typename": "Property", "id": "999999"}, {"__typename": "Property", "id": "x"}]},
    )

    assert body["data"]["_entities"] == [None, None]
    (error,) = body["errors"]
    assert error["path"] == ["_entities", 1]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_malformed_representation_fails_only_its_own_slot(client, seeded):
    rows = list(Property.objects.order_by("pk")[:2])
    body = post(
        client,
        "query E($r: [_Any!]!) { _entities(representations: $r) { ... on Property { id } } }",
        {
            "r": [
                {"__typename": "Property", "id": str(rows[0].pk)},
                {"__typename": "Review", "id": "1"},
                {"id": str(rows[1].pk)},
                5,
                "Property",
                {"__typename": ["Property"], "id": "1"},
                {"__typename": "Property", "parcelId": rows[1].parcel_id},
            ]
        },
    )

    assert body["data"]["_entities"] == [
        {"id": str(rows[0].pk)},
        None,
        None,
        None,
        None,
        None,
        {"id": str(rows[1].pk)},
    ]
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["_entities", n], "BAD_USER_INPUT") for n in (1, 2, 3, 4, 5)
    ]
    assert body["errors"][0]["message"] == (
        "Representation 1: 'Review' is not an entity of this subgraph."
    )
