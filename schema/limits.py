"""Limits on hostile documents, applied once per distinct document, not once per request.

Depth (GRAPHQL_MAX_DEPTH), repeated aliases with fragments counted (GRAPHQL_MAX_ALIASES), parser
tokens (GRAPHQL_MAX_TOKENS) and the introspection switch (GRAPHQL_INTROSPECTION) are checked
during parsing and validation.

Which aliases count: those that repeat a field already selected in the same selection set with
the same arguments (`a: parcelId b: parcelId`, `x: properties(...) y: properties(...)` with
equal arguments). That is alias amplification: the same work again under another name, which
the cost limit cannot see for scalars. Aliases that select the same field with different
arguments are distinct work, and the cost limit counts each one (objects and upstream calls):
a gateway batching 60 lookups as `_0: property(id: $a) _1: property(id: $b) ...` (graphql-tools
with `batch: true`) is one request the cost limit judges, not 60 aliases to refuse.

strawberry's QueryDepthLimiter and MaxAliasesLimiter build a new rule class per request, so a
validation cache keyed on the rules never hit and every request re-validated its document (a
third of a warm detail request's time, measured). Here the rules are built once per setting
value; with ParserCache and ValidationPerDocument after this extension a repeated document costs two
dictionary lookups.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from django.conf import settings
from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    print_ast,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule_for
from strawberry.schema.schema import validate_document

#: Distinct documents whose parse and validation results are kept (LRU), per process.
CACHED_DOCUMENTS = 512


@functools.cache
def depth_rule(max_depth: int) -> type[ASTValidationRule]:
    return depth_rule_for(max_depth, None, None)


@functools.cache
def alias_rule(max_aliases: int) -> type[ASTValidationRule]:
    class RepeatedAliases(ASTValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            found = repeated_aliases(context.document)
            if found > max_aliases:
                context.report_error(
                    GraphQLError(
                        f"{found} aliases repeat a field with the same arguments. "
                        f"Allowed: {max_aliases}"
                    )
                )

    return RepeatedAliases


#: (response key, field name, arguments as written) of one selected field.
_Selected = tuple[str, str, tuple[tuple[str, str], ...]]


def repeated_aliases(document: DocumentNode) -> int:
    """Aliases in `document` that repeat a field with the same arguments in one selection set
    (fragments spread into it included). Linear in the document: each fragment's top-level
    fields are worked out once, however often it is spread."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    tops: dict[str, frozenset[_Selected]] = {}

    def top_fields(
        selection_set: SelectionSetNode, visiting: frozenset[str]
    ) -> frozenset[_Selected]:
        # A set: a field selected twice under one response key is one field (merged), and
        # a fragment spread many times adds its fields once.
        found: set[_Selected] = set()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                arguments = tuple(
                    sorted((a.name.value, print_ast(a.value)) for a in selection.arguments or ())
                )
                key = (selection.alias or selection.name).value
                found.add((key, selection.name.value, arguments))
            elif isinstance(selection, InlineFragmentNode):
                found |= top_fields(selection.selection_set, visiting)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in visiting or name not in fragments:
                    continue  # a cycle or an unknown fragment: other rules report those
                if name not in tops:
                    tops[name] = top_fields(fragments[name].selection_set, visiting | {name})
                found |= tops[name]
        return frozenset(found)

    def repeats(selection_set: SelectionSetNode) -> int:
        keys: Mapping[tuple[str, Any], set[str]] = defaultdict(set)
        for key, name, arguments in top_fields(selection_set, frozenset()):
            keys[(name, arguments)].add(key)
        return sum(len(names) - 1 for names in keys.values())

    total = 0
    for definition in document.definitions:
        # An operation's own selection set counts; a fragment's top level counts where it is
        # spread (as part of that selection set), its fields' selection sets here, once.
        if isinstance(definition, OperationDefinitionNode):
            total += repeats(definition.selection_set)
        if isinstance(definition, OperationDefinitionNode | FragmentDefinitionNode):
            total += _walk(definition.selection_set, repeats)
    return total


def _walk(selection_set: SelectionSetNode, repeats: Any) -> int:
    """`repeats` of every field's selection set under this one (each written once; inline
    fragments belong to their field's set)."""
    total = 0
    stack = [selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FieldNode) and selection.selection_set is not None:
                total += repeats(selection.selection_set)
                stack.append(selection.selection_set)
            elif isinstance(selection, InlineFragmentNode):
                stack.append(selection.selection_set)
    return total


def limit_rules() -> tuple[type[ASTValidationRule], ...]:
    """The rules for the settings as they are now (the same classes while they stay)."""
    rules = (depth_rule(settings.GRAPHQL_MAX_DEPTH), alias_rule(settings.GRAPHQL_MAX_ALIASES))
    if not settings.GRAPHQL_INTROSPECTION:
        rules = (*rules, NoSchemaIntrospectionCustomRule)
    return rules


class DocumentLimits(SchemaExtension):
    """Token limit for the parser and stable validation rules for depth, aliases and
    introspection (`__typename` and the gateway's `_service { sdl }` always pass), read from
    the settings on every request so a change needs no new schema."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = settings.GRAPHQL_MAX_TOKENS
        context.validation_rules = context.validation_rules + limit_rules()
        yield


#: Validation errors by (parsed document, rules, schema), with the document they are for.
_VALIDATED: dict[tuple[int, tuple[type[ASTValidationRule], ...], int], Any] = {}


class ValidationPerDocument(SchemaExtension):
    """Validates each parsed document once per set of rules, like strawberry's
    ValidationCache, but finds it by the document object instead of its hash: ParserCache
    hands back the same DocumentNode for the same text, and a syntax tree's hash is
    computed from every node under it, on every request (3% of a warm detail query's CPU
    in cProfile). Entries hold their document, so an `id` is never reused while its entry
    lives; at CACHED_DOCUMENTS entries the cache starts again."""

    def on_validate(self) -> Iterator[None]:  # type: ignore[override]
        context = self.execution_context
        document = context.graphql_document
        schema = context.schema._schema
        rules = tuple(context.validation_rules)
        key = (id(document), rules, id(schema))
        found = _VALIDATED.get(key)
        if found is None or found[0] is not document or found[1] is not schema:
            if len(_VALIDATED) >= CACHED_DOCUMENTS:
                _VALIDATED.clear()
            errors = validate_document(schema, document, rules)  # type: ignore[arg-type]
            found = _VALIDATED[key] = (document, schema, errors)
        context.pre_execution_errors = found[2]
        yield


__all__ = ["CACHED_DOCUMENTS", "DocumentLimits", "ValidationPerDocument", "limit_rules"]
