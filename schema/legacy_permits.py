"""The legacy permits database's part of the schema: Property.permits and
Property.openViolations (lists: a property has many permits)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
import strawberry_django
from strawberry import UNSET

from resolvers.context import Context
from resolvers.fields import NOT_IN_HAND, in_hand, resolve_external
from resolvers.legacy_permits import OpenViolationsByParcelLoader, PermitsByParcelLoader
from schema.cache_control import cache_hint
from schema.direct import DIRECT
from schema.errors import BAD_USER_INPUT, coded_error
from schema.external import external_field

Info = strawberry.Info[Context, None]

#: Most permits one property's `permits` returns.
MAX_PERMITS = 100


@strawberry.enum(description="Where a building permit is in its life.")
class PermitStatus(Enum):
    ISSUED = "ISSUED"
    FINALED = "FINALED"
    EXPIRED = "EXPIRED"
    VOID = "VOID"


@strawberry.type(description="A building permit, as the city's permits database has it.")
class Permit:
    permit_number: str = strawberry.field(description="The department's permit number.")
    kind: str | None = strawberry.field(
        name="type", description="Permit type code (BLDG, ELEC, PLMB, ROOF, DEMO, MECH)."
    )
    status: PermitStatus = strawberry.field(description="Where the permit is.")
    status_description: str = strawberry.field(
        description="The status as the department's lookup table names it."
    )
    issued_on: date | None = strawberry.field(description="When it was issued.")
    expires_on: date | None = strawberry.field(description="When it expires, if it does.")
    finaled_on: date | None = strawberry.field(description="When the work passed final.")
    valuation: Decimal | None = strawberry.field(description="Declared value of the work, USD.")
    description: str | None = strawberry.field(description="The work, in the clerk's words.")
    contractor: str | None = strawberry.field(description="Contractor of record.")


@strawberry.type(description="A code-enforcement case that is not closed.")
class Violation:
    case_number: str = strawberry.field(description="The department's case number.")
    opened_on: date | None = strawberry.field(description="When the case was opened.")
    closed_on: date | None = strawberry.field(description="When it was closed (null: open).")
    code_section: str | None = strawberry.field(description="The municipal code section.")
    status: str = strawberry.field(description="Open, or Hearing scheduled.")
    fine_amount: Decimal | None = strawberry.field(description="Fine assessed so far, USD.")
    description: str | None = strawberry.field(description="The case, in the inspector's words.")


def _permits(
    root: Any,
    info: Info,
    status: list[PermitStatus] | None = UNSET,
    issued_after: date | None = UNSET,
    first: int | None = 20,
) -> list[Permit] | None:
    """The parcel's permits, chosen by the arguments: at once when the request holds them
    (schema/external.py explains why), else through the loader."""
    first = 20 if first is None else first
    if not 1 <= first <= MAX_PERMITS:
        raise coded_error(
            f"first must be between 1 and {MAX_PERMITS}, got {first}.", BAD_USER_INPUT
        )
    loader = info.context.loaders.get(PermitsByParcelLoader)
    key = PermitsByParcelLoader.key_for(root)
    permits = in_hand(info, loader, key)
    if permits is NOT_IN_HAND:
        return _permits_loaded(info, loader, key, status, issued_after, first)  # type: ignore[return-value]
    return _chosen(permits, status, issued_after, first)


_permits.is_async_safe = True  # type: ignore[attr-defined]


def _permits_from_graphql(root: Any, info: Any, **arguments: Any) -> Any:
    """`_permits` as graphql-core calls it (schema/direct.py): its arguments by their GraphQL
    names, already coerced by strawberry's types (statuses as PermitStatus members, the date
    parsed, `first` defaulted); absent ones left out, as strawberry leaves them UNSET."""
    return _permits(
        root,
        info,
        status=arguments.get("status", UNSET),
        issued_after=arguments.get("issuedAfter", UNSET),
        first=arguments.get("first", 20),
    )


async def _permits_loaded(
    info: Info,
    loader: PermitsByParcelLoader,
    key: Any,
    status: list[PermitStatus] | None,
    issued_after: date | None,
    first: int,
) -> list[Permit] | None:
    return _chosen(await resolve_external(info, loader, key), status, issued_after, first)


def _chosen(
    permits: Any, status: list[PermitStatus] | None, issued_after: date | None, first: int
) -> list[Permit] | None:
    if permits is None:
        return None
    wanted = {s.value for s in status} if status else None
    after = issued_after if isinstance(issued_after, date) else None
    chosen = [
        permit
        for permit in permits
        if (wanted is None or permit.status in wanted)
        and (after is None or (permit.issued_on is not None and permit.issued_on > after))
    ]
    return [
        Permit(
            permit_number=p.permit_number,
            kind=p.kind,
            status=PermitStatus(p.status),
            status_description=p.status_description,
            issued_on=p.issued_on,
            expires_on=p.expires_on,
            finaled_on=p.finaled_on,
            valuation=p.valuation,
            description=p.description,
            contractor=p.contractor,
        )
        for p in chosen[:first]
    ]


@strawberry.type
class PropertyFields:
    """Property's fields owned by the legacy permits database."""

    permits: list[Permit] | None = strawberry_django.field(
        resolver=_permits,
        only=list(PermitsByParcelLoader.key_fields),
        metadata={"upstream": PermitsByParcelLoader, DIRECT: _permits_from_graphql},
        directives=[cache_hint(PermitsByParcelLoader.service)],
        description=(
            "Building permits on the parcel from the city's permits database, oldest first: "
            "those in one of `status` and issued after `issuedAfter`, at most `first` (1 to "
            f"{MAX_PERMITS}). Null with an error when the permits database fails."
        ),
    )
    open_violations: list[Violation] | None = external_field(
        OpenViolationsByParcelLoader,
        list[Violation],
        description="Code-enforcement cases on the parcel that are not closed; null with an "
        "error when the permits database fails.",
    )
