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

graphql-core calls it directly (schema/direct.py): it takes no arguments and reads only the
context and the path, which graphql-core's own info carries.
"""

from __future__ import annotations

from typing import Any

import strawberry
import strawberry_django

from resolvers.context import Context
from resolvers.fields import NOT_IN_HAND, in_hand, resolve_external
from resolvers.loader import ExternalLoader
from schema.cache_control import cache_hint
from schema.direct import DIRECT


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
