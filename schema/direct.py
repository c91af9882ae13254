"""Fields graphql-core resolves without strawberry's wrapper around each field.

Strawberry resolves every field that is not a plain attribute through a wrapper: an Info
object, argument conversion, the field-extension chain, and for strawberry-django's fields its
`get_result`. A 100-row page pays it for each external field and each model column it selects
of each row (600 external fields and 200 columns for the benchmark's page: 7% of its calls for
the external fields alone). Two kinds of fields need none of it; when the schema is built,
graphql-core is handed their resolver directly:

- fields declared with one (`DIRECT` in their metadata): the external fields
  (schema/external.py), whose resolver reads only the context and the path, and the
  permits (schema/legacy_permits.py), whose adapter takes its arguments by their GraphQL
  names as graphql-core passes them;
- model columns strawberry-django serves as they are (`id`, `parcelId`, ...: no resolver,
  extension or permission of their own): read from the row when it holds them; a column the
  query's `only()` left unloaded still goes to strawberry-django, which loads it.

Resolver middleware (the federated trace) wraps them as before: graphql-core applies it to
whatever resolver a field has.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models.fields.files import FileDescriptor
from django.db.models.query_utils import DeferredAttribute
from graphql import GraphQLField, GraphQLObjectType, GraphQLSchema
from strawberry_django.fields.field import StrawberryDjangoField

#: Metadata key of a field's resolver that graphql-core may call directly.
DIRECT = "resolve_directly"


def resolve_directly(graphql_schema: GraphQLSchema) -> None:
    """Give graphql-core a direct resolver for every field that has one (see above)."""
    for graphql_type in graphql_schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType):
            continue
        for graphql_field in graphql_type.fields.values():
            definition = (graphql_field.extensions or {}).get("strawberry-definition")
            direct = (getattr(definition, "metadata", None) or {}).get(DIRECT)
            if direct is None:
                direct = _column_resolver(definition, graphql_field)
            if direct is not None:
                graphql_field.resolve = direct


def _column_resolver(definition: Any, graphql_field: GraphQLField) -> Callable[..., Any] | None:
    """A model column's value read from the row, for a strawberry-django field that serves
    the column as it is; None for any other field."""
    through_strawberry = graphql_field.resolve
    if (
        through_strawberry is None
        or not isinstance(definition, StrawberryDjangoField)
        or definition.base_resolver is not None
        or definition.extensions
        or definition.permission_classes
        or definition.arguments
        or definition.origin_django_type is None
    ):
        return None
    model = definition.origin_django_type.model
    attribute = getattr(model, definition.django_name or definition.python_name, None)
    # a plain column: not a relation, a property or a file (strawberry-django converts those)
    if type(attribute) is not DeferredAttribute or isinstance(attribute, FileDescriptor):
        return None
    attname = attribute.field.attname

    def column(root: Any, info: Any, **kwargs: Any) -> Any:
        try:
            return root.__dict__[attname]
        except (KeyError, AttributeError):  # not loaded, or not a row: strawberry-django
            return through_strawberry(root, info, **kwargs)

    column.column_attname = attname  # type: ignore[attr-defined]  # schema/execution.py
    return column
