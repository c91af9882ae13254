"""FileMakerClient against respx, with the Data API's real shapes and codes."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from decimal import Decimal

import httpx
import pytest
import respx

from clients.errors import (
    AuthenticationFailed,
    BadResponse,
    Conflict,
    NotFound,
    RequestRejected,
    ServiceTimeout,
    ServiceUnavailable,
)
from clients.filemaker import FileMakerClient, FileMakerConfig, exact_match
from tests.clients.conftest import assert_no_secret_in_logs, call_records

BASE = "https://fms.example.test"
DB_URL = f"{BASE}/fmi/data/vLatest/databases/Real%20Estate"
PASSWORD = "fm-Pa55word!"
TOKEN = "8e2b1c4d0f9a47b5a1d3c6e8f0b2a4c6"


def ok(response: dict) -> dict:
    return {"response": response, "messages": [{"code": "0", "message": "OK"}]}


def fm_error(code: str, message: str) -> dict:
    return {"response": {}, "messages": [{"code": code, "message": message}]}


def listing_record(record_id: int, parcel: str, **fields) -> dict:
    return {
        "fieldData": {
            "Parcel ID": parcel,
            "Agent Name": "Dana Whitfield",
            "Agent Email": "dana@example.test",
            "Listing Status": "Active",
            "Showing Notes": "Lockbox on the side door",
            "List Price": "525000",
            "Modified": "11/20/2026 14:05:09",
            **fields,
        },
        "portalData": {},
        "recordId": str(record_id),
        "modId": "3",
    }


def found(records: list[dict]) -> dict:
    return ok(
        {
            "dataInfo": {
                "database": "Real Estate",
                "layout": "Listings",
                "table": "Listings",
                "totalRecordCount": 200,
                "foundCount": len(records),
                "returnedCount": len(records),
            },
            "data": records,
        }
    )


@pytest.fixture
def config() -> FileMakerConfig:
    return FileMakerConfig(
        base_url=BASE, database="Real Estate", username="api", password=PASSWORD, batch_size=3
    )


@pytest.fixture
def fm():
    with respx.mock(assert_all_called=False) as router:
        router.login = router.post(f"{DB_URL}/sessions").respond(
            200, json=ok({"token": TOKEN}), headers={"X-FM-Data-Access-Token": TOKEN}
        )
        router.find = router.post(f"{DB_URL}/layouts/Listings/_find")
        yield router


async def test_find_listings_is_one_find_with_one_request_per_parcel(http, fm, config):
    fm.find.respond(200, json=found([listing_record(7, "17042210330000")]))
    client = FileMakerClient(config, http=http)

    listings = await client.find_listings(parcel_ids=["17042210330000", "14081200170000"])

    assert fm.login.call_count == 1
    login = fm.login.calls.last.request
    assert (
        login.headers["Authorization"]
        == "Basic " + base64.b64encode(f"api:{PASSWORD}".encode()).decode()
    )
    assert fm.find.call_count == 1
    sent = fm.find.calls.last.request
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(sent.content)["query"] == [
        {"Parcel ID": "==17042210330000"},
        {"Parcel ID": "==14081200170000"},
    ]
    listing = listings["17042210330000"]
    assert list(listings) == ["17042210330000"]
    assert (listing.record_id, listing.mod_id, listing.agent_name) == ("7", "3", "Dana Whitfield")
    assert listing.list_price == Decimal("525000")
    assert listing.modified_at.isoformat() == "2026-11-20T14:05:09"


async def test_batches_are_chunked_at_batch_size(http, fm, config):
    fm.find.respond(200, json=found([]))

    await FileMakerClient(config, http=http).find_listings(
        parcel_ids=[f"{i:014d}" for i in range(7)]
    )

    assert fm.find.call_count == 3  # batch_size 3: 3 + 3 + 1
    assert fm.login.call_count == 1


async def test_no_records_match_is_an_empty_result(http, fm, config):
    fm.find.respond(500, json=fm_error("401", "No records match the request"))

    result = await FileMakerClient(config, http=http).find_records(queries=[{"Parcel ID": "==1"}])

    assert (result.records, result.found_count) == ([], 0)
    assert fm.find.call_count == 1


async def test_token_is_reused_across_calls(http, fm, config):
    fm.find.respond(200, json=found([]))
    client = FileMakerClient(config, http=http)

    for _ in range(3):
        await client.find_records(queries=[{"Parcel ID": "==1"}])

    assert fm.login.call_count == 1
    assert fm.find.call_count == 3


async def test_expired_token_952_renews_once_and_resends(http, fm, config, client_logs):
    fm.find.mock(
        side_effect=[
            httpx.Response(401, json=fm_error("952", "Invalid FileMaker Data API token (*)")),
            httpx.Response(200, json=found([])),
        ]
    )

    result = await FileMakerClient(config, http=http).find_records(queries=[{"Parcel ID": "==1"}])

    assert result.found_count == 0
    assert fm.login.call_count == 2
    outcomes = [(r.operation, r.status, r.outcome) for r in call_records(client_logs)]
    assert outcomes == [
        ("login", 200, "ok"),
        ("find_records", 401, "session_expired"),
        ("login", 200, "ok"),
        ("find_records", 200, "ok"),
    ]


async def test_an_unreadable_401_renews_the_session_instead_of_blaming_the_credentials(
    http, fm, config
):
    # an expired session whose 401 answer arrived truncated
    fm.find.mock(
        side_effect=[
            httpx.Response(401, content=b'{"response": {}, "messa'),
            httpx.Response(200, json=found([])),
        ]
    )

    result = await FileMakerClient(config, http=http).find_records(queries=[{"Parcel ID": "==1"}])

    assert result.found_count == 0
    assert fm.login.call_count == 2


async def test_an_unreadable_401_after_renewing_is_a_bad_response(http, fm, config):
    fm.find.respond(401, content=b'{"response": {}, "messa')

    with pytest.raises(BadResponse):
        await FileMakerClient(config, http=http).find_records(queries=[{"Parcel ID": "==1"}])

    assert fm.login.call_count == 2


async def test_fifty_concurrent_callers_with_an_expired_token_cause_one_login(http, fm, config):
    # given: a client holding a token the server has since forgotten
    client = FileMakerClient(config, http=http)
    fm.find.respond(200, json=found([]))
    await client.find_records(queries=[{"Parcel ID": "==1"}])
    fm.login.respond(200, json=ok({"token": "fresh-token"}))

    def server(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == f"Bearer {TOKEN}":
            return httpx.Response(401, json=fm_error("952", "Invalid FileMaker Data API token"))
        return httpx.Response(200, json=found([]))

    fm.find.mock(side_effect=server)

    # when
    await asyncio.gather(*(client.find_records(queries=[{"Parcel ID": "==1"}]) for _ in range(50)))

    # then: the first login plus exactly one renewal
    assert fm.login.call_count == 2


async def test_idle_token_is_renewed_before_it_expires(http, fm, config):
    fm.find.respond(200, json=found([]))
    client = FileMakerClient(config, http=http)
    await client.find_records(queries=[{"Parcel ID": "==1"}])

    client._token_last_used -= 14.5 * 60  # idle for 14.5 of the 15 minutes

    await client.find_records(queries=[{"Parcel ID": "==1"}])
    assert fm.login.call_count == 2
    assert fm.find.call_count == 2  # no call was wasted on a dead token


async def test_wrong_credentials_fail_without_retry(http, fm, config):
    fm.login.respond(401, json=fm_error("212", "Invalid user account and/or password"))

    with pytest.raises(AuthenticationFailed) as caught:
        await FileMakerClient(config, http=http).find_listings(parcel_ids=["1"])

    assert fm.login.call_count == 1
    assert "212" in str(caught.value)
    assert PASSWORD not in str(caught.value)


async def test_get_record_and_missing_record(http, fm, config):
    route = fm.get(f"{DB_URL}/layouts/Listings/records/7").mock(
        side_effect=[
            httpx.Response(200, json=found([listing_record(7, "17042210330000")])),
            httpx.Response(500, json=fm_error("101", "Record is missing")),
        ]
    )
    client = FileMakerClient(config, http=http)

    record = await client.get_record(record_id="7")
    with pytest.raises(NotFound):
        await client.get_record(record_id="7")

    assert record.field_data["Parcel ID"] == "17042210330000"
    assert route.call_count == 2


async def test_update_record_sends_mod_id_and_returns_the_new_one(http, fm, config):
    route = fm.patch(f"{DB_URL}/layouts/Listings/records/7").respond(200, json=ok({"modId": "4"}))

    new_mod_id = await FileMakerClient(config, http=http).update_record(
        record_id="7", field_data={"Showing Notes": "Call first"}, mod_id="3"
    )

    assert new_mod_id == "4"
    assert json.loads(route.calls.last.request.content) == {
        "fieldData": {"Showing Notes": "Call first"},
        "modId": "3",
    }


async def test_stale_mod_id_is_a_conflict(http, fm, config):
    route = fm.patch(f"{DB_URL}/layouts/Listings/records/7").respond(
        500, json=fm_error("306", "Record modification ID does not match")
    )

    with pytest.raises(Conflict):
        await FileMakerClient(config, http=http).update_record(
            record_id="7", field_data={"Showing Notes": "x"}, mod_id="2"
        )

    assert route.call_count == 1


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (httpx.Response(503, text="Service Unavailable"), ServiceUnavailable),
        (httpx.ReadTimeout("no answer"), ServiceTimeout),
    ],
)
async def test_update_is_not_retried_after_503_or_timeout(http, fm, config, failure, error):
    route = fm.patch(f"{DB_URL}/layouts/Listings/records/7").mock(
        side_effect=[failure, httpx.Response(200, json=ok({"modId": "4"}))]
    )

    with pytest.raises(error):
        await FileMakerClient(config, http=http).update_record(
            record_id="7", field_data={"Showing Notes": "x"}, mod_id="3"
        )

    assert route.call_count == 1


async def test_find_is_retried_on_502(http, fm, config):
    fm.find.mock(
        side_effect=[httpx.Response(502, text="Bad Gateway"), httpx.Response(200, json=found([]))]
    )

    await FileMakerClient(config, http=http).find_records(queries=[{"Parcel ID": "==1"}])

    assert fm.find.call_count == 2


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (200, b"<html>maintenance</html>", BadResponse),
        (200, json.dumps({"response": {}}).encode(), BadResponse),
        (200, json.dumps(ok({"data": [{"fieldData": {}}]})).encode(), BadResponse),
        (500, json.dumps(fm_error("105", "Layout is missing")).encode(), RequestRejected),
    ],
)
async def test_garbage_and_config_errors(http, fm, config, status, body, error):
    fm.find.respond(status, content=body)

    with pytest.raises(error):
        await FileMakerClient(config, http=http).find_records(queries=[{"Parcel ID": "==1"}])

    assert fm.find.call_count == 1


async def test_listing_with_bad_fields_is_bad_response(http, fm, config):
    fm.find.respond(200, json=found([listing_record(1, "1", **{"List Price": "call us"})]))

    with pytest.raises(BadResponse):
        await FileMakerClient(config, http=http).find_listings(parcel_ids=["1"])


async def test_aclose_logs_out_and_no_secret_is_logged(http, fm, config, client_logs):
    fm.find.respond(200, json=found([]))
    logout = fm.delete(f"{DB_URL}/sessions/{TOKEN}").respond(200, json=ok({}))
    client = FileMakerClient(config, http=http)
    await client.find_records(queries=[{"Parcel ID": "==1"}])

    await client.aclose()

    assert logout.call_count == 1
    assert "Authorization" not in logout.calls.last.request.headers
    assert [r.path for r in call_records(client_logs)][-1].endswith("/sessions/***")
    assert_no_secret_in_logs(client_logs, PASSWORD, TOKEN, "api:" + PASSWORD)
    assert PASSWORD not in repr(config)


def test_find_operators_are_escaped():
    assert exact_match("17-04*") == "==17-04\\*"
    assert exact_match('a"b') == '==a\\"b'


async def test_every_successful_call_logs_one_info_record(http, fm, config, client_logs):
    fm.find.respond(200, json=found([]))

    await FileMakerClient(config, http=http).find_records(queries=[{"Parcel ID": "==1"}])

    records = call_records(client_logs)
    assert [(r.levelno, r.operation) for r in records] == [
        (logging.INFO, "login"),
        (logging.INFO, "find_records"),
    ]
    assert all(r.duration_ms >= 0 and r.service == "filemaker" for r in records)
