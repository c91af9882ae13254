"""The tax assessor emulator keeps Socrata's contract (external-apis.md section 4A)."""

from __future__ import annotations

from django_project.properties.demo_data import demo_property
from emulators.tax_assessor import TaxAssessorEmulator
from tests.emulators.conftest import TAX

URL = "/resource/uzyt-m557.json"


async def test_rows_are_flat_with_numbers_as_strings(connect):
    http = connect(TaxAssessorEmulator(**TAX))
    pins = [demo_property(i).parcel_id for i in range(20)]

    response = await http.get(
        URL,
        params={
            "$where": "pin in(" + ",".join(f"'{p}'" for p in pins) + ")",
            "$order": "pin,year DESC",
        },
        headers={"X-App-Token": TAX["app_token"]},
    )

    rows = response.json()
    assert response.status_code == 200
    assert isinstance(rows, list)
    assert all(isinstance(v, str) for row in rows for v in row.values())
    assert {row["pin"] for row in rows} < set(pins)  # a few parcels have no assessment
    first = rows[0]
    assert {
        "pin",
        "year",
        "class",
        "township_name",
        "mailed_tot",
        "mailed_land",
        "mailed_bldg",
    } <= set(first)
    years = [int(r["year"]) for r in rows if r["pin"] == first["pin"]]
    assert years == sorted(years, reverse=True)


async def test_select_limit_and_errors(connect):
    http = connect(TaxAssessorEmulator(**TAX))
    pin = demo_property(0).parcel_id

    selected = await http.get(
        URL, params={"$where": f"pin = '{pin}'", "$select": "pin,year", "$limit": "2"}
    )
    bad_soql = await http.get(URL, params={"$where": "owner like 'x'"})
    bad_token = await http.get(
        URL, params={"$where": f"pin = '{pin}'"}, headers={"X-App-Token": "stolen"}
    )
    no_dataset = await http.get("/resource/abcd-1234.json")

    assert selected.json() == [{"pin": pin, "year": "2021"}, {"pin": pin, "year": "2022"}]
    assert (bad_soql.status_code, bad_soql.json()["error"]) == (400, True)
    assert bad_token.status_code == 403
    assert no_dataset.status_code == 404
