"""The geocoder emulator keeps the Census Geocoder's contract (external-apis.md section 3)."""

from __future__ import annotations

import csv
import io

from django_project.properties.demo_data import demo_property
from emulators.geocoder import GeocoderEmulator

ONE_LINE = "/geocoder/locations/onelineaddress"


def one_line(index: int) -> str:
    p = demo_property(index)
    return f"{p.street_address}, {p.city}, {p.state} {p.postal_code}"


async def test_one_line_match_and_no_match(connect):
    http = connect(GeocoderEmulator(address_count=50))
    params = {"benchmark": "Public_AR_Current", "format": "json"}

    hit = (await http.get(ONE_LINE, params={"address": one_line(0), **params})).json()
    miss = (
        await http.get(ONE_LINE, params={"address": "1 Nowhere Rd, Nowhere, ZZ 00000", **params})
    ).json()
    empty = await http.get(ONE_LINE, params={"address": "", **params})

    (match,) = hit["result"]["addressMatches"]
    assert set(match) == {"matchedAddress", "coordinates", "tigerLine", "addressComponents"}
    assert -88.3 < match["coordinates"]["x"] < -87.5
    assert 41.6 < match["coordinates"]["y"] < 42.2
    assert miss["result"]["addressMatches"] == []
    assert (empty.status_code, empty.json()["status"]) == (400, "400")


async def test_batch_answers_every_row_as_csv_out_of_order(connect):
    http = connect(GeocoderEmulator(address_count=50))
    rows = []
    for i in range(30):
        p = demo_property(i)
        rows.append(f"{i},{p.street_address},{p.city},{p.state},{p.postal_code}")

    response = await http.post(
        "/geocoder/locations/addressbatch",
        data={"benchmark": "Public_AR_Current"},
        files={"addressFile": ("a.csv", "\n".join(rows).encode(), "text/csv")},
    )

    answer = list(csv.reader(io.StringIO(response.text)))
    assert response.headers["content-type"].startswith("text/plain")
    assert sorted(int(r[0]) for r in answer) == list(range(30))
    assert [int(r[0]) for r in answer] != list(range(30))
    statuses = {r[0]: r[2] for r in answer}
    assert statuses["7"] == "No_Match"  # every 23rd address does not geocode
    match = next(r for r in answer if r[2] == "Match")
    assert len(match) == 8
    assert match[3] == "Exact"
    assert len(match[5].split(",")) == 2
