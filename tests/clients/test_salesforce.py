"""SalesforceClient against respx, with Salesforce's real shapes and codes."""

from __future__ import annotations

import asyncio
from datetime import date
from urllib.parse import parse_qs

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from clients.errors import (
    AuthenticationFailed,
    BadResponse,
    NotFound,
    RateLimited,
    ServiceTimeout,
    ServiceUnavailable,
)
from clients.salesforce import SalesforceClient, SalesforceConfig, _encoded_length, soql_quote
from tests.clients.conftest import assert_no_secret_in_logs, call_records

LOGIN = "https://acme.my.salesforce.com"
INSTANCE = "https://acme-instance.my.salesforce.com"
DATA = f"{INSTANCE}/services/data/v62.0"
SECRET = "sf-client-secret-3f9a"
TOKEN = "00Dxx0000001gPL!AQ4AQFakeAccessToken"


def token_answer(token: str = TOKEN) -> dict:
    return {
        "access_token": token,
        "instance_url": INSTANCE,
        "id": "https://login.salesforce.com/id/00Dxx0000001gPLEAY/005xx000001Sv6AAAS",
        "token_type": "Bearer",
        "issued_at": "1764150000000",
        "signature": "c2lnbmF0dXJl",
    }


def account(n: int, parcel: str) -> dict:
    return {
        "attributes": {"type": "Account", "url": f"/services/data/v62.0/sobjects/Account/001{n}"},
        "Id": f"001xx00000{n:08d}",
        "Name": f"Owner {n}",
        "Phone": "(312) 555-0100",
        "Owner": {"attributes": {"type": "User"}, "Name": "Pat Rivera"},
        "LastActivityDate": "2026-11-02",
        "Parcel_ID__c": parcel,
    }


def page(records: list[dict], next_url: str | None = None) -> dict:
    body = {"totalSize": len(records), "done": next_url is None, "records": records}
    if next_url:
        body["nextRecordsUrl"] = next_url
    return body


LIMITS = {"Sforce-Limit-Info": "api-usage=18/5000"}


@pytest.fixture
def config() -> SalesforceConfig:
    return SalesforceConfig(base_url=LOGIN, client_id="3MVG9-consumer-key", client_secret=SECRET)


@pytest.fixture
def sf():
    with respx.mock(assert_all_called=False) as router:
        router.token = router.post(f"{LOGIN}/services/oauth2/token").respond(
            200, json=token_answer()
        )
        router.query = router.get(f"{DATA}/query")
        yield router


def soql_of(request: httpx.Request) -> str:
    return parse_qs(request.url.query.decode())["q"][0]


async def test_accounts_by_parcel_with_client_credentials(http, sf, config):
    sf.query.respond(200, json=page([account(1, "17042210330000")]), headers=LIMITS)
    client = SalesforceClient(config, http=http)

    accounts = await client.accounts_by_parcel(parcel_ids=["17042210330000", "14081200170000"])

    form = parse_qs(sf.token.calls.last.request.content.decode())
    assert form == {
        "grant_type": ["client_credentials"],
        "client_id": ["3MVG9-consumer-key"],
        "client_secret": [SECRET],
    }
    request = sf.query.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert soql_of(request) == (
        "SELECT Id, Name, Phone, Owner.Name, LastActivityDate, Parcel_ID__c FROM Account "
        "WHERE Parcel_ID__c IN ('17042210330000', '14081200170000')"
    )
    owner = accounts["17042210330000"]
    assert list(accounts) == ["17042210330000"]
    assert (owner.id, owner.name, owner.owner_name) == (
        "001xx0000000000001",
        "Owner 1",
        "Pat Rivera",
    )
    assert owner.last_activity_date == date(2026, 11, 2)
    assert client.api_usage.used == 18
    assert client.api_usage.limit == 5000


async def test_query_follows_next_records_url(http, sf, config):
    more = sf.get(f"{DATA}/query/01gxx-2000").respond(200, json=page([account(2, "2")]))
    sf.query.respond(
        200, json=page([account(1, "1")], next_url="/services/data/v62.0/query/01gxx-2000")
    )

    records = await SalesforceClient(config, http=http).query("SELECT Id FROM Account")

    assert [r["Id"] for r in records] == ["001xx0000000000001", "001xx0000000000002"]
    assert "attributes" not in records[0]
    assert more.call_count == 1


async def test_in_clause_is_chunked_under_the_uri_limit(http, sf, config):
    sf.query.respond(200, json=page([]))
    parcel_ids = [f"{i:014d}" for i in range(300)]

    await SalesforceClient(config, http=http).accounts_by_parcel(parcel_ids=parcel_ids)

    sent = [call.request for call in sf.query.calls]
    assert len(sent) > 1
    assert all(len(str(r.url)) <= 2000 for r in sent)
    asked = [pid for r in sent for pid in soql_of(r).split("IN (")[1].rstrip(")").split(", ")]
    assert asked == [soql_quote(p) for p in parcel_ids]


@given(st.text(max_size=60))
def test_encoded_length_is_what_httpx_sends(text):
    """The chunking adds lengths up per literal: each must be what httpx puts in the URI."""
    assert _encoded_length(text) == len(str(httpx.QueryParams({"q": text}))) - len("q=")


def test_soql_literals_are_escaped():
    assert soql_quote("O'Brien") == "'O\\'Brien'"
    assert soql_quote("a\\b") == "'a\\\\b'"
    assert soql_quote("x') OR Name LIKE ('%") == "'x\\') OR Name LIKE (\\'%'"


async def test_hostile_parcel_id_stays_inside_its_literal(http, sf, config):
    sf.query.respond(200, json=page([]))

    await SalesforceClient(config, http=http).accounts_by_parcel(parcel_ids=["1') OR (Id != '"])

    assert soql_of(sf.query.calls.last.request).endswith("IN ('1\\') OR (Id != \\'')")


async def test_invalid_session_renews_the_token_once(http, sf, config, client_logs):
    sf.token.mock(
        side_effect=[
            httpx.Response(200, json=token_answer()),
            httpx.Response(200, json=token_answer("00Dxx!fresh")),
        ]
    )
    sf.query.mock(
        side_effect=[
            httpx.Response(
                401,
                json=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
            ),
            httpx.Response(200, json=page([])),
        ]
    )

    assert await SalesforceClient(config, http=http).query("SELECT Id FROM Account") == []

    assert sf.token.call_count == 2
    assert sf.query.calls.last.request.headers["Authorization"] == "Bearer 00Dxx!fresh"
    assert [r.outcome for r in call_records(client_logs)] == ["ok", "session_expired", "ok", "ok"]


async def test_an_unreadable_401_renews_the_token_instead_of_blaming_the_credentials(
    http, sf, config
):
    sf.query.mock(
        side_effect=[
            httpx.Response(401, content=b'[{"message": "Sess'),
            httpx.Response(200, json=page([])),
        ]
    )

    assert await SalesforceClient(config, http=http).query("SELECT Id FROM Account") == []
    assert sf.token.call_count == 2


async def test_an_unreadable_401_after_a_new_token_is_a_bad_response(http, sf, config):
    sf.query.respond(401, content=b'[{"message": "Sess')

    with pytest.raises(BadResponse):
        await SalesforceClient(config, http=http).query("SELECT Id FROM Account")

    assert sf.token.call_count == 2


async def test_fifty_concurrent_callers_with_an_expired_session_cause_one_token_fetch(
    http, sf, config
):
    client = SalesforceClient(config, http=http)
    sf.query.respond(200, json=page([]))
    await client.query("SELECT Id FROM Account")
    sf.token.respond(200, json=token_answer("00Dxx!fresh"))

    def server(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == f"Bearer {TOKEN}":
            return httpx.Response(
                401, json=[{"message": "expired", "errorCode": "INVALID_SESSION_ID"}]
            )
        return httpx.Response(200, json=page([]))

    sf.query.mock(side_effect=server)

    await asyncio.gather(*(client.query("SELECT Id FROM Account") for _ in range(50)))

    assert sf.token.call_count == 2


async def test_bad_client_credentials_are_authentication_failed(http, sf, config, client_logs):
    sf.token.respond(
        400, json={"error": "invalid_client", "error_description": "invalid client credentials"}
    )

    with pytest.raises(AuthenticationFailed) as caught:
        await SalesforceClient(config, http=http).query("SELECT Id FROM Account")

    assert sf.token.call_count == 1
    assert "invalid_client" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert_no_secret_in_logs(client_logs, SECRET, TOKEN)


async def test_daily_quota_is_rate_limited_and_not_retried(http, sf, config):
    sf.query.respond(
        403,
        json=[{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
        headers={"Sforce-Limit-Info": "api-usage=5000/5000"},
    )
    client = SalesforceClient(config, http=http)

    with pytest.raises(RateLimited) as caught:
        await client.query("SELECT Id FROM Account")

    assert sf.query.call_count == 1
    assert caught.value.retryable is False
    assert client.api_usage.used == 5000


async def test_server_unavailable_is_retried(http, sf, config):
    sf.query.mock(
        side_effect=[
            httpx.Response(503, json=[{"message": "down", "errorCode": "SERVER_UNAVAILABLE"}]),
            httpx.Response(200, json=page([])),
        ]
    )

    await SalesforceClient(config, http=http).query("SELECT Id FROM Account")

    assert sf.query.call_count == 2


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        (
            httpx.Response(503, json=[{"message": "x", "errorCode": "SERVER_UNAVAILABLE"}]),
            ServiceUnavailable,
        ),
        (httpx.ReadTimeout("lost"), ServiceTimeout),
    ],
)
async def test_update_account_is_not_retried(http, sf, config, failure, error):
    route = sf.patch(f"{DATA}/sobjects/Account/001xx0000000000001").mock(
        side_effect=[failure, httpx.Response(204)]
    )

    with pytest.raises(error):
        await SalesforceClient(config, http=http).update_account(
            account_id="001xx0000000000001", fields={"Phone": "(312) 555-0199"}
        )

    assert route.call_count == 1


async def test_update_account_success_and_not_found(http, sf, config):
    route = sf.patch(f"{DATA}/sobjects/Account/001xx0000000000001").mock(
        side_effect=[
            httpx.Response(204),
            httpx.Response(404, json=[{"message": "not found", "errorCode": "NOT_FOUND"}]),
        ]
    )
    client = SalesforceClient(config, http=http)

    await client.update_account(account_id="001xx0000000000001", fields={"Phone": "1"})
    with pytest.raises(NotFound):
        await client.update_account(account_id="001xx0000000000001", fields={"Phone": "1"})

    assert route.calls[0].request.content == b'{"Phone":"1"}'


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"records": "nope", "done": true}', b'{"done": false, "records": []}'],
)
async def test_garbage_is_bad_response(http, sf, config, body):
    sf.query.respond(200, content=body)

    with pytest.raises(BadResponse):
        await SalesforceClient(config, http=http).query("SELECT Id FROM Account")


async def test_token_answer_without_instance_url_is_bad_response(http, sf, config):
    sf.token.respond(200, json={"access_token": TOKEN})

    with pytest.raises(BadResponse):
        await SalesforceClient(config, http=http).query("SELECT Id FROM Account")
