"""Cache entries hold records as JSON; the serializer writes the clients' dataclasses itself
(resolvers/cache.py), and must write exactly what `to_json` makes of them, which `from_json`
reads back: for every kind of record, with every field filled or empty."""

from __future__ import annotations

import dataclasses
import typing
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clients.filemaker import Listing
from clients.geocoder import Location
from clients.legacy_permits import Permit, Violation
from clients.salesforce import Account
from clients.tax_assessor import Assessment
from resolvers.cache import JsonSerializer, from_json, to_json

RECORDS = [Listing, Account, Assessment, Location, Permit, Violation]

_ZONES = st.sampled_from([None, UTC, timezone(timedelta(hours=-5, minutes=-30))])
_SCALARS: dict[type, st.SearchStrategy[typing.Any]] = {
    str: st.text(),
    int: st.integers(min_value=-(2**63), max_value=2**63 - 1),
    float: st.floats(allow_nan=False, allow_infinity=False),
    Decimal: st.decimals(allow_nan=False, allow_infinity=False, places=2),
    date: st.dates(),
    datetime: st.datetimes(timezones=_ZONES),
}


def records(cls: type) -> st.SearchStrategy[typing.Any]:
    hints = typing.get_type_hints(cls)
    fields = {}
    for field in dataclasses.fields(cls):
        kinds = typing.get_args(hints[field.name]) or (hints[field.name],)
        options = [_SCALARS[kind] if kind in _SCALARS else st.none() for kind in kinds]
        fields[field.name] = st.one_of(options)
    return st.builds(cls, **fields)


@pytest.mark.parametrize("cls", RECORDS, ids=lambda cls: cls.__name__)
def test_a_record_is_written_as_to_json_makes_it_and_read_back_whole(cls):
    @given(records(cls))
    def check(record):
        written = orjson.loads(JsonSerializer().dumps({"v": record, "at": 1.5}))

        assert written == {"v": to_json(record), "at": 1.5}
        assert from_json(cls, written["v"]) == record

    check()


def test_a_list_of_records_is_written_whole():
    permit = Permit(
        permit_number="P1",
        parcel_id="17061047290000",
        kind="MECH",
        status="issued",
        status_description="Issued",
        issued_on=date(2024, 5, 1),
        expires_on=None,
        finaled_on=None,
        valuation=Decimal("403000.00"),
        description="Garage",
        contractor=None,
    )

    assert orjson.loads(JsonSerializer().dumps([permit])) == [to_json(permit)]


def test_what_is_not_json_is_refused():
    with pytest.raises(TypeError):
        JsonSerializer().dumps({"v": object()})
