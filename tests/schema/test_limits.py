"""Hostile or oversized requests get a clear error, never a 500 and never a long wait."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db


def post(client, body: str | bytes, content_type: str = "application/json"):
    return client.post("/graphql/", data=body, content_type=content_type)


def test_too_many_aliases(client, settings):
    fields = " ".join(
        f'a{i}: property(id: "1") {{ id }}' for i in range(settings.GRAPHQL_MAX_ALIASES + 1)
    )

    response = post(client, json.dumps({"query": f"{{ {fields} }}"}))

    assert response.status_code == 200
    assert response.json()["errors"][0]["message"] == (
        f"{settings.GRAPHQL_MAX_ALIASES + 1} aliases found. Allowed: {settings.GRAPHQL_MAX_ALIASES}"
    )


def test_aliases_hidden_in_fragments_count(client, settings):
    fragment = " ".join(f"x{i}: id" for i in range(settings.GRAPHQL_MAX_ALIASES + 1))
    query = f'{{ property(id: "1") {{ ...F }} }} fragment F on Property {{ {fragment} }}'

    response = post(client, json.dumps({"query": query}))

    assert "aliases found" in response.json()["errors"][0]["message"]


def test_too_deep(client, settings):
    nested = "properties { results { " * 5 + "id" + " } }" * 5

    response = post(client, json.dumps({"query": f"{{ {nested} }}"}))

    assert "exceeds maximum operation depth" in response.json()["errors"][0]["message"]


def test_too_many_tokens(client, settings):
    query = "{ " + "__typename " * (settings.GRAPHQL_MAX_TOKENS + 10) + "}"

    response = post(client, json.dumps({"query": query}))

    assert response.status_code == 200
    assert "more than" in response.json()["errors"][0]["message"]


def test_body_over_the_limit_is_413_json(client, settings):
    body = json.dumps(
        {"query": "{ __typename }", "variables": {"pad": "x" * settings.GRAPHQL_MAX_BODY_BYTES}}
    )

    response = post(client, body)

    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"] == {"code": "REQUEST_TOO_LARGE"}


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("not json at all", "application/json"),
        ("query=%7B__typename%7D", "application/x-www-form-urlencoded"),
        ('{"query": 42}', "application/json"),
        ('{"query": "{ __typename }", "variables": "nope"}', "application/json"),
        ("{ __typename }", "text/plain"),
    ],
)
def test_malformed_requests_are_4xx_json(client, body, content_type):
    response = post(client, body, content_type)

    assert 400 <= response.status_code < 500
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["errors"][0]["message"]
