"""schema.graphql is a checked artifact: it must match the live schema, described throughout."""

from __future__ import annotations

from pathlib import Path

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType

from schema import schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"
STITCHING_FILE = SCHEMA_FILE.with_name("schema.stitching.graphql")
REGENERATE = "make schema  (python manage.py export_schema schema:schema --path schema.graphql)"
# Types strawberry and strawberry-django ship; we cannot attach descriptions to them.
LIBRARY_TYPES = {
    "OffsetPaginationInfo",
    "OffsetPaginationInput",
    "Ordering",
    "DecimalRangeLookup",
    "IntRangeLookup",
    "DecimalComparisonFilterLookup",
    "IntComparisonFilterLookup",
    "PropertyOffsetPaginated",
}


def test_schema_file_matches_the_live_schema():
    live = schema.as_str().strip()
    committed = SCHEMA_FILE.read_text(encoding="utf-8").strip() if SCHEMA_FILE.exists() else ""

    assert committed == live, f"schema.graphql is out of date; regenerate it with: {REGENERATE}"


def test_stitching_file_matches_the_live_schema():
    from schema.stitching import stitching_sdl

    committed = STITCHING_FILE.read_text(encoding="utf-8") if STITCHING_FILE.exists() else ""

    assert committed == stitching_sdl(), "schema.stitching.graphql is out of date: make schema"


def test_every_type_and_field_we_define_has_a_description():
    missing = []
    for name, gql_type in schema._schema.type_map.items():
        # "__" introspection, "_" and "link__" federation machinery: not ours to describe.
        if name.startswith(("_", "link__")) or name in LIBRARY_TYPES:
            continue
        described = GraphQLObjectType | GraphQLInputObjectType | GraphQLEnumType
        if isinstance(gql_type, described) and not gql_type.description:
            missing.append(name)
        if isinstance(gql_type, GraphQLObjectType | GraphQLInputObjectType):
            for field_name, field in gql_type.fields.items():
                library = field_name.startswith("_") or field_name in {
                    "AND",
                    "OR",
                    "NOT",
                    "DISTINCT",
                }
                if not field.description and not library:
                    missing.append(f"{name}.{field_name}")

    assert missing == []
