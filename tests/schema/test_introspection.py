"""Introspection can be switched off; federation gateways and __typename keep working."""

from __future__ import annotations

import json

import pytest
from django.core import checks

pytestmark = pytest.mark.django_db

SCHEMA_QUERY = "{ __schema { queryType { name } } }"


def post(client, query: str):
    response = client.post(
        "/graphql/",
        data=json.dumps({"query": query}),
        content_type="application/json",
        HTTP_ACCEPT="application/graphql-response+json",
    )
    return response, response.json()


def test_on(client, settings):
    settings.GRAPHQL_INTROSPECTION = True

    _, body = post(client, SCHEMA_QUERY)

    assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


@pytest.mark.parametrize("query", [SCHEMA_QUERY, '{ __type(name: "Property") { name } }'])
def test_off_refuses_schema_and_type(client, settings, query):
    settings.GRAPHQL_INTROSPECTION = False

    response, body = post(client, query)

    assert response.status_code == 400
    assert "introspection" in body["errors"][0]["message"].lower()
    assert "data" not in body


def test_off_keeps_typename_and_the_federation_sdl(client, settings):
    settings.GRAPHQL_INTROSPECTION = False

    _, typename = post(client, "{ __typename }")
    _, sdl = post(client, "{ _service { sdl } }")

    assert typename == {"data": {"__typename": "Query"}}
    assert "type Property" in sdl["data"]["_service"]["sdl"]


def test_graphiql_without_introspection_is_flagged(settings):
    settings.GRAPHIQL_ENABLED = True
    settings.GRAPHQL_INTROSPECTION = False

    assert "graphiql.W001" in {message.id for message in checks.run_checks()}
