"""The Salesforce emulator keeps the REST API's contract (external-apis.md section 2)."""

from __future__ import annotations

import pytest

from django_project.properties.demo_data import demo_property
from emulators.salesforce import SalesforceEmulator
from tests.emulators.conftest import SF

QUERY = "/services/data/v62.0/query"


@pytest.fixture
def emulator() -> SalesforceEmulator:
    return SalesforceEmulator(**SF, page_size=5)


async def token(http) -> dict:
    response = await http.post(
        "/services/oauth2/token", data={"grant_type": "client_credentials", **SF}
    )
    assert response.status_code == 200
    return response.json()


async def test_token_answer_shape_and_bad_client(emulator, connect):
    http = connect(emulator)

    body = await token(http)
    bad = await http.post(
        "/services/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": SF["client_id"],
            "client_secret": "x",
        },
    )

    assert set(body) >= {
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
    }
    assert body["instance_url"] == "http://emulator.test"
    assert body["issued_at"].isdigit()
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_client")


async def test_query_by_parcel_pages_and_limits_header(emulator, connect):
    http = connect(emulator)
    auth = {"Authorization": f"Bearer {(await token(http))['access_token']}"}
    parcels = [demo_property(i).parcel_id for i in range(12)]
    soql = (
        "SELECT Id, Name, Owner.Name, Parcel_ID__c FROM Account WHERE Parcel_ID__c IN ("
        + ", ".join(f"'{p}'" for p in parcels)
        + ")"
    )

    first = await http.get(QUERY, params={"q": soql}, headers=auth)
    body = first.json()
    records = list(body["records"])
    while not body["done"]:
        body = (await http.get(body["nextRecordsUrl"], headers=auth)).json()
        records.extend(body["records"])

    assert first.headers["Sforce-Limit-Info"].startswith("api-usage=")
    assert first.json()["totalSize"] == len(records)
    assert 8 <= len(records) <= 12  # most owners are in Salesforce, not all
    assert records[0]["attributes"]["type"] == "Account"
    assert set(records[0]) == {"attributes", "Id", "Name", "Owner", "Parcel_ID__c"}
    assert {r["Parcel_ID__c"] for r in records} <= set(parcels)


async def test_errors_are_arrays_with_error_codes(emulator, connect):
    http = connect(emulator)
    auth = {"Authorization": f"Bearer {(await token(http))['access_token']}"}

    malformed = await http.get(QUERY, params={"q": "SELEKT nothing"}, headers=auth)
    bad_field = await http.get(QUERY, params={"q": "SELECT Colour__c FROM Account"}, headers=auth)
    no_session = await http.get(QUERY, params={"q": "SELECT Id FROM Account"})
    missing = await http.get(
        "/services/data/v62.0/sobjects/Account/001000000000000AAA", headers=auth
    )
    too_long = await http.get(
        QUERY,
        params={"q": "SELECT Id FROM Account WHERE Id IN ('" + "x" * 17_000 + "')"},
        headers=auth,
    )

    assert (malformed.status_code, malformed.json()[0]["errorCode"]) == (400, "MALFORMED_QUERY")
    assert (bad_field.status_code, bad_field.json()[0]["errorCode"]) == (400, "INVALID_FIELD")
    assert (no_session.status_code, no_session.json()[0]["errorCode"]) == (
        401,
        "INVALID_SESSION_ID",
    )
    assert (missing.status_code, missing.json()[0]["errorCode"]) == (404, "NOT_FOUND")
    assert too_long.status_code == 414


async def test_patch_is_204_and_visible(emulator, connect):
    http = connect(emulator)
    auth = {"Authorization": f"Bearer {(await token(http))['access_token']}"}
    account_id = demo_property(0).salesforce_account_id

    patched = await http.patch(
        f"/services/data/v62.0/sobjects/Account/{account_id}", json={"Phone": "1"}, headers=auth
    )
    read = await http.get(f"/services/data/v62.0/sobjects/Account/{account_id}", headers=auth)

    assert (patched.status_code, patched.content) == (204, b"")
    assert read.json()["Phone"] == "1"


async def test_quota_exhausted_is_403_request_limit_exceeded(connect):
    http = connect(SalesforceEmulator(**SF, quota_exhausted=True))

    response = await http.get(QUERY, params={"q": "SELECT Id FROM Account"})

    assert response.status_code == 403
    assert response.json()[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
