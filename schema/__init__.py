"""The GraphQL schema served at /graphql/ and exported to schema.graphql."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import GraphQLError, OperationDefinitionNode
from graphql.execution.middleware import MiddlewareManager
from strawberry.extensions import ParserCache, SchemaExtension
from strawberry.federation.schema import FederationAny
from strawberry_django.optimizer import DjangoOptimizerExtension

from resolvers.telemetry import tracing_on
from schema.cache_control import CacheHints
from schema.cost import QueryCostLimiter
from schema.direct import resolve_directly
from schema.errors import BAD_USER_INPUT, MaskUnexpectedErrors, ensure_code, is_unexpected
from schema.execution import PropertyGraphExecutor
from schema.extension_hooks import PlannedExtensionsRunner
from schema.limits import CACHED_DOCUMENTS, DocumentLimits, ValidationPerDocument
from schema.mutations import Mutation
from schema.observability import OperationMetrics
from schema.persisted_queries import PersistedQueries
from schema.queries import Query
from schema.scalars import SCALAR_OVERRIDES
from schema.tracing import FederatedTracing, OperationSpans

logger = logging.getLogger(__name__)


class QueryOptimizer(DjangoOptimizerExtension):
    """strawberry-django's optimizer without its per-field `resolve` hook.

    The hook only optimizes querysets that custom resolvers return; ours return rows (the
    lookups load through resolvers/properties.py) and strawberry-django's own fields apply
    the optimizer in their `get_queryset` through the context variable `on_execute` sets.
    Implementing `resolve` made graphql-core wrap every field of every row in a middleware
    call: a quarter of a warm 1,000-row page's time (cProfile, 528,060 calls).
    """

    resolve = SchemaExtension.resolve  # type: ignore[assignment]


class PropertyGraphSchema(strawberry.federation.Schema):
    """Every error gets a code; bugs are logged with their traceback and client mistakes as
    one quiet line; one bad `_entities` representation fails only its own slot.

    Strawberry's default logs every error at ERROR with a traceback, so a client typing a bad
    id would page whoever watches the logs.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        resolve_directly(self._schema)  # schema/direct.py

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        for error in errors:
            ensure_code(error)
            if is_unexpected(error):
                logger.error(
                    "Unexpected error resolving %s",
                    ".".join(str(p) for p in error.path or ()) or "the operation",
                    exc_info=error.original_error,
                )
            else:
                logger.info(
                    "GraphQL error %s: %s",
                    (error.extensions or {}).get("code", "GRAPHQL_VALIDATION_FAILED"),
                    error.message,
                )

    def get_extensions(self, sync: bool = False) -> list[SchemaExtension]:
        """The extensions for one request; with tracing on, the operation's tracing
        (schema/tracing.py) second, after the persisted-query step, which must stay first
        (see the list below)."""
        extensions = super().get_extensions(sync)
        if tracing_on():
            extensions.insert(1, OperationSpans())
        return extensions

    def create_extensions_runner(
        self, execution_context: Any, extensions: list[SchemaExtension]
    ) -> PlannedExtensionsRunner:
        """Hooks looked up once per extension class, not per request
        (schema/extension_hooks.py)."""
        return PlannedExtensionsRunner(execution_context=execution_context, extensions=extensions)

    def _get_middleware_manager(self, extensions: list[SchemaExtension]) -> MiddlewareManager:
        """Resolver middleware from the extensions that wrap fields on this request only
        (schema/tracing.py's `wraps_fields`): one that implements `resolve` is otherwise
        called for every field of every row. Strawberry builds the middleware per request,
        after giving each extension its execution context."""
        return super()._get_middleware_manager(
            [extension for extension in extensions if getattr(extension, "wraps_fields", True)]
        )

    def entities_resolver(  # strawberry builds `_entities` from this signature
        self, info: strawberry.Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        """Resolve the representations a gateway sent; one that is not an object with a known
        entity `__typename` gets BAD_USER_INPUT in its own slot and the others resolve
        (strawberry fails the whole `_entities` field on the first such one)."""
        results: list[Any] = [None] * len(representations)
        usable: list[tuple[int, dict[str, Any]]] = []
        for index, representation in enumerate(representations):
            problem = self._representation_problem(representation)
            if problem is None:
                usable.append((index, dict(representation)))
            else:
                results[index] = GraphQLError(
                    f"Representation {index}: {problem}", extensions={"code": BAD_USER_INPUT}
                )
        resolved = super().entities_resolver(info, [item for _, item in usable]) if usable else []
        for (index, _), result in zip(usable, resolved, strict=True):
            results[index] = result
        return results

    def _representation_problem(self, representation: Any) -> str | None:
        if not isinstance(representation, dict):
            return "expected an object with `__typename` and key fields."
        type_name = representation.get("__typename")
        if not isinstance(type_name, str):
            return "`__typename` is missing or not a string."
        type_ = self.schema_converter.type_map.get(type_name)
        origin = getattr(getattr(type_, "definition", None), "origin", None)
        if origin is None or not hasattr(origin, "resolve_reference"):
            shown = type_name if len(type_name) <= 40 else type_name[:40] + "…"
            return f"{shown!r} is not an entity of this subgraph."
        return None


class StaleDataExtension(SchemaExtension):
    """Adds `extensions.stale`: fields answered from cache past their TTL, with their age."""

    def get_results(self) -> dict[str, Any]:
        stale = getattr(self.execution_context.context, "stale", None)
        return {"stale": stale} if stale else {}


class RequireOperationName(SchemaExtension):
    """A document with several operations must name the one to run (GraphQL spec, "Executing
    Requests"); strawberry would quietly run the first."""

    def on_parse(self) -> Iterator[None]:  # type: ignore[override]
        yield
        context = self.execution_context
        document = context.graphql_document
        if document is None or getattr(context, "_provided_operation_name", None) is not None:
            return
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) > 1:
            raise GraphQLError(
                f"Must provide operationName: the document has {len(operations)} operations.",
                extensions={"code": "BAD_REQUEST"},
            )


schema = PropertyGraphSchema(
    query=Query,
    mutation=Mutation,
    # Federation v2 subgraph. 2.5 is what current Apollo Router and Gateway releases compose;
    # strawberry's default (2.11) is newer than many gateways in the field accept.
    federation_version="2.5",
    # A Decimal that refuses NaN, infinities and absurd magnitudes (schema/scalars.py).
    scalar_overrides=SCALAR_OVERRIDES,
    # Plain leaf fields completed in one loop (schema/execution.py).
    execution_context_class=PropertyGraphExecutor,
    extensions=[
        # First: it may supply the query text every later step reads. It refuses by raising
        # before its yield, which strawberry handles only for the first operation hook (the
        # ones entered before it would never be exited), so it also counts its own refusals.
        PersistedQueries,
        # Next, so it counts operations the later extensions refuse.
        OperationMetrics,
        RequireOperationName,
        # Tokens, depth, aliases and introspection as stable rules, so that the two caches
        # after it make a repeated document cost a lookup instead of a parse and validation.
        DocumentLimits,
        lambda: ParserCache(maxsize=CACHED_DOCUMENTS),
        ValidationPerDocument,
        QueryCostLimiter,
        QueryOptimizer,
        MaskUnexpectedErrors,
        StaleDataExtension,
        # Wraps fields only on requests that ask for an inline trace.
        FederatedTracing,
        # Last, so it sees the result every other extension left.
        CacheHints,
    ],
)

__all__ = ["schema"]
