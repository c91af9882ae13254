"""The city's legacy permits database: its schema, its quirks and its rows for the demo parcels.

A MySQL-era schema nobody may change, modelled on such systems: upper-case names, the parcel id
in a VARCHAR that some rows keep with dashes or spaces, dates as CHAR(8) `YYYYMMDD` with
'00000000' for "none", status codes that need a lookup table (PERMIT_STATUS), valuations as
text with a currency sign and separators in old rows, and free text in latin1 with the odd
cp1252 byte or a UTF-8 string stored as latin1 bytes. The product reads it through two views
(V_PERMITS, V_VIOLATIONS) and the lookup table, as a read-only user.

The rows are a pure function of the parcel's demo index (same seed as `seed_demo`): every
parcel has 0-8 permits and about a third have an open violation; every few hundred rows one
carries a quirk that cannot be read (a date like 20191341, an unknown status, a valuation of
"N/A"), which the client must skip with a warning. `expected_permits(index)` and
`expected_open_violations(index)` say what the product must answer after parsing.

The same schema is created in MariaDB (production, CI) or in a SQLite file (the demo's
stand-in, and the in-process tests), by `seed(url, count)`.
"""

from __future__ import annotations

import random
import re
import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Engine, create_engine, event, make_url, text

from emulators.data import property_at

STATUSES = {"ISS": "Issued", "FIN": "Final", "EXP": "Expired", "VOID": "Void"}
PERMIT_TYPES = ("BLDG", "ELEC", "PLMB", "ROOF", "DEMO", "MECH")
CONTRACTORS = ("Lakeshore Builders", "North Branch Electric", "O'Hare Plumbing", "")
DESCRIPTIONS = (
    "Interior remodel of kitchen",
    "Replace roof covering",
    "New 200A service",
    "Café build-out, ground floor",
    "Owner\u2019s porch repair",  # a cp1252 byte (0x92) that is not UTF-8
    "Demolition of detached garage",
)
VIOLATION_SECTIONS = ("13-196-010", "13-196-530", "7-28-060", "13-12-140")
VIOLATION_STATUSES = {"OPEN": "Open", "HRNG": "Hearing scheduled", "CLSD": "Closed"}
NO_DATE = "00000000"

SQLITE_DDL = (
    "CREATE TABLE PERMIT_STATUS (STATUS_CD CHAR(4) PRIMARY KEY, STATUS_DESC VARCHAR(40))",
    """CREATE TABLE PERMIT_MASTER (
        PERMIT_NO VARCHAR(12) PRIMARY KEY, PIN VARCHAR(20) COLLATE RTRIM NOT NULL,
        PERMIT_TYPE VARCHAR(8), STATUS_CD CHAR(4), ISSUE_DT CHAR(8), EXPIRE_DT CHAR(8),
        FINAL_DT CHAR(8), VALUATION VARCHAR(16), WORK_DESC BLOB, CONTRACTOR VARCHAR(60))""",
    "CREATE INDEX IX_PERMIT_PIN ON PERMIT_MASTER (PIN)",
    """CREATE TABLE CODE_VIOLATION (
        CASE_NO VARCHAR(12) PRIMARY KEY, PIN VARCHAR(20) COLLATE RTRIM NOT NULL,
        OPENED_DT CHAR(8), CLOSED_DT CHAR(8), CODE_SECTION VARCHAR(20), STATUS_CD CHAR(4),
        FINE_AMT VARCHAR(12), CASE_DESC BLOB)""",
    "CREATE INDEX IX_VIOLATION_PIN ON CODE_VIOLATION (PIN)",
)
MARIADB_DDL = (
    """CREATE TABLE PERMIT_STATUS (STATUS_CD CHAR(4) PRIMARY KEY, STATUS_DESC VARCHAR(40))
        CHARACTER SET latin1""",
    """CREATE TABLE PERMIT_MASTER (
        PERMIT_NO VARCHAR(12) PRIMARY KEY, PIN VARCHAR(20) NOT NULL, PERMIT_TYPE VARCHAR(8),
        STATUS_CD CHAR(4), ISSUE_DT CHAR(8), EXPIRE_DT CHAR(8), FINAL_DT CHAR(8),
        VALUATION VARCHAR(16), WORK_DESC VARCHAR(255), CONTRACTOR VARCHAR(60),
        KEY IX_PERMIT_PIN (PIN)) CHARACTER SET latin1""",
    """CREATE TABLE CODE_VIOLATION (
        CASE_NO VARCHAR(12) PRIMARY KEY, PIN VARCHAR(20) NOT NULL, OPENED_DT CHAR(8),
        CLOSED_DT CHAR(8), CODE_SECTION VARCHAR(20), STATUS_CD CHAR(4), FINE_AMT VARCHAR(12),
        CASE_DESC VARCHAR(255), KEY IX_VIOLATION_PIN (PIN)) CHARACTER SET latin1""",
)
VIEWS = (
    """CREATE VIEW V_PERMITS AS SELECT PERMIT_NO, PIN, PERMIT_TYPE, STATUS_CD, ISSUE_DT,
        EXPIRE_DT, FINAL_DT, VALUATION, WORK_DESC, CONTRACTOR FROM PERMIT_MASTER""",
    """CREATE VIEW V_VIOLATIONS AS SELECT CASE_NO, PIN, OPENED_DT, CLOSED_DT, CODE_SECTION,
        STATUS_CD, FINE_AMT, CASE_DESC FROM CODE_VIOLATION""",
)
TABLES = ("CODE_VIOLATION", "PERMIT_MASTER", "PERMIT_STATUS")


def dashed(pin: str) -> str:
    """17042210330000 -> 17-04-221-033-0000, as some rows keep it."""
    return f"{pin[:2]}-{pin[2:4]}-{pin[4:7]}-{pin[7:10]}-{pin[10:]}"


def _ymd(day: date | None) -> str:
    return NO_DATE if day is None else day.strftime("%Y%m%d")


@dataclass(frozen=True)
class PermitRow:
    """One PERMIT_MASTER row as stored, and what it means once read (None: unreadable)."""

    columns: Mapping[str, Any]
    expected: Mapping[str, Any] | None


@dataclass(frozen=True)
class ViolationRow:
    columns: Mapping[str, Any]
    expected: Mapping[str, Any] | None


def permits(index: int) -> list[PermitRow]:
    """The permits stored for demo parcel `index` (0-8 of them), quirks included."""
    pin = property_at(index).parcel_id
    rng = random.Random(f"permits:{index}")
    rows = []
    for n in range(rng.randint(0, 8)):
        serial = index * 10 + n
        number = f"P{serial:08d}"
        status = rng.choice(("ISS", "ISS", "FIN", "FIN", "EXP", "VOID"))
        issued = date(1994, 1, 1) + timedelta(days=rng.randint(0, 11_600))
        expires = issued + timedelta(days=365) if status in {"ISS", "EXP"} else None
        finaled = issued + timedelta(days=rng.randint(20, 300)) if status == "FIN" else None
        amount = Decimal(rng.randint(5, 900) * 500)
        valuation = (
            f"${amount:,.2f}" if issued.year < 2000 else f"{amount:.2f}"
        )  # old rows kept the currency sign and separators
        text_ = rng.choice(DESCRIPTIONS)
        stored_pin = pin
        if serial % 37 == 3:
            stored_pin = dashed(pin)
        elif serial % 53 == 5:
            stored_pin = pin + "  "
        # A UTF-8 string stored as latin1 bytes in every 13th row; cp1252 bytes otherwise.
        description = (
            text_.encode("utf-8") if serial % 13 == 4 else text_.encode("cp1252", "replace")
        )
        issue_dt, valuation_text, status_cd = _ymd(issued), valuation, status
        readable = True
        if serial % 211 == 17:
            issue_dt, readable = f"{issued.year}1341", False  # month 13
        elif serial % 307 == 29:
            valuation_text, readable = "N/A", False
        elif serial % 401 == 41:
            status_cd, readable = "XXXX", False
        elif serial % 97 == 11:
            valuation_text, amount = "", None  # blank valuation: none, not unreadable
        columns = {
            "PERMIT_NO": number,
            "PIN": stored_pin,
            "PERMIT_TYPE": rng.choice(PERMIT_TYPES),
            "STATUS_CD": status_cd,
            "ISSUE_DT": issue_dt,
            "EXPIRE_DT": _ymd(expires),
            "FINAL_DT": _ymd(finaled),
            "VALUATION": valuation_text,
            "WORK_DESC": description,
            "CONTRACTOR": rng.choice(CONTRACTORS),
        }
        expected = (
            {
                "permitNumber": number,
                "type": columns["PERMIT_TYPE"],
                "status": {"ISS": "ISSUED", "FIN": "FINALED", "EXP": "EXPIRED", "VOID": "VOID"}[
                    status
                ],
                "issuedOn": issued.isoformat(),
                "expiresOn": None if expires is None else expires.isoformat(),
                "finaledOn": None if finaled is None else finaled.isoformat(),
                "valuation": None if amount is None else f"{amount:.2f}",
                "description": text_,
                "contractor": columns["CONTRACTOR"] or None,
            }
            if readable
            else None
        )
        rows.append(PermitRow(columns, expected))
    return rows


def violations(index: int) -> list[ViolationRow]:
    """Code-enforcement cases for demo parcel `index`: about a third have an open one."""
    pin = property_at(index).parcel_id
    rng = random.Random(f"violations:{index}")
    rows = []
    count = rng.choice((1, 1, 2)) if index % 3 == 0 else rng.choice((0, 0, 1))
    for n in range(count):
        serial = index * 10 + n
        number = f"V{serial:08d}"
        opened = date(2015, 1, 1) + timedelta(days=rng.randint(0, 4000))
        is_open = index % 3 == 0 and n == 0
        status = rng.choice(("OPEN", "HRNG")) if is_open else "CLSD"
        closed = None if is_open else opened + timedelta(days=rng.randint(10, 400))
        fine = Decimal(rng.randint(0, 40) * 50)
        stored_pin = dashed(pin) if serial % 29 == 7 else pin
        text_ = f"Section {rng.choice(VIOLATION_SECTIONS)} \u2013 work without permit"
        columns = {
            "CASE_NO": number,
            "PIN": stored_pin,
            "OPENED_DT": _ymd(opened),
            "CLOSED_DT": _ymd(closed),
            "CODE_SECTION": rng.choice(VIOLATION_SECTIONS),
            "STATUS_CD": status,
            "FINE_AMT": f"{fine:.2f}",
            "CASE_DESC": text_.encode("cp1252", "replace"),
        }
        expected = {
            "caseNumber": number,
            "openedOn": opened.isoformat(),
            "closedOn": None,
            "codeSection": columns["CODE_SECTION"],
            "status": VIOLATION_STATUSES[status],
            "fineAmount": f"{fine:.2f}",
            "description": text_,
        }
        rows.append(ViolationRow(columns, expected if is_open else None))
    return rows


def expected_permits(index: int) -> list[dict[str, Any]]:
    """What Property.permits answers for demo parcel `index`: every readable permit, oldest
    first."""
    found = [dict(row.expected) for row in permits(index) if row.expected is not None]
    return sorted(found, key=lambda p: (p["issuedOn"] or "", p["permitNumber"]))


def expected_open_violations(index: int) -> list[dict[str, Any]]:
    found = [dict(row.expected) for row in violations(index) if row.expected is not None]
    return sorted(found, key=lambda v: (v["openedOn"] or "", v["caseNumber"]))


def seed(url: str, count: int) -> dict[str, int]:
    """Create the schema (dropping an old one) and the rows for the first `count` demo parcels
    in the database `url` names (a synchronous SQLAlchemy URL: mysql+pymysql or sqlite).
    Returns the rows written per table."""
    engine = create_engine(url)
    mariadb = make_url(url).get_backend_name() in {"mysql", "mariadb"}
    permit_rows = [row.columns for i in range(count) for row in permits(i)]
    violation_rows = [row.columns for i in range(count) for row in violations(i)]
    with engine.begin() as connection:
        for view in ("V_PERMITS", "V_VIOLATIONS"):
            connection.execute(text(f"DROP VIEW IF EXISTS {view}"))
        for table in TABLES:
            connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
        for statement in (*(MARIADB_DDL if mariadb else SQLITE_DDL), *VIEWS):
            connection.execute(text(statement))
        connection.execute(
            text("INSERT INTO PERMIT_STATUS (STATUS_CD, STATUS_DESC) VALUES (:code, :text)"),
            [{"code": code, "text": name} for code, name in STATUSES.items()],
        )
        for table, rows in (("PERMIT_MASTER", permit_rows), ("CODE_VIOLATION", violation_rows)):
            if rows:
                names = list(rows[0])
                connection.execute(
                    text(
                        f"INSERT INTO {table} ({', '.join(names)}) "  # noqa: S608 - our names
                        f"VALUES ({', '.join(':' + n for n in names)})"
                    ),
                    rows,
                )
    engine.dispose()
    return {
        "PERMIT_STATUS": len(STATUSES),
        "PERMIT_MASTER": len(permit_rows),
        "CODE_VIOLATION": len(violation_rows),
    }


class LegacyPermitsDatabase:
    """The legacy system's stand-in: a seeded SQLite file, opened read-only by the client (a
    database has no HTTP emulator to serve; `manage.py emulators` leaves it to
    `manage.py seed_legacy_permits`). It counts the statements run against it, by the table
    or view they read, as `stats()` in the emulators' shape."""

    service: ClassVar[str] = "legacy_permits"
    test_settings: ClassVar[Mapping[str, Any]] = {}
    #: Seeded files by parcel count, one per process: the client only reads them.
    _files: ClassVar[dict[int, Path]] = {}
    #: Statements seen, per database file (the listener below serves every instance).
    _seen: ClassVar[dict[str, Counter[str]]] = {}
    _listening: ClassVar[bool] = False

    def __init__(self, count: int = 200) -> None:
        path = self._files.get(count)
        if path is None:
            path = Path(tempfile.mkdtemp(prefix="legacy-permits-")) / "permits.sqlite3"
            seed(f"sqlite:///{path}", count)
            self._files[count] = path
        self.path = path
        self._seen[str(path)] = Counter()
        if not LegacyPermitsDatabase._listening:
            event.listen(Engine, "before_cursor_execute", _count_statement)
            LegacyPermitsDatabase._listening = True

    def stats(self) -> dict[str, Any]:
        calls = dict(self._seen[str(self.path)])
        return {"total": sum(calls.values()), "calls": calls}

    def reset(self) -> None:
        self._seen[str(self.path)].clear()

    @property
    def url(self) -> str:
        """The client's URL: aiosqlite, read-only."""
        return read_only_sqlite_url(self.path)

    @classmethod
    def for_client(
        cls, client_settings: Mapping[str, Any], **options: Any
    ) -> LegacyPermitsDatabase:
        return cls(**options)

    @classmethod
    def standalone(cls, directory: Path, count: int) -> dict[str, str]:
        """A stand-in for servers in other processes (the benchmark's): a file seeded in
        `directory` for `count` parcels; returns the client settings that point at it."""
        path = directory / f"{cls.service}.sqlite3"
        seed(f"sqlite:///{path}", count)
        return {"url": read_only_sqlite_url(path)}


#: The table or view a statement reads; SQLAlchemy quotes upper-case names ("V_PERMITS").
_READS = re.compile(r"\bFROM\s+[`\"]?([A-Za-z_]+)", re.IGNORECASE)


def _count_statement(
    connection: Any, cursor: Any, statement: str, *args: Any, **kwargs: Any
) -> None:
    database = str(connection.engine.url.database or "").removeprefix("file:")
    seen = LegacyPermitsDatabase._seen.get(database)
    if seen is not None and statement.lstrip().upper().startswith("SELECT"):
        read = _READS.search(statement)
        seen[f"SELECT {read.group(1) if read else '?'}"] += 1


def read_only_sqlite_url(path: Path | str) -> str:
    return f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true"


EMULATOR = LegacyPermitsDatabase
