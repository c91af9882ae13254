"""Limits on hostile documents, applied once per distinct document, not once per request.

Depth (GRAPHQL_MAX_DEPTH), aliases with fragments counted (GRAPHQL_MAX_ALIASES), parser tokens
(GRAPHQL_MAX_TOKENS) and the introspection switch (GRAPHQL_INTROSPECTION) are checked during
parsing and validation. strawberry's QueryDepthLimiter and MaxAliasesLimiter build a new rule
class per request, so a validation cache keyed on the rules never hit and every request
re-validated its document (a third of a warm detail request's time, measured). Here the rules
are built once per setting value; with ParserCache and ValidationCache after this extension a
repeated document costs two dictionary lookups.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

from django.conf import settings
from graphql import ASTValidationRule
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule_for

#: Distinct documents whose parse and validation results are kept (LRU), per process.
CACHED_DOCUMENTS = 512


@functools.cache
def depth_rule(max_depth: int) -> type[ASTValidationRule]:
    return depth_rule_for(max_depth, None, None)


@functools.cache
def alias_rule(max_aliases: int) -> type[ASTValidationRule]:
    return aliases_rule(max_aliases)


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


__all__ = ["CACHED_DOCUMENTS", "DocumentLimits", "limit_rules"]
