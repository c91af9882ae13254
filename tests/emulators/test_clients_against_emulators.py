"""The real clients against the emulators: in-process for speed, on loopback for real sockets.

If an emulator and the spec sheet drift apart, either these or the contract tests fail.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from clients.errors import (
    AuthenticationFailed,
    BadResponse,
    Conflict,
    RateLimited,
    ServiceTimeout,
    ServiceUnavailable,
)
from clients.filemaker import FileMakerClient, FileMakerConfig
from clients.geocoder import Address, GeocoderConfig, GeocodingClient
from clients.salesforce import SalesforceClient, SalesforceConfig
from clients.tax_assessor import TaxAssessorClient, TaxAssessorConfig
from django_project.properties.demo_data import demo_properties
from emulators.filemaker import FileMakerEmulator
from emulators.geocoder import GeocoderEmulator
from emulators.salesforce import SalesforceEmulator
from emulators.tax_assessor import TaxAssessorEmulator
from tests.emulators.conftest import FM, SF, TAX, in_process, on_loopback

PROPERTIES = list(demo_properties(60))
PARCELS = [p.parcel_id for p in PROPERTIES]
BASE = "http://emulator.test"


def filemaker_client(http: httpx.AsyncClient, base: str = BASE, **overrides) -> FileMakerClient:
    return FileMakerClient(FileMakerConfig(base_url=base, **{**FM, **overrides}), http=http)


async def test_filemaker_listings_update_and_conflict():
    emulator = FileMakerEmulator(**FM)
    async with in_process(emulator) as http:
        client = filemaker_client(http)

        listings = await client.find_listings(parcel_ids=[*PARCELS, "99999999999999"])
        first = listings[PARCELS[0]]
        new_mod_id = await client.update_record(
            record_id=first.record_id,
            field_data={"Showing Notes": "Call first"},
            mod_id=first.mod_id,
        )
        with pytest.raises(Conflict):
            await client.update_record(
                record_id=first.record_id, field_data={"Showing Notes": "x"}, mod_id=first.mod_id
            )
        await client.aclose()

    assert len(listings) == 60  # every seeded parcel has a listing
    assert new_mod_id == str(int(first.mod_id) + 1)
    calls = emulator.stats()["calls"]
    assert calls["POST /fmi/data/{version}/databases/{database}/layouts/{layout}/_find"] == 1
    assert calls["POST /fmi/data/{version}/databases/{database}/sessions"] == 1
    assert calls["DELETE /fmi/data/{version}/databases/{database}/sessions/{token}"] == 1


async def test_filemaker_token_expiry_renews_once_for_many_callers():
    emulator = FileMakerEmulator(**FM)
    async with in_process(emulator) as http:
        client = filemaker_client(http)
        await client.find_listings(parcel_ids=PARCELS[:1])
        emulator.set_faults(expire_tokens=True)

        await asyncio.gather(*(client.find_listings(parcel_ids=PARCELS[:5]) for _ in range(20)))

    assert emulator.stats()["calls"]["POST /fmi/data/{version}/databases/{database}/sessions"] == 2


async def test_filemaker_wrong_password_is_refused():
    async with in_process(FileMakerEmulator(**FM)) as http:
        client = filemaker_client(http, password="guess")
        with pytest.raises(AuthenticationFailed):
            await client.find_listings(parcel_ids=PARCELS[:1])


async def test_salesforce_accounts_and_session_expiry():
    emulator = SalesforceEmulator(**SF)
    async with in_process(emulator) as http:
        client = SalesforceClient(SalesforceConfig(base_url=BASE, **SF), http=http)
        accounts = await client.accounts_by_parcel(parcel_ids=PARCELS)
        emulator.set_faults(expire_tokens=True)
        again = await client.accounts_by_parcel(parcel_ids=PARCELS)

    linked = {p.parcel_id for p in PROPERTIES if p.salesforce_account_id}
    assert set(accounts) == linked
    assert again == accounts
    assert emulator.stats()["calls"]["POST /services/oauth2/token"] == 2
    assert client.api_usage is not None


async def test_tax_assessor_and_geocoder_batches():
    tax, geo = TaxAssessorEmulator(**TAX), GeocoderEmulator(address_count=100)
    addresses = {
        p.parcel_id: Address(p.street_address, p.city, p.state, p.postal_code) for p in PROPERTIES
    }
    async with in_process(tax) as tax_http, in_process(geo) as geo_http:
        assessments = await TaxAssessorClient(
            TaxAssessorConfig(base_url=BASE, **TAX), http=tax_http
        ).get_assessments(parcel_ids=PARCELS)
        locations = await GeocodingClient(
            GeocoderConfig(base_url=BASE), http=geo_http
        ).geocode_batch(addresses)

    assert 50 <= len(assessments) < 60  # a few parcels have none
    assert all(a.tax_year == 2024 for a in assessments.values())
    assert 50 <= sum(loc is not None for loc in locations.values()) < 60
    assert tax.stats()["total"] == 1
    assert geo.stats()["total"] == 1


@pytest.mark.parametrize(
    ("faults", "error", "calls"),
    [
        ({"error_rate": 1, "error_status": 503}, ServiceUnavailable, 3),
        ({"error_rate": 1, "error_status": 429, "retry_after": 1}, RateLimited, 3),
        ({"error_rate": 1, "error_status": 429, "retry_after": 60}, RateLimited, 1),
        ({"quota_exhausted": True}, RateLimited, 1),  # Retry-After 60 s: beyond our cap
        ({"malformed": True}, BadResponse, 1),
        ({"error_rate": 1, "error_status": 500}, ServiceUnavailable, 1),
    ],
)
async def test_each_fault_becomes_the_right_typed_error(faults, error, calls):
    emulator = TaxAssessorEmulator(**TAX, **faults)
    async with in_process(emulator) as http:
        client = TaxAssessorClient(TaxAssessorConfig(base_url=BASE, **TAX), http=http)
        with pytest.raises(error):
            await client.get_assessments(parcel_ids=PARCELS[:3])

    assert emulator.stats()["total"] == calls


async def test_salesforce_quota_is_not_retried():
    emulator = SalesforceEmulator(**SF)
    async with in_process(emulator) as http:
        client = SalesforceClient(SalesforceConfig(base_url=BASE, **SF), http=http)
        await client.accounts_by_parcel(parcel_ids=PARCELS[:2])
        emulator.set_faults(quota_exhausted=True)
        with pytest.raises(RateLimited) as caught:
            await client.accounts_by_parcel(parcel_ids=PARCELS[:2])

    assert caught.value.retryable is False


async def test_over_loopback_a_hang_is_a_timeout_and_a_drop_is_unavailable():
    emulator = GeocoderEmulator(address_count=10, hang=True, hang_seconds=5)
    config = {"read_timeout": 0.3, "max_attempts": 2, "retry_budget": 5.0}
    with on_loopback(emulator) as base:
        async with httpx.AsyncClient() as http:
            client = GeocodingClient(GeocoderConfig(base_url=base, **config), http=http)
            with pytest.raises(ServiceTimeout):
                await client.geocode("1 Main St, Chicago, IL 60601")
            emulator.set_faults(hang=False, drop=True)
            with pytest.raises(ServiceUnavailable):
                await client.geocode("1 Main St, Chicago, IL 60601")

    assert emulator.stats()["calls"]["GET /geocoder/locations/onelineaddress"] == 4
