"""Field rules shared by the model, the admin and the GraphQL layer.

The parcel id is the key the county assessor and FileMaker use, so it is stored in one
canonical form (the 14-digit Cook County PIN) and every entry point normalises to it.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils import timezone

PARCEL_ID_RE = re.compile(r"^\d{14}$")
_PARCEL_SEPARATORS = re.compile(r"[\s\-.]")

EARLIEST_YEAR_BUILT = 1600


def normalize_parcel_id(value: str) -> str:
    """Drop the dashes, dots and spaces people type (17-04-221-033-0000 -> 17042210330000)."""
    return _PARCEL_SEPARATORS.sub("", value or "")


def validate_parcel_id(value: str) -> None:
    if not PARCEL_ID_RE.match(value or ""):
        raise ValidationError(
            "Parcel id must be a 14-digit PIN such as 17042210330000 "
            "(dashes are accepted: 17-04-221-033-0000).",
            code="invalid_parcel_id",
        )


def validate_year_built(value: int) -> None:
    """Plausible years only: no medieval typos, nothing more than two years in the future."""
    latest = timezone.now().year + 2
    if not EARLIEST_YEAR_BUILT <= value <= latest:
        raise ValidationError(
            f"Year built must be between {EARLIEST_YEAR_BUILT} and {latest}.",
            code="implausible_year",
        )
