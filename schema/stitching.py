"""The schema as a schema-stitching gateway (graphql-tools' `stitchingDirectives`) reads it.

Federation and stitching both name a directive `@key`, with different arguments
(`@key(fields: "id")` for Apollo, `@key(selectionSet: "{ id }")` for graphql-tools), so one SDL
cannot serve both. Federation gateways read theirs from `_service { sdl }`, as the spec says;
stitching gateways get this one from its own URL, `GET /graphql/stitching.graphql` (and
`schema.stitching.graphql` in the repository), never from a root field that would leak into
the federated supergraph.

What it says: the same types and fields, without federation's machinery (`_entities`,
`_service`, `_Any`, `_Entity`, `_Service`, `@link`, Apollo's `@key`), plus

- `Property @key(selectionSet: "{ id }") @canonical`: a gateway merges Property by `id`, and
  our definitions (descriptions, types) win over partial ones elsewhere;
- `propertiesByIds(ids:) @merge(keyField: "id")`: the batched merger; a gateway asks for every
  Property it needs from us in one call (argsFromKeys), one entry per id, in order.
"""

from __future__ import annotations

import functools

from graphql import (
    DefinitionNode,
    DirectiveNode,
    DocumentNode,
    FieldDefinitionNode,
    ObjectTypeDefinitionNode,
    SchemaDefinitionNode,
    TypeDefinitionNode,
    UnionTypeDefinitionNode,
    parse,
    print_ast,
)

#: graphql-tools' stitching directives (@graphql-tools/stitching-directives 4.x, their
#: default names), as `stitchingDirectivesTypeDefs` declares them.
STITCHING_DIRECTIVES = """
directive @key(selectionSet: String!) on OBJECT
directive @computed(selectionSet: String!) on FIELD_DEFINITION
directive @merge(argsExpr: String, keyArg: String, keyField: String, key: [String!], additionalArgs: String) on FIELD_DEFINITION
directive @canonical on OBJECT | INTERFACE | INPUT_OBJECT | UNION | ENUM | SCALAR | FIELD_DEFINITION | INPUT_FIELD_DEFINITION
"""  # noqa: E501 - graphql-tools' own lines

#: Federation's types and root fields: a stitching gateway has no use for them.
FEDERATION_TYPES = frozenset({"_Any", "_Entity", "_Service"})
FEDERATION_FIELDS = frozenset({"_entities", "_service"})

#: Types a gateway merges, with their key, and the root fields that batch-load them.
MERGED_TYPES = {"Property": "{ id }"}
MERGERS = {"propertiesByIds": "id"}


def _directive(source: str) -> DirectiveNode:
    """One directive node from its text (`@key(selectionSet: "{ id }")`)."""
    document = parse(f"type T {source} {{ f: Int }}")
    definition = document.definitions[0]
    if not isinstance(definition, ObjectTypeDefinitionNode) or not definition.directives:
        raise ValueError(f"not a directive: {source}")
    return definition.directives[0]


def _string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _field(field: FieldDefinitionNode) -> FieldDefinitionNode:
    key = MERGERS.get(field.name.value)
    if key is None:
        return field
    return FieldDefinitionNode(
        name=field.name,
        description=field.description,
        arguments=field.arguments,
        type=field.type,
        directives=(*(field.directives or ()), _directive(f"@merge(keyField: {_string(key)})")),
    )


def _object(definition: ObjectTypeDefinitionNode) -> ObjectTypeDefinitionNode:
    name = definition.name.value
    directives = tuple(d for d in definition.directives or () if d.name.value != "key")
    if name in MERGED_TYPES:
        directives = (
            *directives,
            _directive(f"@key(selectionSet: {_string(MERGED_TYPES[name])})"),
            _directive("@canonical"),
        )
    fields = tuple(
        _field(field)
        for field in definition.fields or ()
        if field.name.value not in FEDERATION_FIELDS
    )
    return ObjectTypeDefinitionNode(
        name=definition.name,
        description=definition.description,
        interfaces=definition.interfaces,
        directives=directives,
        fields=fields,
    )


def stitching_document(federation_sdl: str) -> DocumentNode:
    definitions: list[DefinitionNode] = list(parse(STITCHING_DIRECTIVES).definitions)
    for definition in parse(federation_sdl).definitions:
        if isinstance(definition, SchemaDefinitionNode):
            continue  # only @link, and the root types have their default names
        if isinstance(definition, TypeDefinitionNode | UnionTypeDefinitionNode) and (
            definition.name.value in FEDERATION_TYPES
        ):
            continue
        if isinstance(definition, ObjectTypeDefinitionNode):
            definition = _object(definition)
        definitions.append(definition)
    return DocumentNode(definitions=tuple(definitions))


@functools.cache
def stitching_sdl() -> str:
    """The stitching SDL of the live schema (it does not change while the process runs)."""
    from schema import schema  # the Schema imports this package's modules

    return print_ast(stitching_document(schema.as_str())) + "\n"


__all__ = ["STITCHING_DIRECTIVES", "stitching_document", "stitching_sdl"]
