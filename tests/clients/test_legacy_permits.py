"""LegacyPermitsClient: the legacy schema's quirks, against the demo's SQLite stand-in and a real
MariaDB (a database and a read-only user of our own), and the faults a DBA knows."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from clients.bulkhead import CapacityExhausted
from clients.errors import ServiceTimeout, ServiceUnavailable
from clients.legacy_permits import (
    LegacyPermitsClient,
    LegacyPermitsConfig,
    UnreadableRowError,
    legacy_amount,
    legacy_date,
    legacy_text,
    normalize_pin,
    pin_spellings,
)
from clients.sql import COMMAND_DENIED, error_number
from emulators import legacy_permits as legacy
from emulators.data import property_at
from tests.clients.conftest import call_records
from tests.clocks import FakeClock

PARCELS = 60
READ_ONLY_TRANSACTION = 1792


def pins(count: int = PARCELS) -> list[str]:
    return [property_at(i).parcel_id for i in range(count)]


def as_expected(permit) -> dict:
    return {
        "permitNumber": permit.permit_number,
        "type": permit.kind,
        "status": permit.status,
        "issuedOn": None if permit.issued_on is None else permit.issued_on.isoformat(),
        "expiresOn": None if permit.expires_on is None else permit.expires_on.isoformat(),
        "finaledOn": None if permit.finaled_on is None else permit.finaled_on.isoformat(),
        "valuation": None if permit.valuation is None else f"{permit.valuation:.2f}",
        "description": permit.description,
        "contractor": permit.contractor,
    }


def client_for(url: str, **overrides) -> LegacyPermitsClient:
    return LegacyPermitsClient(LegacyPermitsConfig(url=url, **overrides))


@pytest.fixture
async def sqlite_client():
    client = client_for(legacy.LegacyPermitsDatabase().url)
    yield client
    await client.close_pool()


@pytest.fixture
async def mariadb_client(legacy_mariadb):
    client = client_for(legacy_mariadb.client_url, statement_timeout=1.0)
    yield client
    await client.close_pool()


# -- the quirks, one by one --------------------------------------------------------------------


def test_parcel_ids_are_normalised_and_looked_up_in_both_spellings():
    assert normalize_pin(" 17-04-221-033-0000  ") == "17042210330000"
    assert pin_spellings("17042210330000") == ("17042210330000", "17-04-221-033-0000")


#: Stored spellings and their near misses: digits (and other scripts' digits), dashes, spaces.
PIN_LIKE = st.text(alphabet="0123456789- \t\u0663\u00b2x", max_size=24)


@given(st.one_of(st.text(), PIN_LIKE, st.none(), st.integers()))
def test_a_parcel_id_normalises_to_its_digits_whatever_it_holds(raw):
    assert normalize_pin(raw) == "".join(ch for ch in str(raw or "") if ch.isdigit())


def test_dates_amounts_and_text():
    assert legacy_date("20190315", "ISSUE_DT") == date(2019, 3, 15)
    assert legacy_date("00000000", "ISSUE_DT") is None
    assert legacy_date("  ", "ISSUE_DT") is None
    with pytest.raises(UnreadableRowError, match="20191341"):
        legacy_date("20191341", "ISSUE_DT")
    assert legacy_amount("$45,000.00", "VALUATION") == Decimal("45000.00")
    assert legacy_amount("", "VALUATION") is None
    for garbage in ("N/A", "NaN"):
        with pytest.raises(UnreadableRowError):
            legacy_amount(garbage, "VALUATION")
    assert legacy_text("Café".encode("cp1252")) == "Café"  # 0xE9: not UTF-8
    assert legacy_text("Owner\u2019s".encode("cp1252")) == "Owner\u2019s"  # 0x92
    assert legacy_text("Café".encode()) == "Café"  # UTF-8 kept in a latin1 column
    assert legacy_text(None) is None


# -- against the SQLite stand-in ----------------------------------------------------------------


async def test_permits_and_open_violations_from_the_stand_in(sqlite_client, caplog):
    permits = await sqlite_client.permits_by_parcel(parcel_ids=pins())
    violations = await sqlite_client.open_violations_by_parcel(parcel_ids=pins())

    for index, pin in enumerate(pins()):
        assert [as_expected(p) for p in permits[pin]] == legacy.expected_permits(index), index
        assert [v.case_number for v in violations[pin]] == [
            v["caseNumber"] for v in legacy.expected_open_violations(index)
        ]
    # one statement per view, and the status table once
    assert sqlite_client.statements == {
        "permit_statuses": 1,
        "permits_by_parcel": 1,
        "open_violations_by_parcel": 1,
    }
    unreadable = [
        row.columns["PERMIT_NO"]
        for i in range(PARCELS)
        for row in legacy.permits(i)
        if row.expected is None
    ]
    skipped = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert unreadable  # the seed has some
    assert sorted(r.key for r in skipped) == sorted(unreadable)


async def test_an_unreadable_row_warns_once_then_again_after_the_repeat_period(
    sqlite_client, caplog
):
    clock = FakeClock(1000.0)
    sqlite_client.clock = clock
    repeat = sqlite_client.config.repeat_warning_after
    caplog.set_level(logging.DEBUG, logger="clients.legacy_permits")

    async def skipped_at(level: int) -> list[str]:
        caplog.clear()
        await sqlite_client.permits_by_parcel(parcel_ids=pins())
        records = [r for r in caplog.records if "skipped" in r.getMessage()]
        return sorted(r.key for r in records if r.levelno == level)

    warned = await skipped_at(logging.WARNING)
    assert warned  # the seed has unreadable rows
    clock.now += repeat - 1
    assert await skipped_at(logging.WARNING) == []  # read again: not news
    clock.now += 0.5
    assert await skipped_at(logging.DEBUG) == warned  # but still there at DEBUG
    clock.now += 0.5
    assert await skipped_at(logging.WARNING) == warned  # the period is over


async def test_the_rows_remembered_for_the_repeat_period_are_bounded(
    sqlite_client, caplog, monkeypatch
):
    monkeypatch.setattr("clients.legacy_permits.REMEMBERED_ROWS", 1)
    caplog.set_level(logging.WARNING, logger="clients.legacy_permits")
    await sqlite_client.permits_by_parcel(parcel_ids=pins())
    first = sorted(r.key for r in caplog.records if "skipped" in r.getMessage())
    assert len(first) >= 2
    caplog.clear()

    await sqlite_client.permits_by_parcel(parcel_ids=pins())

    assert len(sqlite_client._warned) == 1
    assert sorted(r.key for r in caplog.records if "skipped" in r.getMessage()) == first


async def test_a_batch_larger_than_the_limit_is_chunked(sqlite_client):
    small = dataclasses.replace(sqlite_client.config, batch_size=25)
    client = LegacyPermitsClient(small)
    try:
        found = await client.permits_by_parcel(parcel_ids=pins())
    finally:
        await client.close_pool()

    assert client.statements["permits_by_parcel"] == 3  # 60 parcels, 25 per statement
    assert set(found) == set(pins())


# -- against MariaDB -----------------------------------------------------------------------------


async def test_the_same_rows_from_mariadb_as_the_read_only_user(mariadb_client, client_logs):
    permits = await mariadb_client.permits_by_parcel(parcel_ids=pins())

    for index, pin in enumerate(pins()):
        assert [as_expected(p) for p in permits[pin]] == legacy.expected_permits(index), index
    records = [r for r in call_records(client_logs) if r.operation == "permits_by_parcel"]
    assert [(r.query, r.rows, r.levelno) for r in records] == [
        ("permits_by_parcel", records[0].rows, logging.INFO)
    ]
    # the log never carries bound values (parcel ids) or the password
    for record in client_logs.records:
        text_ = record.getMessage() + str(vars(record))
        assert pins()[0] not in text_
        assert "permits-ro-test-pass" not in text_


INSERT = text("INSERT INTO PERMIT_STATUS (STATUS_CD, STATUS_DESC) VALUES ('NEW', 'New')")


async def test_the_read_only_user_cannot_write(legacy_mariadb, mariadb_client):
    # as the client connects (its sessions are read-only too)...
    with pytest.raises(DBAPIError) as through_client:
        async with mariadb_client.engine.begin() as connection:
            await connection.execute(INSERT)
    # ...and as the bare user: the server refuses the privilege itself
    bare = create_async_engine(legacy_mariadb.client_url)
    try:
        with pytest.raises(DBAPIError) as as_user:
            async with bare.begin() as connection:
                await connection.execute(INSERT)
    finally:
        await bare.dispose()

    assert error_number(through_client.value) in {COMMAND_DENIED, READ_ONLY_TRANSACTION}
    assert error_number(as_user.value) == COMMAND_DENIED


async def test_an_unreachable_server_is_unavailable_without_a_retry_storm(legacy_mariadb):
    wrong_port = legacy_mariadb.client_url.replace(":3306/", ":3399/")
    client = client_for(wrong_port, max_attempts=2)
    try:
        with pytest.raises(ServiceUnavailable) as caught:
            await client.permits_by_parcel(parcel_ids=pins(3))
    finally:
        await client.close_pool()

    assert caught.value.may_have_reached_server is False
    assert client.statements == {"permit_statuses": 2}  # two attempts, then the error


async def test_a_statement_over_its_time_limit_is_stopped_by_the_server(
    legacy_mariadb, mariadb_client
):
    with legacy_mariadb.admin().begin() as connection:
        connection.execute(
            text(
                "CREATE OR REPLACE VIEW V_PERMITS_SLOW AS SELECT * FROM V_PERMITS "
                "WHERE SLEEP(0.05) = 0"
            )
        )
        connection.execute(
            text("GRANT SELECT ON legacy_permits_test.V_PERMITS_SLOW TO 'permits_ro'@'%'")
        )
    client = client_for(
        legacy_mariadb.client_url, statement_timeout=0.3, permits_view="V_PERMITS_SLOW"
    )
    try:
        with pytest.raises(ServiceTimeout) as caught:
            await client.permits_by_parcel(parcel_ids=pins())
    finally:
        await client.close_pool()

    assert "1969" in caught.value.detail  # max_statement_time, on the server
    assert client.statements["permits_by_parcel"] == 1  # not retried: it would run as long


async def test_a_connection_killed_in_the_pool_is_replaced(legacy_mariadb, mariadb_client):
    await mariadb_client.permits_by_parcel(parcel_ids=pins(5))
    async with mariadb_client.engine.connect() as connection:
        victim = (await connection.execute(text("SELECT CONNECTION_ID()"))).scalar_one()
    with legacy_mariadb.admin().begin() as connection:
        connection.execute(text(f"KILL {int(victim)}"))

    found = await mariadb_client.permits_by_parcel(parcel_ids=pins(5))

    assert [as_expected(p) for p in found[pins(5)[0]]] == legacy.expected_permits(0)


async def test_a_lock_wait_past_the_limit_is_a_timeout(legacy_mariadb, mariadb_client):
    admin = legacy_mariadb.admin()
    with admin.connect() as locker:
        locker.execute(text("LOCK TABLES PERMIT_MASTER WRITE"))
        try:
            with pytest.raises(ServiceTimeout):
                await mariadb_client.permits_by_parcel(parcel_ids=pins(5))
        finally:
            locker.execute(text("UNLOCK TABLES"))
    admin.dispose()


async def test_a_pool_exhausted_by_slow_queries_refuses_fast(legacy_mariadb):
    with legacy_mariadb.admin().begin() as connection:
        connection.execute(
            text(
                "CREATE OR REPLACE VIEW V_PERMITS_SLOW AS SELECT * FROM V_PERMITS "
                "WHERE SLEEP(0.01) = 0"
            )
        )
        connection.execute(
            text("GRANT SELECT ON legacy_permits_test.V_PERMITS_SLOW TO 'permits_ro'@'%'")
        )
    client = client_for(
        legacy_mariadb.client_url,
        statement_timeout=5.0,
        permits_view="V_PERMITS_SLOW",
        max_connections=2,
        pool_timeout=0.05,
    )
    try:
        await client.permits_by_parcel(parcel_ids=pins(1))  # the status table, read once
        outcomes = await asyncio.gather(
            *(client.permits_by_parcel(parcel_ids=pins(40)) for _ in range(6)),
            return_exceptions=True,
        )
    finally:
        await client.close_pool()

    refused = [o for o in outcomes if isinstance(o, CapacityExhausted)]
    answered = [o for o in outcomes if isinstance(o, dict)]
    assert len(answered) >= 2
    assert refused
    assert client.bulkhead.snapshot() == {"inUse": 0, "limit": 2, "waiting": 0}
