"""graphql-core's executor, completing plain leaf fields in one loop instead of one field
execution each.

graphql-core executes every field the same way: a Path, a resolve-info object, the resolver
(strawberry's wrapper around `getattr` for a field without one), an awaitable check, then
`complete_value` through the non-null, list, leaf and object checks. A record's scalars pay
all of it: 45 of the benchmark's detail query's 54 field executions, about 45,000 of a
1,000-row page's. For a field that is a plain attribute of its parent (strawberry's basic field:
no resolver, arguments, permission or extension) with a scalar or enum type, none of it does
anything but read the attribute and serialize it: this executor does just that, and hands
every other field, and any leaf whose value is not a plain finished one, to graphql-core's
own path, so errors, nulls and awaitables behave exactly as before.

It steps aside for the whole request when resolver middleware is on (a federated trace
times every field) and inside deferred fragments.
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable, Coroutine
from typing import Any

from graphql import (
    GraphQLField,
    GraphQLID,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
    get_nullable_type,
    is_leaf_type,
)
from graphql.execution.collect_fields import GroupedFieldSet
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

#: Values known at a glance not to be awaitable (the records' scalars); any other value is
#: asked, and an awaitable goes graphql-core's way.
PLAIN_VALUES = frozenset({str, int, float, bool, decimal.Decimal, datetime.date, datetime.datetime})


class _Leaf:
    """How to complete one field as a plain leaf: read its parent's attribute (a model
    column: from the row's loaded values only), serialize it with its leaf type."""

    __slots__ = ("as_is", "attribute", "coerce", "column", "non_null")

    def __init__(self, attribute: str, column: bool, leaf_type: Any, non_null: bool) -> None:
        self.attribute = attribute
        self.column = column
        self.coerce: Callable[[Any], Any] = leaf_type.coerce_output_value
        self.non_null = non_null
        #: The value type the leaf type serializes as it is (a str for String and ID).
        self.as_is = str if leaf_type is GraphQLString or leaf_type is GraphQLID else None


#: Per GraphQL field, by id (fields do not hash): the field, kept so that its id is not
#: reused, and its `_Leaf` or None.
_leaves: dict[int, tuple[GraphQLField, _Leaf | None]] = {}


def _leaf(field: GraphQLField) -> _Leaf | None:
    known = _leaves.get(id(field))
    if known is not None:
        return known[1]
    column = getattr(field.resolve, "column_attname", None)  # schema/direct.py
    attribute = column or plain_attribute(field)
    leaf_type = get_nullable_type(field.type)
    found = None
    if attribute is not None and is_leaf_type(leaf_type) and not field.args:
        found = _Leaf(
            attribute,
            column is not None,
            leaf_type,
            isinstance(field.type, GraphQLNonNull),
        )
    _leaves[id(field)] = (field, found)
    return found


def plain_attribute(field: Any) -> str | None:
    """The Python attribute a GraphQL field reads, when strawberry resolves it with nothing
    but `getattr` (its basic field: no resolver, permission or extension; `_leaf` also
    wants no arguments)."""
    resolve = field.resolve
    if resolve is None or not getattr(resolve, "_is_default", False):
        return None
    definition = (field.extensions or {}).get("strawberry-definition")
    if (
        definition is None
        or not definition.is_basic_field
        # strawberry-django's fields read rows their own way
        or type(definition).get_result is not StrawberryField.get_result
        or definition.default_resolver is not getattr
    ):
        return None
    return str(definition.python_name)


class PropertyGraphExecutor(StrawberryGraphQLCoreExecutionContext):
    """strawberry's executor with plain leaf fields completed in one loop (see above)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        self._leaves_on = not getattr(manager, "middlewares", None)
        #: per grouped field set (graphql-core memoizes those per selection): its set and
        #: its plan, the set kept alive so that its id is not reused.
        self._plans: dict[int, tuple[GroupedFieldSet, list[tuple[str, _Leaf | None]] | None]] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        if not self._leaves_on or position_context is not None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        known = self._plans.get(id(grouped_field_set))
        if known is None:
            known = (grouped_field_set, self._plan(parent_type, grouped_field_set))
            self._plans[id(grouped_field_set)] = known
        plan = known[1]
        if plan is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        rest: GroupedFieldSet = {}
        results: dict[str, Any] = {}
        for response_name, leaf in plan:
            if leaf is not None:
                try:  # a column the query did not load, or a failing read: the long way
                    if leaf.column:
                        value = source_value.__dict__.get(leaf.attribute, Undefined)
                    else:
                        value = getattr(source_value, leaf.attribute)
                except Exception:  # noqa: BLE001 - graphql-core reports it below
                    value = Undefined
                if type(value) is leaf.as_is:
                    results[response_name] = value
                    continue
                if value is None:
                    if not leaf.non_null:
                        results[response_name] = None
                        continue
                elif value is not Undefined and (
                    type(value) in PLAIN_VALUES or not self.is_awaitable(value)
                ):
                    try:
                        coerced = leaf.coerce(value)
                    except Exception:  # noqa: BLE001 - graphql-core reports it below
                        coerced = None
                    if coerced is not None and coerced is not Undefined:
                        results[response_name] = coerced
                        continue
                elif isinstance(value, Coroutine):  # graphql-core reads the attribute again
                    value.close()
            rest[response_name] = grouped_field_set[response_name]
        if not rest:
            return results
        others = super().execute_fields(parent_type, source_value, path, rest, position_context)
        if not self.is_awaitable(others):
            return _in_order(grouped_field_set, results, others)

        async def completed() -> dict[str, Any]:
            return _in_order(grouped_field_set, results, await others)

        return completed()

    def _plan(
        self, parent_type: GraphQLObjectType, grouped: GroupedFieldSet
    ) -> list[tuple[str, _Leaf | None]] | None:
        """Each field of the set by response name, with its `_Leaf` when it is a plain leaf
        (None: graphql-core completes it); None when no field is."""
        plan: list[tuple[str, _Leaf | None]] = []
        leaves = 0
        for response_name, details in grouped.items():
            node = details[0].node
            field = self.schema.get_field(parent_type, node.name.value)
            leaf = None if field is None or node.arguments else _leaf(field)
            leaves += leaf is not None
            plan.append((response_name, leaf))
        return plan if leaves else None


def _in_order(
    grouped_field_set: GroupedFieldSet, leaves: dict[str, Any], others: dict[str, Any]
) -> dict[str, Any]:
    """The response's fields in the order the query selected them (the spec's ordering)."""
    return {
        name: leaves[name] if name in leaves else others[name]
        for name in grouped_field_set
        if name in leaves or name in others
    }
