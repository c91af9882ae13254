"""An external system's field on Property, declared in one line by its schema module.

The field resolves through the system's loader (batched, cached, within the request's
budget; resolvers/fields.py), keeps the key's model fields loaded (`only`), and tells the cost
limit which loader it calls (`metadata["upstream"]`). It is always nullable: null without an
error means the system has no such record, null with a coded error that it failed.
"""

from __future__ import annotations

from typing import Any

import strawberry
import strawberry_django

from resolvers.context import Context
from resolvers.fields import resolve_external
from resolvers.loader import ExternalLoader


def external_field(loader: type[ExternalLoader[Any, Any]], type_: type, *, description: str) -> Any:
    """A field of Property answered by `loader`, of GraphQL type `type_` (nullable)."""

    async def resolve(root: Any, info: strawberry.Info[Context, None]) -> Any:
        return await resolve_external(info, info.context.loaders.get(loader), loader.key_for(root))

    # Set here, not written above: this module's annotations are strings (PEP 563).
    resolve.__annotations__ = {
        "root": Any,
        "info": strawberry.Info[Context, None],
        "return": type_ | None,
    }
    return strawberry_django.field(
        resolver=resolve,
        only=list(loader.key_fields),
        metadata={"upstream": loader},
        description=description,
    )
