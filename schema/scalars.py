"""Scalars stricter than strawberry's own where a lax one lets bad input reach the database.

strawberry's Decimal accepts "NaN", "Infinity" and "1e999999"; as a price filter those reached
the database and failed there (an INTERNAL_SERVER_ERROR for the client's mistake). Ours takes
finite numbers of sane size only, so the client gets BAD_USER_INPUT naming the value.
"""

from __future__ import annotations

from decimal import Decimal, DecimalException

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.types.scalar import ScalarDefinition

#: Largest power of ten a Decimal input may reach, and most significant digits it may have.
MAX_DECIMAL_EXPONENT = 30
MAX_DECIMAL_DIGITS = 40


def parse_decimal(value: object) -> Decimal:
    """A finite Decimal from a string (or a JSON number), or a coercion error saying why."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise StrawberryInputCoercionError(
            f"Value cannot represent a Decimal: {type(value).__name__}. Expected a string."
        )
    text = str(value).strip()
    shown = text if len(text) <= 40 else text[:40] + "…"
    try:
        number = Decimal(text)
    except DecimalException:
        raise StrawberryInputCoercionError(
            f'Value cannot represent a Decimal: "{shown}".'
        ) from None
    if (
        not number.is_finite()
        or number.adjusted() > MAX_DECIMAL_EXPONENT
        or len(number.as_tuple().digits) > MAX_DECIMAL_DIGITS
    ):
        raise StrawberryInputCoercionError(
            f'Value cannot represent a Decimal: "{shown}". Expected a finite number below '
            f"1e{MAX_DECIMAL_EXPONENT} with at most {MAX_DECIMAL_DIGITS} digits."
        )
    return number


FiniteDecimal = ScalarDefinition(
    name="Decimal",
    description="Decimal (fixed-point), as a string: a finite number below 1e30.",
    specified_by_url=None,
    serialize=str,
    parse_value=parse_decimal,
    parse_literal=None,
    origin=Decimal,
)

SCALAR_OVERRIDES = {Decimal: FiniteDecimal}

__all__ = ["SCALAR_OVERRIDES", "parse_decimal"]
