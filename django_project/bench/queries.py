"""The benchmark's queries, built from the schema: every external system's field on Property,
each with its plain scalar fields, so a system added to EXTERNAL_SYSTEMS is measured too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLList,
    GraphQLObjectType,
    GraphQLScalarType,
    get_named_type,
    get_nullable_type,
)

from schema import schema

#: Scalars the floor can serve from JSON as it is (dates and enums would need parsing back).
PLAIN_SCALARS = frozenset({"String", "ID", "Int", "Float", "Boolean", "Decimal"})


@dataclass(frozen=True)
class ExternalField:
    """One external field of Property, as the benchmark asks for it."""

    name: str
    type_name: str
    #: (field name, scalar type name) of each plain scalar field of its type.
    scalars: tuple[tuple[str, str], ...]
    loader: Any
    #: A list of records per property (the permits), not one record.
    is_list: bool = False

    @property
    def selection(self) -> str:
        return f"{self.name} {{ {' '.join(name for name, _ in self.scalars)} }}"


def external_fields() -> list[ExternalField]:
    """Property's fields that an external system answers, in schema order."""
    found = []
    for name, field in schema._schema.type_map["Property"].fields.items():  # type: ignore[union-attr]
        definition = (field.extensions or {}).get("strawberry-definition")
        loader = (getattr(definition, "metadata", None) or {}).get("upstream")
        target = get_named_type(field.type)
        if loader is None or not isinstance(target, GraphQLObjectType):
            continue
        scalars = tuple(
            (n, get_named_type(f.type).name)
            for n, f in target.fields.items()
            if isinstance(get_named_type(f.type), GraphQLScalarType)
            and get_named_type(f.type).name in PLAIN_SCALARS
        )
        is_list = isinstance(get_nullable_type(field.type), GraphQLList)
        found.append(ExternalField(name, target.name, scalars, loader, is_list))
    return found


def page_query() -> str:
    selections = " ".join(f.selection for f in external_fields())
    return (
        "query Page($limit: Int!) { properties(pagination: {limit: $limit}) "
        f"{{ results {{ id parcelId {selections} }} }} }}"
    )


def detail_query() -> str:
    selections = " ".join(f.selection for f in external_fields())
    return f"query Detail($id: ID!) {{ property(id: $id) {{ id parcelId {selections} }} }}"
