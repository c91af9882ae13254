"""The FileMaker emulator keeps the Data API's contract (external-apis.md section 1)."""

from __future__ import annotations

import base64

import pytest

from django_project.properties.demo_data import demo_property
from emulators.filemaker import FileMakerEmulator
from tests.emulators.conftest import FM

DB = "/fmi/data/vLatest/databases/PropertyGraphDemo"
BASIC = "Basic " + base64.b64encode(f"{FM['username']}:{FM['password']}".encode()).decode()


@pytest.fixture
def emulator() -> FileMakerEmulator:
    return FileMakerEmulator(**FM)


async def login(http) -> str:
    response = await http.post(
        f"{DB}/sessions",
        headers={"Authorization": BASIC, "Content-Type": "application/json"},
        content=b"{}",
    )
    assert response.status_code == 200
    token = response.headers["X-FM-Data-Access-Token"]
    assert response.json() == {
        "response": {"token": token},
        "messages": [{"code": "0", "message": "OK"}],
    }
    return token


async def test_login_logout_and_bad_credentials(emulator, connect):
    http = connect(emulator)
    token = await login(http)

    wrong = await http.post(
        f"{DB}/sessions",
        headers={
            "Authorization": "Basic " + base64.b64encode(b"demo-api:nope").decode(),
            "Content-Type": "application/json",
        },
        content=b"{}",
    )
    bye = await http.delete(f"{DB}/sessions/{token}")
    after = await http.post(
        f"{DB}/layouts/Listings/_find",
        headers={"Authorization": f"Bearer {token}"},
        json={"query": [{"Parcel ID": "==1"}]},
    )

    assert (wrong.status_code, wrong.json()["messages"][0]["code"]) == (401, "212")
    assert bye.status_code == 200
    assert (after.status_code, after.json()["messages"][0]["code"]) == (401, "952")


async def test_find_by_parcel_returns_the_data_api_shape(emulator, connect):
    http = connect(emulator)
    token = await login(http)
    parcel = demo_property(4).parcel_id

    response = await http.post(
        f"{DB}/layouts/Listings/_find",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "query": [{"Parcel ID": f"=={parcel}"}, {"Parcel ID": "==00000000000000"}],
            "limit": "10",
        },
    )

    body = response.json()
    assert response.status_code == 200
    assert body["messages"] == [{"code": "0", "message": "OK"}]
    info = body["response"]["dataInfo"]
    assert (info["foundCount"], info["returnedCount"], info["layout"]) == (1, 1, "Listings")
    assert isinstance(info["totalRecordCount"], int)
    (record,) = body["response"]["data"]
    assert (record["recordId"], record["modId"]) == ("5", "1")
    assert record["fieldData"]["Parcel ID"] == parcel
    assert set(record["fieldData"]) == {
        "Parcel ID",
        "Agent Name",
        "Agent Email",
        "Listing Status",
        "Showing Notes",
        "List Price",
        "Modified",
    }


async def test_no_match_is_http_500_code_401(emulator, connect):
    http = connect(emulator)
    token = await login(http)

    response = await http.post(
        f"{DB}/layouts/Listings/_find",
        headers={"Authorization": f"Bearer {token}"},
        json={"query": [{"Parcel ID": "==99999999999999"}]},
    )

    assert response.status_code == 500
    assert response.json()["messages"][0] == {
        "code": "401",
        "message": "No records match the request",
    }


async def test_edit_bumps_mod_id_and_rejects_stale_mod_id(emulator, connect):
    http = connect(emulator)
    auth = {"Authorization": f"Bearer {await login(http)}"}

    ok = await http.patch(
        f"{DB}/layouts/Listings/records/3",
        headers=auth,
        json={"fieldData": {"Showing Notes": "Call"}, "modId": "1"},
    )
    stale = await http.patch(
        f"{DB}/layouts/Listings/records/3",
        headers=auth,
        json={"fieldData": {"Showing Notes": "x"}, "modId": "1"},
    )
    record = await http.get(f"{DB}/layouts/Listings/records/3", headers=auth)
    missing = await http.get(f"{DB}/layouts/Listings/records/999999", headers=auth)

    assert ok.json()["response"] == {"modId": "2"}
    assert (stale.status_code, stale.json()["messages"][0]["code"]) == (500, "306")
    assert record.json()["response"]["data"][0]["fieldData"]["Showing Notes"] == "Call"
    assert (missing.status_code, missing.json()["messages"][0]["code"]) == (500, "101")


async def test_layout_field_and_content_type_errors(emulator, connect):
    http = connect(emulator)
    auth = {"Authorization": f"Bearer {await login(http)}"}

    layout = await http.post(
        f"{DB}/layouts/Nope/_find", headers=auth, json={"query": [{"Parcel ID": "==1"}]}
    )
    field = await http.post(
        f"{DB}/layouts/Listings/_find", headers=auth, json={"query": [{"Colour": "red"}]}
    )
    no_json = await http.post(f"{DB}/sessions", headers={"Authorization": BASIC}, content=b"{}")

    assert layout.json()["messages"][0]["code"] == "105"
    assert field.json()["messages"][0]["code"] == "102"
    assert no_json.status_code == 415


async def test_expire_tokens_fault_kills_live_sessions(emulator, connect):
    http = connect(emulator)
    auth = {"Authorization": f"Bearer {await login(http)}"}

    await http.post("/_emulator/faults", json={"expire_tokens": True})
    response = await http.get(f"{DB}/layouts/Listings/records/1", headers=auth)

    assert response.json()["messages"][0]["code"] == "952"
    assert (await http.get("/_emulator/faults")).json()["expire_tokens"] is False


async def test_idle_sessions_expire_after_fifteen_minutes(emulator, connect):
    http = connect(emulator)
    token = await login(http)
    emulator.sessions[token] -= 15 * 60 + 1

    response = await http.get(
        f"{DB}/layouts/Listings/records/1", headers={"Authorization": f"Bearer {token}"}
    )

    assert (response.status_code, response.json()["messages"][0]["code"]) == (401, "952")
