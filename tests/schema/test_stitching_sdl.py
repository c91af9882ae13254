"""GET /graphql/stitching.graphql: the schema as graphql-tools' stitching directives describe
it, apart from federation's SDL (both name a directive @key)."""

from __future__ import annotations

import pytest
from graphql import build_schema, get_directive_values, parse

from schema import schema

pytestmark = pytest.mark.django_db


def served(client) -> str:
    response = client.get("/graphql/stitching.graphql")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/graphql")
    return response.content.decode()


def test_the_stitching_sdl_merges_property_by_id_through_the_batched_lookup(client):
    stitched = build_schema(served(client))

    property_type = stitched.get_type("Property")
    key = stitched.get_directive("key")
    merge = stitched.get_directive("merge")
    assert get_directive_values(key, property_type.ast_node) == {"selectionSet": "{ id }"}
    assert get_directive_values(stitched.get_directive("canonical"), property_type.ast_node) == {}
    lookup = stitched.query_type.fields["propertiesByIds"]
    assert get_directive_values(merge, lookup.ast_node) == {"keyField": "id"}
    assert list(key.args) == ["selectionSet"]  # graphql-tools' @key, not Apollo's


def test_the_same_types_and_fields_without_federation_machinery(client):
    stitched = build_schema(served(client))
    live = schema._schema

    ours = {n for n in live.type_map if not n.startswith(("__", "_", "link__"))}
    assert {n for n in stitched.type_map if not n.startswith("__")} == ours
    assert set(stitched.query_type.fields) == set(live.query_type.fields) - {
        "_entities",
        "_service",
    }
    assert set(stitched.get_type("Property").fields) == set(live.get_type("Property").fields)
    assert "@link" not in served(client)


def test_served_whatever_introspection_says_and_only_for_reading(client, settings):
    settings.GRAPHQL_INTROSPECTION = False

    parse(served(client))
    assert client.post("/graphql/stitching.graphql").status_code == 405
