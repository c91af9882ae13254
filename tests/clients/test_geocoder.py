"""GeocodingClient against respx, with the Census Geocoder's JSON and batch CSV shapes."""

from __future__ import annotations

import httpx
import pytest
import respx

from clients.errors import BadResponse, RequestRejected, ServiceUnavailable
from clients.geocoder import Address, GeocoderConfig, GeocodingClient

BASE = "https://geocoding.geo.census.gov"


def one_line(matches: list[dict]) -> dict:
    return {
        "result": {
            "input": {
                "address": {"address": "x"},
                "benchmark": {"benchmarkName": "Public_AR_Current"},
            },
            "addressMatches": matches,
        }
    }


MATCH = {
    "matchedAddress": "4854 N CHICAGO AVE, CHICAGO, IL, 60640",
    "coordinates": {"x": -87.65, "y": 41.97},
    "tigerLine": {"tigerLineId": "76225813", "side": "L"},
    "addressComponents": {"city": "CHICAGO", "state": "IL", "zip": "60640"},
}

ADDRESSES = {
    "p1": Address("4854 Chicago Ave", "Chicago", "IL", "60640"),
    "p2": Address("1 Nowhere Rd", "Chicago", "IL", "60601"),
    "p3": Address("8349 Chicago Ave", "Oak Park", "IL", "60302"),
}


@pytest.fixture
def config() -> GeocoderConfig:
    return GeocoderConfig(base_url=BASE, batch_size=2)


@pytest.fixture
def census():
    with respx.mock(assert_all_called=False) as router:
        router.single = router.get(f"{BASE}/geocoder/locations/onelineaddress")
        router.batch = router.post(f"{BASE}/geocoder/locations/addressbatch")
        yield router


async def test_geocode_one_address(http, census, config):
    census.single.respond(200, json=one_line([MATCH]))

    location = await GeocodingClient(config, http=http).geocode(
        "4854 Chicago Ave, Chicago, IL 60640"
    )

    params = census.single.calls.last.request.url.params
    assert params["address"] == "4854 Chicago Ave, Chicago, IL 60640"
    assert params["benchmark"] == "Public_AR_Current"
    assert params["format"] == "json"
    assert (location.latitude, location.longitude) == (41.97, -87.65)
    assert location.matched_address == "4854 N CHICAGO AVE, CHICAGO, IL, 60640"
    assert location.tiger_line_id == "76225813"


async def test_no_match_is_none_not_an_error(http, census, config):
    census.single.respond(200, json=one_line([]))

    assert await GeocodingClient(config, http=http).geocode("nowhere") is None


def batch_answer(request: httpx.Request) -> httpx.Response:
    body = request.content.decode()
    assert 'name="benchmark"' in body
    assert "Public_AR_Current" in body
    assert 'name="addressFile"; filename="addresses.csv"' in body
    rows = [line for line in body.splitlines() if line[:1].isdigit() and "," in line]
    answer = []
    for line in reversed(rows):  # the service answers in no particular order
        row_id, street = line.split(",")[:2]
        if "Nowhere" in street:
            answer.append(f'"{row_id}","{street}","No_Match"')
        else:
            answer.append(
                f'"{row_id}","{street}","Match","Exact",'
                f'"{street.upper()}, IL","-87.6,41.9","123","R"'
            )
    return httpx.Response(
        200, text="\n".join(answer) + "\n", headers={"Content-Type": "text/plain"}
    )


async def test_batch_matches_out_of_order_rows_back_by_id(http, census, config):
    census.batch.mock(side_effect=batch_answer)

    results = await GeocodingClient(config, http=http).geocode_batch(ADDRESSES)

    assert census.batch.call_count == 2  # batch_size 2 for 3 addresses
    assert set(results) == {"p1", "p2", "p3"}
    assert results["p2"] is None
    assert results["p1"].matched_address == "4854 CHICAGO AVE, IL"
    assert results["p3"].matched_address == "8349 CHICAGO AVE, IL"
    assert (results["p1"].latitude, results["p1"].longitude) == (41.9, -87.6)
    assert results["p1"].match_type == "exact"
    first_file = census.batch.calls[0].request.content.decode()
    assert "0,4854 Chicago Ave,Chicago,IL,60640" in first_file
    assert "1,1 Nowhere Rd,Chicago,IL,60601" in first_file


async def test_batch_is_retried_on_503(http, census, config):
    census.batch.mock(side_effect=[httpx.Response(503), batch_answer, batch_answer])

    results = await GeocodingClient(config, http=http).geocode_batch(ADDRESSES)

    assert results["p1"] is not None
    assert census.batch.call_count == 3


@pytest.mark.parametrize(
    "text",
    [
        '"99","x","Match","Exact","X","-87.6,41.9","1","L"\n',
        '"0","x","Match","Exact","X"\n',
        '"0","x","Match","Exact","X","far,away","1","L"\n',
        '"0","x","No_Match"\n',  # row 1 never answered
    ],
)
async def test_batch_garbage_is_bad_response(http, census, config, text):
    census.batch.respond(200, text=text)

    with pytest.raises(BadResponse):
        await GeocodingClient(config, http=http).geocode_batch(
            {"a": ADDRESSES["p1"], "b": ADDRESSES["p3"]}
        )


async def test_bad_request_and_outage(http, census, config):
    census.single.mock(
        side_effect=[
            httpx.Response(400, json={"errors": ["Address cannot be empty"], "status": "400"}),
            httpx.Response(500),
        ]
    )
    client = GeocodingClient(config, http=http)

    with pytest.raises(RequestRejected) as rejected:
        await client.geocode("")
    with pytest.raises(ServiceUnavailable):
        await client.geocode("x")

    assert "Address cannot be empty" in str(rejected.value)


async def test_wrong_json_shape_is_bad_response(http, census, config):
    census.single.respond(200, json={"result": {"addressMatches": "none"}})

    with pytest.raises(BadResponse):
        await GeocodingClient(config, http=http).geocode("x")


def test_batch_size_is_bounded_by_the_service_limit():
    with pytest.raises(ValueError, match="batch_size"):
        GeocoderConfig(base_url=BASE, batch_size=20_000)
