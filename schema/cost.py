"""The query cost limit: what a query can cost us, upstream calls above all, before it runs.

cost = objects the query can resolve + UPSTREAM_CALL_COST x upstream calls it can cause

- An object is one value of a field with a selection set, per parent it is resolved for: a
  page of 100 properties is 100 objects, and each `listing` under it 100 more.
- Lists multiply what is under them by the size their arguments ask for: `properties` by its
  page size (the default page when none is given), `_entities` by its representations, the
  lookups by their keys (`ids`, `parcelIds`), a list with a `first` argument by it.
- An external field (tagged `metadata={"upstream": <its loader class>}`) adds its keys to its
  loader's; the query costs the calls each loader needs for all its keys with nothing cached:
  100 listings are 1 FileMaker call at FileMaker's batch size of 100, 100 owners 2 Salesforce
  calls. Keys add up across occurrences, as they do at run time: aliased root fields,
  lookups and `_entities` land in one loader batch per request, and what another tick sends
  joins the same upstream call (resolvers/batching.py). So 60 aliased `property(id:)`
  lookups with a listing each cost 1 FileMaker call, not 60.

Scalars and `__typename` are free: they come with the row. Checked after validation, with the
request's variables, before anything executes; over the limit answers COST_LIMIT_EXCEEDED
with the estimate, the limit and the upstream calls per system.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterator, Mapping
from typing import Any

from django.conf import settings
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
    get_named_type,
    get_operation_ast,
)
from graphql.utilities import value_from_ast_untyped
from strawberry.extensions import SchemaExtension

from resolvers.settings_memo import on_settings_change
from schema.errors import coded_error
from schema.limits import CACHED_DOCUMENTS

COST_LIMIT_EXCEEDED = "COST_LIMIT_EXCEEDED"
#: An upstream call weighs as much as this many objects: it is slower and spends someone
#: else's quota.
UPSTREAM_CALL_COST = 20


#: Arguments that list the keys of a lookup: the field returns one object per key.
LOOKUP_KEYS = ("representations", "ids", "parcelIds")


class QueryCost:
    """Walks one operation, fragments included, multiplying by list sizes."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
    ) -> None:
        self.schema, self.fragments, self.variables = schema, fragments, variables
        self.objects = 0
        #: Keys each external loader gets, over the whole operation.
        self.upstream_keys: collections.Counter[Any] = collections.Counter()

    @property
    def upstream_calls(self) -> collections.Counter[str]:
        """Upstream calls per system: each loader's calls for all its keys."""
        calls: collections.Counter[str] = collections.Counter()
        for loader, keys in self.upstream_keys.items():
            calls[loader.service] += loader.max_calls(keys)
        return calls

    @property
    def total(self) -> int:
        return self.objects + UPSTREAM_CALL_COST * sum(self.upstream_calls.values())

    def add(self, parent: GraphQLNamedType, selections: SelectionSetNode, items: int) -> None:
        for node, owner in self._fields(parent, selections, frozenset()):
            fields: dict[str, GraphQLField] = getattr(owner, "fields", {})
            field = fields.get(node.name.value)
            if field is None:  # __typename and introspection fields: free
                continue
            upstream = self._upstream(field)
            if upstream is not None:
                self.upstream_keys[upstream] += items
            if node.selection_set is not None:
                self.objects += items
                size = self._list_size(node, field)
                self.add(get_named_type(field.type), node.selection_set, items * size)

    def _fields(
        self, parent: GraphQLNamedType, selections: SelectionSetNode, seen: frozenset[str]
    ) -> Iterator[tuple[FieldNode, GraphQLNamedType]]:
        """Field nodes with the type that owns them, fragments flattened (cycle-safe)."""
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                yield from self._fields(
                    self._condition(selection, parent), selection.selection_set, seen
                )
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:
                    yield from self._fields(
                        self._condition(fragment, parent), fragment.selection_set, seen | {name}
                    )

    def _condition(
        self, fragment: InlineFragmentNode | FragmentDefinitionNode, parent: GraphQLNamedType
    ) -> GraphQLNamedType:
        if fragment.type_condition is None:
            return parent
        return self.schema.get_type(fragment.type_condition.name.value) or parent

    @staticmethod
    def _upstream(field: GraphQLField) -> Any:
        definition = (field.extensions or {}).get("strawberry-definition")
        metadata = getattr(definition, "metadata", None) or {}
        return metadata.get("upstream")

    def _list_size(self, node: FieldNode, field: GraphQLField) -> int:
        """How many objects each parent gets from this field, from the arguments that bound
        it: a page (`pagination`, as on `properties`), the keys of a lookup (`_entities`'
        representations, `propertiesByIds`' ids), a `first`. The
        list a page holds (`results`) has no size of its own: its page already counted."""
        for keys in LOOKUP_KEYS:  # _entities, propertiesByIds, propertiesByParcelIds
            if keys in field.args:
                given = self._argument(node, keys)
                return len(given) if isinstance(given, list) else 1
        if "first" in field.args:  # a list bounded by `first` (Property.permits)
            first = self._argument(node, "first", field.args["first"].default_value)
            return first if isinstance(first, int) and first >= 0 else 1
        if "pagination" in field.args:
            pagination = self._argument(node, "pagination")
            limit = pagination.get("limit") if isinstance(pagination, dict) else None
            page = settings.STRAWBERRY_DJANGO["PAGINATION_DEFAULT_LIMIT"]
            if isinstance(limit, int) and limit >= 0:
                page = limit
            return min(page, settings.GRAPHQL_MAX_PAGE_SIZE)
        return 1

    def _argument(self, node: FieldNode, name: str, absent: Any = None) -> Any:
        """One argument's value (variables filled in): only the arguments that bound a list
        are read, so the estimate depends on no other variable (see remembered_estimate)."""
        for argument in node.arguments or ():
            if argument.name.value == name:
                return value_from_ast_untyped(argument.value, self.variables)
        return absent


def estimate(
    schema: GraphQLSchema, document: Any, operation_name: str | None, variables: Mapping[str, Any]
) -> QueryCost | None:
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    root = schema.get_root_type(operation.operation)
    if root is None:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    cost = QueryCost(schema, fragments, variables)
    cost.add(root, operation.selection_set, 1)
    return cost


class _ReadVariables(Mapping[str, Any]):
    """The request's variables, noting the names the estimate reads. Always truthy, so that
    graphql-core asks for a variable (and it is noted) even when none was sent."""

    def __init__(self, variables: Mapping[str, Any]) -> None:
        self._variables = variables
        self.read: set[str] = set()

    def __getitem__(self, name: str) -> Any:
        self.read.add(name)
        return self._variables[name]

    def get(self, name: str, default: Any = None) -> Any:
        self.read.add(name)
        return self._variables.get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._variables)

    def __len__(self) -> int:
        return len(self._variables)

    def __bool__(self) -> bool:
        return True


#: Estimates kept per document (LRU, as many as the parse cache keeps) and per document the
#: values of the variables it read (at most ESTIMATES_PER_DOCUMENT).
_estimates: collections.OrderedDict[tuple[int, str | None], _Estimates] = collections.OrderedDict()
ESTIMATES_PER_DOCUMENT = 64


class _Estimates:
    """One document's estimates: the document (kept alive, its id is the key), the
    variables the walk reads (the same for every request: it reads the same arguments
    whatever their values), and the estimate per their values."""

    __slots__ = ("by_values", "document", "read")

    def __init__(self, document: Any, read: tuple[str, ...]) -> None:
        self.document, self.read = document, read
        self.by_values: dict[str, QueryCost | None] = {}


def remembered_estimate(
    schema: GraphQLSchema, document: Any, operation_name: str | None, variables: Mapping[str, Any]
) -> QueryCost | None:
    """`estimate`, walked once per document and values of the variables it reads: a
    repeated document (a detail query for another id) costs a lookup, not a walk."""
    key = (id(document), operation_name)
    known = _estimates.get(key)
    if known is None or known.document is not document:
        read = _ReadVariables(variables)
        cost = estimate(schema, document, operation_name, read)
        known = _Estimates(document, tuple(sorted(read.read)))
        known.by_values[_values(known.read, variables)] = cost
        _estimates[key] = known
        while len(_estimates) > CACHED_DOCUMENTS:
            _estimates.popitem(last=False)
        return cost
    _estimates.move_to_end(key)
    values = _values(known.read, variables)
    if values in known.by_values:
        return known.by_values[values]
    cost = estimate(schema, document, operation_name, variables)
    if len(known.by_values) >= ESTIMATES_PER_DOCUMENT:
        known.by_values.clear()
    known.by_values[values] = cost
    return cost


def _values(names: tuple[str, ...], variables: Mapping[str, Any]) -> str:
    """The values of `names` as a key: sent or not, and what (JSON, anything else by repr)."""
    if not names:
        return ""
    return json.dumps(
        [[name in variables, variables.get(name)] for name in names],
        sort_keys=True,
        default=repr,
    )


on_settings_change(_estimates.clear)  # page sizes and batch sizes enter the estimate


class QueryCostLimiter(SchemaExtension):
    """Refuses operations whose estimated cost is over GRAPHQL_MAX_COST."""

    def on_execute(self) -> Iterator[None]:  # type: ignore[override]
        context = self.execution_context
        if context.graphql_document is not None:
            cost = remembered_estimate(
                context.schema._schema,
                context.graphql_document,
                context.operation_name,
                context.variables or {},
            )
            limit = settings.GRAPHQL_MAX_COST
            if cost is not None and cost.total > limit:
                calls = dict(sorted(cost.upstream_calls.items()))
                raise coded_error(
                    f"Query cost {cost.total} is over the limit of {limit}: "
                    f"{cost.objects} objects and {sum(calls.values())} upstream calls "
                    f"({UPSTREAM_CALL_COST} each). Ask for smaller pages or fewer external "
                    "fields.",
                    COST_LIMIT_EXCEEDED,
                    cost=cost.total,
                    limit=limit,
                    upstreamCalls=calls,
                )
        yield


__all__ = ["QueryCostLimiter", "estimate"]
