"""TaxAssessorClient against respx, with Socrata's real shapes (numbers as strings)."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
import respx

from clients.errors import BadResponse, RateLimited, RequestRejected, ServiceUnavailable
from clients.tax_assessor import TaxAssessorClient, TaxAssessorConfig
from tests.clients.conftest import assert_no_secret_in_logs

BASE = "https://datacatalog.cookcountyil.gov"
URL = f"{BASE}/resource/uzyt-m557.json"
APP_TOKEN = "socrata-app-token-7c1e"


def row(pin: str, year: int, *, board: bool = True, certified: bool = True) -> dict:
    values = {
        "pin": pin,
        "year": str(year),
        "class": "211",
        "township_name": "Lake View",
        "mailed_bldg": "40000",
        "mailed_land": "9000",
        "mailed_tot": "49000",
    }
    if certified:
        values |= {"certified_bldg": "38000", "certified_land": "9000", "certified_tot": "47000"}
    if board:
        values |= {"board_bldg": "37500.0", "board_land": "9000", "board_tot": "46500.0"}
    return values


@pytest.fixture
def config() -> TaxAssessorConfig:
    return TaxAssessorConfig(base_url=BASE, app_token=APP_TOKEN, batch_size=2)


@pytest.fixture
def soda():
    with respx.mock(assert_all_called=False) as router:
        router.rows = router.get(URL)
        yield router


async def test_latest_year_at_its_most_final_stage(http, soda, config):
    soda.rows.respond(
        200,
        json=[
            row("17042210330000", 2024, board=False),
            row("17042210330000", 2023),
            row("14081200170000", 2022, board=False, certified=False),
        ],
    )

    result = await TaxAssessorClient(config, http=http).get_assessments(
        parcel_ids=["17042210330000", "14081200170000"]
    )

    request = soda.rows.calls.last.request
    assert request.headers["X-App-Token"] == APP_TOKEN
    assert request.url.params["$where"] == "pin in('17042210330000','14081200170000')"
    assert request.url.params["$order"] == "pin,year DESC"
    latest = result["17042210330000"]
    assert (latest.tax_year, latest.stage) == (2024, "certified")
    assert (latest.land_value, latest.building_value, latest.total_value) == (
        Decimal("9000"),
        Decimal("38000"),
        Decimal("47000"),
    )
    older = result["14081200170000"]
    assert (older.tax_year, older.stage, older.total_value) == (2022, "mailed", Decimal("49000"))
    assert older.township == "Lake View"


async def test_parcels_are_batched(http, soda, config):
    soda.rows.respond(200, json=[])

    result = await TaxAssessorClient(config, http=http).get_assessments(
        parcel_ids=["1", "2", "3", "2"]
    )

    assert result == {}
    assert soda.rows.call_count == 2  # batch_size 2, duplicates dropped


async def test_quotes_in_ids_cannot_break_out_of_the_literal(http, soda, config):
    soda.rows.respond(200, json=[])

    await TaxAssessorClient(config, http=http).get_assessments(parcel_ids=["1') OR (1=1"])

    assert soda.rows.calls.last.request.url.params["$where"] == "pin in('1'') OR (1=1')"


async def test_throttled_then_processing_then_ok(http, soda, config):
    soda.rows.mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "1"}),
            httpx.Response(202, json={"message": "processing"}),
            httpx.Response(200, json=[row("1", 2024)]),
        ]
    )

    result = await TaxAssessorClient(config, http=http).get_assessments(parcel_ids=["1"])

    assert result["1"].tax_year == 2024
    assert soda.rows.call_count == 3


async def test_persistent_throttling_is_rate_limited(http, soda, config):
    soda.rows.respond(429)

    with pytest.raises(RateLimited):
        await TaxAssessorClient(config, http=http).get_assessments(parcel_ids=["1"])

    assert soda.rows.call_count == 3


async def test_bad_query_is_rejected_without_retry(http, soda, config):
    soda.rows.respond(
        400, json={"code": "query.compiler.malformed", "error": True, "message": "bad"}
    )

    with pytest.raises(RequestRejected) as caught:
        await TaxAssessorClient(config, http=http).get_assessments(parcel_ids=["1"])

    assert "query.compiler.malformed" in str(caught.value)
    assert soda.rows.call_count == 1


@pytest.mark.parametrize(
    "body",
    [
        b"<html>",
        b'{"rows": []}',
        b'[{"pin": "1", "year": "twenty"}]',
        b'[{"pin": "1", "year": "2024", "board_tot": "-5"}]',
        b'[{"year": "2024"}]',
    ],
)
async def test_garbage_is_bad_response(http, soda, config, body, client_logs):
    soda.rows.respond(200, content=body)

    with pytest.raises(BadResponse):
        await TaxAssessorClient(config, http=http).get_assessments(parcel_ids=["1"])

    assert_no_secret_in_logs(client_logs, APP_TOKEN)


async def test_no_app_token_sends_no_header(http, soda):
    soda.rows.respond(200, json=[])

    await TaxAssessorClient(TaxAssessorConfig(base_url=BASE), http=http).get_assessments(
        parcel_ids=["1"]
    )

    assert "X-App-Token" not in soda.rows.calls.last.request.headers


async def test_server_error_after_retries(http, soda, config):
    soda.rows.respond(503)

    with pytest.raises(ServiceUnavailable):
        await TaxAssessorClient(config, http=http).get_assessments(parcel_ids=["1"])
