"""The updateProperty mutation: who may call it, what it refuses, and what it changes."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from django_project.properties.models import Property
from tests.conftest import post_graphql

pytestmark = pytest.mark.django_db

UPDATE = """
mutation Update($id: ID!, $data: PropertyUpdateInput!) {
  updateProperty(id: $id, data: $data) {
    id parcelId bedrooms bathrooms listPrice status yearBuilt squareFeet
  }
}
"""


@pytest.fixture
def prop(seeded) -> Property:
    return Property.objects.order_by("pk").first()


def snapshot(prop: Property) -> dict:
    return Property.objects.filter(pk=prop.pk).values().get()


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_anonymous_user_is_refused_and_nothing_changes(graphql, prop):
    before = snapshot(prop)

    body = graphql(UPDATE, {"id": str(prop.pk), "data": {"bedrooms": 9}})

    assert body["data"] == {"updateProperty": None}
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert body["errors"][0]["message"] == "Sign in to update properties."
    assert snapshot(prop) == before


def test_user_without_change_permission_is_refused_and_nothing_changes(viewer, prop):
    before = snapshot(prop)

    body = post_graphql(signed_in(viewer), UPDATE, {"id": str(prop.pk), "data": {"bedrooms": 9}})

    assert body["data"] == {"updateProperty": None}
    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    assert "properties.change_property" in body["errors"][0]["message"]
    assert snapshot(prop) == before


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"bedrooms": -1}, "data.bedrooms", "min_value"),
        ({"parcelId": "12-AB"}, "data.parcelId", "invalid_parcel_id"),
        ({"yearBuilt": 1066}, "data.yearBuilt", "implausible_year"),
        ({"listPrice": "-5"}, "data.listPrice", "min_value"),
        ({"state": "Illinois"}, "data.state", "max_length"),
        ({"bedrooms": None}, "data.bedrooms", "null"),
    ],
)
def test_invalid_input_is_refused_with_field_errors_and_nothing_changes(
    editor, prop, data, field, code
):
    before = snapshot(prop)

    body = post_graphql(signed_in(editor), UPDATE, {"id": str(prop.pk), "data": data})

    assert body["status"] == 200
    assert body["data"] == {"updateProperty": None}
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert {(p["field"], p["code"]) for p in error["extensions"]["fields"]} >= {(field, code)}
    assert error["message"].startswith("Invalid input.")
    assert snapshot(prop) == before


def test_every_problem_is_reported_at_once(editor, prop):
    body = post_graphql(
        signed_in(editor),
        UPDATE,
        {"id": str(prop.pk), "data": {"bedrooms": -2, "parcelId": "nope", "status": "SOLD"}},
    )

    fields = {p["field"] for p in body["errors"][0]["extensions"]["fields"]}
    assert fields == {"data.bedrooms", "data.parcelId"}
    assert snapshot(prop)["status"] == prop.status


def test_duplicate_parcel_id_is_refused(editor, prop):
    other = Property.objects.exclude(pk=prop.pk).first()

    body = post_graphql(
        signed_in(editor), UPDATE, {"id": str(prop.pk), "data": {"parcelId": other.parcel_id}}
    )

    assert body["errors"][0]["extensions"]["fields"] == [
        {
            "field": "data.parcelId",
            "message": "Property with this Parcel id already exists.",
            "code": "unique",
        }
    ]
    assert Property.objects.get(pk=prop.pk).parcel_id == prop.parcel_id


def test_success_changes_only_the_given_fields(editor, prop):
    before = snapshot(prop)

    body = post_graphql(
        signed_in(editor),
        UPDATE,
        {
            "id": str(prop.pk),
            "data": {
                "bedrooms": 4,
                "bathrooms": "2.5",
                "listPrice": "515000",
                "status": "SOLD",
                "squareFeet": None,
                "parcelId": "17-04-221-033-0000",
            },
        },
    )

    assert "errors" not in body
    assert body["data"]["updateProperty"] == {
        "id": str(prop.pk),
        "parcelId": "17042210330000",
        "bedrooms": 4,
        "bathrooms": "2.5",
        "listPrice": "515000.00",
        "status": "SOLD",
        "yearBuilt": before["year_built"],
        "squareFeet": None,
    }
    after = snapshot(prop)
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {
        "bedrooms",
        "bathrooms",
        "list_price",
        "status",
        "square_feet",
        "parcel_id",
        "updated_at",
    }
    assert before["status"] != "sold"
    assert after["status"] == "sold"


def test_unknown_property_is_not_found(editor, seeded):
    body = post_graphql(signed_in(editor), UPDATE, {"id": "999999", "data": {"bedrooms": 2}})

    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND"}
    assert body["errors"][0]["message"] == "No property has id 999999."


def test_mutation_over_get_is_refused(client, prop):
    response = client.get(
        "/graphql/", {"query": 'mutation { updateProperty(id: "1", data: {}) { id } }'}
    )

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["errors"][0] == {
        "message": "mutations are not allowed when using GET: send mutations with POST.",
        "extensions": {"code": "METHOD_NOT_ALLOWED"},
    }
    assert Property.objects.get(pk=prop.pk).updated_at == prop.updated_at


def test_cookie_authenticated_post_needs_the_csrf_token(editor, prop):
    # given: a browser session, with CSRF checks enforced as in a real browser
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(editor)
    payload = json.dumps(
        {"query": UPDATE, "variables": {"id": str(prop.pk), "data": {"bedrooms": 7}}}
    )

    # when: the forged request has the cookie but not the token
    forged = browser.post("/graphql/", data=payload, content_type="application/json")

    # then
    assert forged.status_code == 403
    assert forged.json()["errors"][0]["extensions"] == {"code": "CSRF_FAILED"}
    assert Property.objects.get(pk=prop.pk).bedrooms == prop.bedrooms

    # when: the page's token is sent back, as GraphiQL does
    browser.get("/admin/login/")
    token = browser.cookies["csrftoken"].value
    allowed = browser.post(
        "/graphql/", data=payload, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )

    # then
    assert allowed.status_code == 200
    assert allowed.json()["data"]["updateProperty"]["bedrooms"] == 7


def test_request_without_session_cookie_needs_no_csrf_token(prop):
    api_client = Client(enforce_csrf_checks=True)

    body = post_graphql(api_client, f'{{ property(id: "{prop.pk}") {{ id }} }}')

    assert body["data"] == {"property": {"id": str(prop.pk)}}
