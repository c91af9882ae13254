"""Fields that return properties load their rows' external values before the rows resolve.

Each external field's resolver (schema/external.py) then finds its value in hand and returns
it as a plain value. Without this, graphql-core wraps every awaitable field result in a
coroutine and a task: a 1,000-row page with six external fields made about 6,000 tasks even
when every value was cached. With it, a page costs one batch per selected system, awaited
together, and no task per field.

Only the systems whose fields the query selects on these rows are loaded (fragments and
`@skip`/`@include` respected, so a skipped field never causes an upstream call). Loading
waits within the request's budget like the fields themselves; a system that fails or times
out leaves its keys' errors in the loader, and each field reports its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from graphql import (
    BooleanValueNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    InlineFragmentNode,
    SelectionSetNode,
    VariableNode,
)

from resolvers.fields import prefetch
from resolvers.loader import ExternalLoader

#: The GraphQL type whose external fields are prefetched.
TYPE_NAME = "Property"


async def prefetch_rows(info: Any, rows: Iterable[Any]) -> None:
    """Load the external values the query selects on `rows` (Property rows; None and errors
    among them are skipped) into the request's loaders."""
    raw = info._raw_info
    loaders = _selected_loaders(raw)
    if not loaders:
        return
    present = [row for row in rows if row is not None and not isinstance(row, BaseException)]
    if not present:
        return
    request_loaders = info.context.loaders
    await prefetch(
        (request_loaders.get(cls), {cls.key_for(row) for row in present}) for cls in loaders
    )


def _selected_loaders(raw: Any) -> list[type[ExternalLoader[Any, Any]]]:
    by_field = _loaders_by_field(raw.schema.type_map[TYPE_NAME])
    names = _selected_names(raw)
    found: list[type[ExternalLoader[Any, Any]]] = []
    for name, loader in by_field.items():
        if name in names and loader not in found:
            found.append(loader)
    return found


@cache
def _loaders_by_field(graphql_type: GraphQLObjectType) -> dict[str, type[ExternalLoader[Any, Any]]]:
    """Property's external fields by GraphQL name, with the loader each resolves through
    (their `metadata["upstream"]`, as the cost limit reads it)."""
    found = {}
    for name, field in graphql_type.fields.items():
        definition = (field.extensions or {}).get("strawberry-definition")
        loader = (getattr(definition, "metadata", None) or {}).get("upstream")
        if loader is not None:
            found[name] = loader
    return found


def _selected_names(raw: Any) -> set[str]:
    """Names of the fields selected directly under the field being resolved, through
    fragments on Property, leaving out what `@skip`/`@include` exclude."""
    names: set[str] = set()
    seen_fragments: set[str] = set()
    # the coerced values: validation already checked that `if` is a Boolean!
    variables = raw.variable_values
    if not isinstance(variables, dict):
        variables = getattr(variables, "coerced", {})

    def condition(node: Any, directive: str) -> bool | None:
        for found in node.directives or ():
            if found.name.value == directive:
                for argument in found.arguments:
                    if argument.name.value == "if":
                        value = argument.value
                        if isinstance(value, VariableNode):
                            return bool(variables.get(value.name.value))
                        if isinstance(value, BooleanValueNode):
                            return value.value
        return None

    def included(node: Any) -> bool:
        return condition(node, "skip") is not True and condition(node, "include") is not False

    def visit(selection_set: SelectionSetNode) -> None:
        for selection in selection_set.selections:
            if not included(selection):
                continue
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or condition.name.value == TYPE_NAME:
                    visit(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = raw.fragments.get(name)
                if fragment is None or name in seen_fragments:
                    continue
                seen_fragments.add(name)
                if fragment.type_condition.name.value == TYPE_NAME:
                    visit(fragment.selection_set)

    for node in raw.field_nodes:
        if node.selection_set is not None:
            visit(node.selection_set)
    return names
