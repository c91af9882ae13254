"""The city building department's legacy permits database (MariaDB; SQLite for the demo).

Read-only, through the views the DBA grants us (V_PERMITS, V_VIOLATIONS) and the status lookup
table (PERMIT_STATUS); a schema nobody may change, so its quirks are read here, once:

- parcel ids: stored as 14 digits, with dashes (17-04-221-033-0000) or padded with spaces.
  A lookup asks for both spellings (`PIN IN (%s, %s, ...)`: one expanding parameter that
  SQLAlchemy renders as a bound value per spelling, the index used; trailing spaces compare
  equal on the server) and normalises what comes back;
- dates: CHAR(8) `YYYYMMDD`, '00000000' (or blank) meaning none;
- valuations: text, with `$` and thousands separators in old rows; blank means none;
- statuses: codes looked up in PERMIT_STATUS (ISS -> "Issued" -> ISSUED); the table is read
  once per `status_ttl` seconds;
- free text: latin1 columns holding cp1252 bytes, or UTF-8 bytes stored as latin1; read as
  bytes and decoded as UTF-8 when they are valid UTF-8, else as cp1252.

A row that cannot be read (a date that is not one, an unknown status code, a valuation that is
not a number) is skipped with one WARNING naming its key, never a failed field. The same row,
read again for the same reason within `repeat_warning_after` seconds (every cold fetch of its
parcel reads it), is reported at DEBUG: it stays unreadable until someone fixes it. One statement
per view per `batch_size` parcels, whatever the number of parcels asked.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import LargeBinary, bindparam, cast, column, select, table
from sqlalchemy.engine import Row

from clients.core import chunked
from clients.sql import Query, SqlClient, SqlConfig

SERVICE = "legacy_permits"
logger = logging.getLogger(__name__)

#: PERMIT_STATUS descriptions -> our status names.
STATUS_NAMES = {"ISSUED": "ISSUED", "FINAL": "FINALED", "EXPIRED": "EXPIRED", "VOID": "VOID"}
VIOLATION_STATUS = {"OPEN": "Open", "HRNG": "Hearing scheduled", "CLSD": "Closed"}
NO_DATE = "00000000"


@dataclass(frozen=True, kw_only=True)
class LegacyPermitsConfig(SqlConfig):
    permits_view: str = "V_PERMITS"
    violations_view: str = "V_VIOLATIONS"
    status_table: str = "PERMIT_STATUS"
    #: Parcels per statement: two bound parameters each, far below every server's limit.
    batch_size: int = 500
    #: Seconds the status lookup table is trusted before it is read again.
    status_ttl: float = 3600.0
    #: Seconds before an unreadable row skipped again for the same reason is a WARNING again.
    repeat_warning_after: float = 3600.0


#: Unreadable rows remembered for `repeat_warning_after` per client (the oldest forgotten).
REMEMBERED_ROWS = 10_000


@dataclass(frozen=True)
class Permit:
    permit_number: str
    parcel_id: str
    kind: str | None
    status: str
    status_description: str
    issued_on: date | None
    expires_on: date | None
    finaled_on: date | None
    valuation: Decimal | None
    description: str | None
    contractor: str | None


@dataclass(frozen=True)
class Violation:
    case_number: str
    parcel_id: str
    opened_on: date | None
    closed_on: date | None
    code_section: str | None
    status: str
    fine_amount: Decimal | None
    description: str | None


class UnreadableRowError(ValueError):
    """A legacy row with a value that is not what its column promises."""


def normalize_pin(raw: Any) -> str:
    """The digits of a stored parcel id. The two spellings stored (14 digits; dashed, maybe
    padded) are answered without a look at each character: that took a permit row longer
    than the rest of its reading."""
    text = str(raw or "")
    if text.isdigit():
        return text
    undashed = text.replace("-", "").strip()
    if undashed.isdigit():
        return undashed
    return "".join(ch for ch in text if ch.isdigit())


def pin_spellings(pin: str) -> tuple[str, str]:
    """The ways a parcel id is stored: 14 digits, and dashed (2-2-3-3-4)."""
    return pin, f"{pin[:2]}-{pin[2:4]}-{pin[4:7]}-{pin[7:10]}-{pin[10:]}"


def legacy_date(raw: Any, name: str) -> date | None:
    text = str(raw or "").strip()
    if not text or text == NO_DATE:
        return None
    try:  # by hand: strptime costs about ten times as much, per permit and date
        if len(text) != 8 or not text.isdigit():
            raise ValueError(text)
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise UnreadableRowError(f"{name} {text!r} is not a YYYYMMDD date") from None


def legacy_amount(raw: Any, name: str) -> Decimal | None:
    text = str(raw or "").strip().replace("$", "").replace(",", "")
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise UnreadableRowError(f"{name} {raw!r} is not an amount") from None
    if not amount.is_finite():
        raise UnreadableRowError(f"{name} {raw!r} is not an amount")
    return amount


def legacy_text(raw: Any) -> str | None:
    """Bytes from a latin1 column: UTF-8 when they are valid UTF-8, else cp1252."""
    if raw is None:
        return None
    if isinstance(raw, str):
        value = raw
    else:
        data = bytes(raw)
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError:
            value = data.decode("cp1252", errors="replace")
    return value.strip() or None


class LegacyPermitsClient(SqlClient):
    service = SERVICE
    config: LegacyPermitsConfig

    def __init__(self, config: LegacyPermitsConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self._statuses: dict[str, tuple[str, str]] | None = None
        self._statuses_read_at = 0.0
        #: (kind, key, reason) of each unreadable row -> when it was last a WARNING.
        self._warned: dict[tuple[str, str, str], float] = {}
        #: Seconds, for the repeat period (tests move it by hand).
        self.clock: Callable[[], float] = time.monotonic

    # -- public API -------------------------------------------------------------------------

    async def permits_by_parcel(self, *, parcel_ids: Sequence[str]) -> dict[str, list[Permit]]:
        """Every readable permit of each parcel (parcels with none map to an empty list).

        Raises:
            ExternalServiceError: a statement failed (after retries for transient errors).
        """
        statuses = await self._status_lookup()
        permits: dict[str, list[Permit]] = {pin: [] for pin in parcel_ids}
        view = table(
            self.config.permits_view,
            *(column(name) for name in ("PERMIT_NO", "PIN", "PERMIT_TYPE", "STATUS_CD")),
            *(column(name) for name in ("ISSUE_DT", "EXPIRE_DT", "FINAL_DT", "VALUATION")),
            column("WORK_DESC"),
            column("CONTRACTOR"),
        )
        for chunk in chunked(list(dict.fromkeys(parcel_ids)), self.keys_per_call):
            statement = select(
                *(view.c[name] for name in ("PERMIT_NO", "PIN", "PERMIT_TYPE")),
                *(view.c[name] for name in ("STATUS_CD", "ISSUE_DT", "EXPIRE_DT")),
                view.c.FINAL_DT,
                view.c.VALUATION,
                cast(view.c.WORK_DESC, LargeBinary).label("WORK_DESC"),
                view.c.CONTRACTOR,
            ).where(view.c.PIN.in_(bindparam(PINS, expanding=True)))
            rows = await self._query(
                Query("permits_by_parcel", statement, _pin_parameters(chunk)),
                parse=lambda rows: rows,
            )
            for row in rows:
                permit = self._read(row, "permit", "PERMIT_NO", lambda r: _permit(r, statuses))
                if permit is not None and permit.parcel_id in permits:
                    permits[permit.parcel_id].append(permit)
        for found in permits.values():  # oldest first, whichever spelling a row keeps
            found.sort(key=lambda p: (p.issued_on or date.min, p.permit_number))
        return permits

    async def open_violations_by_parcel(
        self, *, parcel_ids: Sequence[str]
    ) -> dict[str, list[Violation]]:
        """Each parcel's code-enforcement cases that are not closed.

        Raises:
            ExternalServiceError: a statement failed (after retries for transient errors).
        """
        found: dict[str, list[Violation]] = {pin: [] for pin in parcel_ids}
        view = table(
            self.config.violations_view,
            *(column(name) for name in ("CASE_NO", "PIN", "OPENED_DT", "CLOSED_DT")),
            *(column(name) for name in ("CODE_SECTION", "STATUS_CD", "FINE_AMT", "CASE_DESC")),
        )
        for chunk in chunked(list(dict.fromkeys(parcel_ids)), self.keys_per_call):
            statement = (
                select(
                    *(view.c[name] for name in ("CASE_NO", "PIN", "OPENED_DT", "CLOSED_DT")),
                    view.c.CODE_SECTION,
                    view.c.STATUS_CD,
                    view.c.FINE_AMT,
                    cast(view.c.CASE_DESC, LargeBinary).label("CASE_DESC"),
                )
                .where(view.c.PIN.in_(bindparam(PINS, expanding=True)))
                .where(view.c.CLOSED_DT.in_((NO_DATE, "")) | view.c.CLOSED_DT.is_(None))
            )
            rows = await self._query(
                Query("open_violations_by_parcel", statement, _pin_parameters(chunk)),
                parse=lambda rows: rows,
            )
            for row in rows:
                case = self._read(row, "violation", "CASE_NO", _violation)
                if case is not None and case.parcel_id in found:
                    found[case.parcel_id].append(case)
        for cases in found.values():
            cases.sort(key=lambda v: (v.opened_on or date.min, v.case_number))
        return found

    # -- reading ----------------------------------------------------------------------------

    async def _status_lookup(self) -> dict[str, tuple[str, str]]:
        """Status code -> (our name, the table's description), read once per status_ttl."""
        if self._statuses is not None and time.monotonic() - self._statuses_read_at < (
            self.config.status_ttl
        ):
            return self._statuses
        lookup = table(self.config.status_table, column("STATUS_CD"), column("STATUS_DESC"))
        rows = await self._query(
            Query("permit_statuses", select(lookup.c.STATUS_CD, lookup.c.STATUS_DESC)),
            parse=lambda rows: rows,
        )
        statuses = {}
        for row in rows:
            code, text = row._mapping["STATUS_CD"], row._mapping["STATUS_DESC"]
            name = STATUS_NAMES.get(str(text or "").strip().upper())
            if name is not None:
                statuses[str(code).strip()] = (name, str(text).strip())
        self._statuses, self._statuses_read_at = statuses, time.monotonic()
        return statuses

    def _read(self, row: Row[Any], kind: str, key: str, parse: Any) -> Any:
        try:
            return parse(row)
        except (UnreadableRowError, KeyError, TypeError) as error:
            row_key = str(row._mapping.get(key))
            logger.log(
                self._skip_level(kind, row_key, str(error)),
                "%s %s %s skipped: %s",
                self.service,
                kind,
                row_key,
                error,
                extra={"service": self.service, "key": row_key},
            )
            return None

    def _skip_level(self, kind: str, row_key: str, reason: str) -> int:
        """WARNING the first time a row is skipped for a reason and again once
        `repeat_warning_after` seconds have passed; DEBUG in between."""
        now = self.clock()
        seen = (kind, row_key, reason)
        warned_at = self._warned.get(seen)
        if warned_at is not None and now - warned_at < self.config.repeat_warning_after:
            return logging.DEBUG
        self._warned.pop(seen, None)  # re-inserted last: the oldest is forgotten first
        if len(self._warned) >= REMEMBERED_ROWS:
            del self._warned[next(iter(self._warned))]
        self._warned[seen] = now
        return logging.WARNING


#: The expanding parameter holding both spellings of every parcel id of a statement.
PINS = "pins"


def _pin_parameters(pins: Sequence[str]) -> dict[str, list[str]]:
    """Both spellings of each parcel id, for the statement's expanding `PINS` parameter: one
    parameter object per statement, not one per spelling (a 500-parcel statement built and
    compiled 1,000 of them, and the compiled-statement cache kept them alive)."""
    return {PINS: [spelling for pin in pins for spelling in pin_spellings(pin)]}


def _permit(row: Row[Any], statuses: Mapping[str, tuple[str, str]]) -> Permit:
    values = row._mapping
    code = str(values["STATUS_CD"] or "").strip()
    if code not in statuses:
        raise UnreadableRowError(f"STATUS_CD {code!r} is not in the status table")
    name, description = statuses[code]
    return Permit(
        permit_number=str(values["PERMIT_NO"]).strip(),
        parcel_id=normalize_pin(values["PIN"]),
        kind=str(values["PERMIT_TYPE"] or "").strip() or None,
        status=name,
        status_description=description,
        issued_on=legacy_date(values["ISSUE_DT"], "ISSUE_DT"),
        expires_on=legacy_date(values["EXPIRE_DT"], "EXPIRE_DT"),
        finaled_on=legacy_date(values["FINAL_DT"], "FINAL_DT"),
        valuation=legacy_amount(values["VALUATION"], "VALUATION"),
        description=legacy_text(values["WORK_DESC"]),
        contractor=str(values["CONTRACTOR"] or "").strip() or None,
    )


def _violation(row: Row[Any]) -> Violation:
    values = row._mapping
    code = str(values["STATUS_CD"] or "").strip()
    return Violation(
        case_number=str(values["CASE_NO"]).strip(),
        parcel_id=normalize_pin(values["PIN"]),
        opened_on=legacy_date(values["OPENED_DT"], "OPENED_DT"),
        closed_on=legacy_date(values["CLOSED_DT"], "CLOSED_DT"),
        code_section=str(values["CODE_SECTION"] or "").strip() or None,
        status=VIOLATION_STATUS.get(code, code),
        fine_amount=legacy_amount(values["FINE_AMT"], "FINE_AMT"),
        description=legacy_text(values["CASE_DESC"]),
    )


__all__ = [
    "LegacyPermitsClient",
    "LegacyPermitsConfig",
    "Permit",
    "Violation",
    "legacy_amount",
    "legacy_date",
    "legacy_text",
    "normalize_pin",
    "pin_spellings",
]
