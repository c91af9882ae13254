"""GraphQL errors the API reports, each with a stable `extensions.code`.

Codes (documented in README.md):
- BAD_USER_INPUT: an argument is malformed or breaks a rule; `extensions.fields` lists
  `{field, message, code}` per problem when the input was validated as a whole.
- UNAUTHENTICATED: the operation needs a signed-in user.
- FORBIDDEN: the user lacks the permission named in the message.
- NOT_FOUND: the object a mutation targets does not exist. (Queries answer null instead.)
- INTERNAL_SERVER_ERROR: an unexpected failure on our side; the message is generic and the
  details are in the server log.
- GRAPHQL_PARSE_FAILED / GRAPHQL_VALIDATION_FAILED: the document does not parse or is not
  valid against the schema (Apollo Server's codes); a value of the wrong type for an argument
  or a variable is BAD_USER_INPUT.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from graphql import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.utils.str_converters import to_camel_case

BAD_USER_INPUT = "BAD_USER_INPUT"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"


def coded_error(message: str, code: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


def parse_object_id(raw: str, *, type_name: str) -> int:
    """Turn a GraphQL ID into a primary key, or explain what a valid one looks like."""
    value = raw.strip()
    if value.isascii() and value.isdigit() and 0 < len(value) <= 18 and int(value) > 0:
        return int(value)
    shown = raw if len(raw) <= 40 else raw[:40] + "…"
    raise coded_error(
        f'Invalid {type_name} id {shown!r}: expected a positive integer such as "42".',
        BAD_USER_INPUT,
    )


def validation_failed(error: ValidationError, *, prefix: str = "") -> GraphQLError:
    """One error entry for a rejected input, listing every field problem at once."""
    problems = list(_field_problems(error, prefix=prefix))
    summary = "; ".join(
        f"{p['field']}: {p['message']}" if p["field"] else p["message"] for p in problems
    )
    return coded_error(f"Invalid input. {summary}", BAD_USER_INPUT, fields=problems)


def _field_problems(error: ValidationError, *, prefix: str) -> Iterable[dict[str, Any]]:
    for field, errors in error.error_dict.items() if hasattr(error, "error_dict") else []:
        name = None if field == NON_FIELD_ERRORS else prefix + to_camel_case(field)
        for item in errors:
            yield {
                "field": name,
                "message": " ".join(item.messages),
                "code": item.code or "invalid",
            }
    if not hasattr(error, "error_dict"):
        for item in error.error_list:
            yield {
                "field": None,
                "message": " ".join(item.messages),
                "code": item.code or "invalid",
            }


INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"

#: How graphql-core and strawberry word a value of the wrong type (a variable, or an argument
#: literal): "Variable '$x' ...", "Expected value of type ...", "Int cannot represent ...",
#: "Value cannot represent a Decimal ...", "Enum 'X' cannot represent ...".
_BAD_VALUE = re.compile(
    r"^(Variable '\$|Expected value of type|Argument '|(Enum '[^']*'|\w+) cannot represent)"
)


def ensure_code(error: GraphQLError) -> None:
    """Give an error without `extensions.code` the one that says what kind it is, so every
    error a client sees is coded: graphql-core's own (syntax, validation, coercion) have
    none."""
    extensions = error.extensions or {}
    if "code" in extensions:
        return
    if is_unexpected(error):
        code = INTERNAL_SERVER_ERROR
    elif error.message.startswith("Syntax Error"):
        code = GRAPHQL_PARSE_FAILED
    elif _BAD_VALUE.match(error.message):
        code = BAD_USER_INPUT
    elif error.path is None:
        code = GRAPHQL_VALIDATION_FAILED
    else:
        code = INTERNAL_SERVER_ERROR
    error.extensions = {**extensions, "code": code}


def is_unexpected(error: GraphQLError) -> bool:
    """A bug or an outage of our own (not a client mistake or a reported condition)."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


#: What a client sees instead of an unexpected exception's text.
MASKED_MESSAGE = "Unexpected error; it has been logged."


class MaskUnexpectedErrors(MaskErrors):
    """Hide the text of unexpected exceptions (it may name tables, hosts or secrets).

    Errors the API raises on purpose keep their message and `extensions`; syntax and
    validation errors pass through too, so clients can fix their documents.
    """

    def __init__(self) -> None:
        super().__init__(
            should_mask_error=is_unexpected,
            error_message=MASKED_MESSAGE,
        )

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": INTERNAL_SERVER_ERROR}
        return masked
