"""Hostile or oversized requests get a clear error, never a 500 and never a long wait."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db


def post(client, body: str | bytes, content_type: str = "application/json"):
    return client.post("/graphql/", data=body, content_type=content_type)


def test_too_many_aliases_repeating_the_same_field(client, settings):
    # the first selection is not a repeat; the next MAX + 1 are
    fields = " ".join(
        f'a{i}: property(id: "1") {{ id }}' for i in range(settings.GRAPHQL_MAX_ALIASES + 2)
    )

    response = post(client, json.dumps({"query": f"{{ {fields} }}"}))

    assert response.status_code == 200
    assert response.json()["errors"][0]["message"] == (
        f"{settings.GRAPHQL_MAX_ALIASES + 1} aliases repeat a field with the same arguments. "
        f"Allowed: {settings.GRAPHQL_MAX_ALIASES}"
    )


def test_repeated_scalars_count_too(client, settings):
    fields = " ".join(f"p{i}: parcelId" for i in range(settings.GRAPHQL_MAX_ALIASES + 2))

    response = post(client, json.dumps({"query": f'{{ property(id: "1") {{ {fields} }} }}'}))

    assert "aliases repeat a field" in response.json()["errors"][0]["message"]


def test_aliases_with_different_arguments_are_left_to_the_cost_limit(client, settings):
    # a stitching gateway's batch: 60 lookups, each its own id
    count = 2 * settings.GRAPHQL_MAX_ALIASES
    variables = {f"v{i}": str(i + 1) for i in range(count)}
    declared = ", ".join(f"$v{i}: ID!" for i in range(count))
    fields = " ".join(f"_{i}: property(id: $v{i}) {{ id }}" for i in range(count))
    query = f"query Batch({declared}) {{ {fields} }}"

    response = post(client, json.dumps({"query": query, "variables": variables}))

    assert "errors" not in response.json(), response.json()["errors"][0]
    # ...and the cost limit still judges the whole: each lookup is an object
    settings.GRAPHQL_MAX_COST = count - 1
    refused = post(client, json.dumps({"query": query, "variables": variables})).json()
    assert refused["errors"][0]["extensions"]["code"] == "COST_LIMIT_EXCEEDED"


def test_a_thousand_aliases_hidden_in_fragments_are_counted(client, settings):
    # given: a token limit high enough that only the alias count can stop it
    settings.GRAPHQL_MAX_TOKENS = 20_000
    fragments = " ".join(
        f"fragment F{f} on Property {{ {' '.join(f'x{f}_{i}: id' for i in range(100))} }}"
        for f in range(10)
    )
    spreads = " ".join(f"...F{f}" for f in range(10))
    query = f'{{ property(id: "1") {{ {spreads} }} }} {fragments}'

    response = post(client, json.dumps({"query": query}))

    assert response.status_code == 200
    assert response.json()["errors"][0]["message"] == (
        f"999 aliases repeat a field with the same arguments. "
        f"Allowed: {settings.GRAPHQL_MAX_ALIASES}"
    )


def test_depth_fifty_is_refused(client, settings):
    query = "{ " + "properties { results { " * 25 + "id" + " } }" * 25 + " }"

    response = post(client, json.dumps({"query": query}))

    assert response.status_code == 200
    assert response.json()["errors"][0]["message"] == (
        f"'anonymous' exceeds maximum operation depth of {settings.GRAPHQL_MAX_DEPTH}"
    )


def test_too_many_tokens(client, settings):
    query = "{ " + "__typename " * (settings.GRAPHQL_MAX_TOKENS + 10) + "}"

    response = post(client, json.dumps({"query": query}))

    assert response.status_code == 200
    assert "more than" in response.json()["errors"][0]["message"]


def test_a_ten_megabyte_body_is_413_json(client, settings):
    body = json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * 10_000_000}})

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


@pytest.mark.django_db(transaction=True)
def test_ten_megabytes_over_a_real_server_declared_or_chunked_are_413():
    """Through uvicorn and Django's ASGI handler, not just the test client."""
    import httpx

    from tests.conftest import serve_asgi

    body = json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * 10_000_000}})

    def chunks():
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536].encode()

    with serve_asgi() as url:
        declared = httpx.post(
            f"{url}/graphql/", content=body, headers={"Content-Type": "application/json"}
        )
        chunked = httpx.post(
            f"{url}/graphql/", content=chunks(), headers={"Content-Type": "application/json"}
        )
        after = httpx.post(f"{url}/graphql/", json={"query": "{ __typename }"})

    for response in (declared, chunked):
        assert response.status_code == 413
        assert response.json()["errors"][0]["extensions"] == {"code": "REQUEST_TOO_LARGE"}
    assert after.json() == {"data": {"__typename": "Query"}}


def test_a_repeated_document_is_validated_once_per_set_of_rules(client, settings, monkeypatch):
    from schema import limits

    validated = []

    def counting(schema, document, rules):
        validated.append(rules)
        return original(schema, document, rules)

    original = limits.validate_document
    monkeypatch.setattr(limits, "validate_document", counting)
    query = json.dumps({"query": "{ properties { results { id parcelId } } }"})

    assert "errors" not in post(client, query).json()
    assert "errors" not in post(client, query).json()
    assert len(validated) == 1
    # a new limit is a new set of rules: validated again, and it applies
    settings.GRAPHQL_MAX_DEPTH = 1
    assert "exceeds maximum operation depth" in post(client, query).json()["errors"][0]["message"]
    assert len(validated) == 2
