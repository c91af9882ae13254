"""An external system's field on Property, declared in one line by its schema module.

The field resolves through the system's loader (batched, cached, within the request's
budget; resolvers/fields.py), keeps the key's model fields loaded (`only`), tells the cost
limit which loader it calls (`metadata["upstream"]`) and gateways how long it may be cached
(`@cacheControl`, schema/cache_control.py). It is always nullable: null without an
error means the system has no such record, null with a coded error that it failed.

Its resolver is a plain function: when the request already holds the value (the fields that
return properties prefetch their rows' keys: schema/prefetch.py) it returns it at once, with
no coroutine and no task; otherwise it returns the awaitable that loads it. Marked
`is_async_safe`, as it runs no query, so strawberry-django does not send it to a thread.

graphql-core calls it directly (`resolve_directly`, applied when the schema is built): it
takes no arguments and reads only the context and the path, which graphql-core's own info
carries. Through strawberry, each external field of each row went through strawberry's
wrapper (an Info object, argument conversion, the field-extension chain) and
strawberry-django's `get_result`: about 8 us a field, 600 fields on a 100-row page.
Resolver middleware (the federated trace) still wraps it: graphql-core applies middleware
to whatever resolver a field has.
"""

from __future__ import annotations

from typing import Any

import strawberry
import strawberry_django
from graphql import GraphQLObjectType, GraphQLSchema

from resolvers.context import Context
from resolvers.fields import NOT_IN_HAND, in_hand, resolve_external
from resolvers.loader import ExternalLoader
from schema.cache_control import cache_hint

#: Metadata key of a resolver that graphql-core may call directly (see `resolve_directly`).
DIRECT = "resolve_directly"


def external_field(loader: type[ExternalLoader[Any, Any]], type_: type, *, description: str) -> Any:
    """A field of Property answered by `loader`, of GraphQL type `type_` (nullable)."""

    def resolve(root: Any, info: strawberry.Info[Context, None]) -> Any:
        # strawberry's Info or graphql-core's: both carry the context and the path
        request_loader = info.context.loaders.get(loader)
        key = loader.key_for(root)
        value = in_hand(info, request_loader, key)
        if value is NOT_IN_HAND:
            return resolve_external(info, request_loader, key)
        return value

    resolve.is_async_safe = True  # type: ignore[attr-defined]

    # Set here, not written above: this module's annotations are strings (PEP 563).
    resolve.__annotations__ = {
        "root": Any,
        "info": strawberry.Info[Context, None],
        "return": type_ | None,
    }
    return strawberry_django.field(
        resolver=resolve,
        only=list(loader.key_fields),
        metadata={"upstream": loader, DIRECT: resolve},
        directives=[cache_hint(loader.service)],
        description=description,
    )


def resolve_directly(graphql_schema: GraphQLSchema) -> None:
    """Hand graphql-core the resolver of every field declared with one for it (`DIRECT` in
    its metadata), in place of strawberry's wrapper around it."""
    for graphql_type in graphql_schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType):
            continue
        for graphql_field in graphql_type.fields.values():
            definition = (graphql_field.extensions or {}).get("strawberry-definition")
            direct = (getattr(definition, "metadata", None) or {}).get(DIRECT)
            if direct is not None:
                graphql_field.resolve = direct
