"""The external systems' records for the demo properties, derived from `demo_data`.

Everything is a pure function of the parcel's index, so every emulator agrees with `seed_demo`
(same seed) without a shared database. A parcel id maps back to its index because the block
and parcel digits of `parcel_id_for` are a bijection. Some records are missing on purpose,
as in real data: about 10% of owners are not in Salesforce (those `seed_demo` leaves unlinked),
every 17th parcel has no assessment, and every 23rd address does not geocode.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from django_project.properties.demo_data import (
    DEFAULT_SEED,
    MAX_COUNT,
    DemoProperty,
    demo_property,
    parcel_id_for,
    salesforce_account_id_for,
)

_SCRAMBLE_MULTIPLIER = 7_919
_SCRAMBLE_OFFSET = 104_729
_INVERSE = pow(_SCRAMBLE_MULTIPLIER, -1, MAX_COUNT)
ASSESSMENT_YEARS = (2021, 2022, 2023, 2024)
AGENTS = (
    ("Dana Whitfield", "dana.whitfield@northshore-realty.example"),
    ("Marcus Ortega", "marcus.ortega@northshore-realty.example"),
    ("Priya Raman", "priya.raman@lakefront-homes.example"),
    ("Tom Kowalski", "tom.kowalski@lakefront-homes.example"),
)
LISTING_STATUS = {
    "coming_soon": "Coming Soon",
    "active": "Active",
    "pending": "Pending",
    "sold": "Closed",
    "off_market": "Withdrawn",
}
NOTES = (
    "Lockbox on the side door; text the agent 30 minutes ahead.",
    "Tenant occupied: 24 hours notice required.",
    "Dog on premises during weekday showings.",
    "Vacant; use the garage keypad.",
    "",
)


def index_of_parcel(parcel_id: str, seed: int = DEFAULT_SEED) -> int | None:
    """The demo index whose parcel id this is, or None for a parcel the demo never made."""
    if len(parcel_id) != 14 or not parcel_id.isdigit():
        return None
    scrambled = int(parcel_id[4:10])
    index = ((scrambled - _SCRAMBLE_OFFSET) * _INVERSE) % MAX_COUNT
    return index if parcel_id_for(index, seed) == parcel_id else None


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def index_of_account(account_id: str) -> int | None:
    """The demo index whose Salesforce Account id this is, or None."""
    body = account_id[3:15]
    if len(account_id) != 18 or not all(ch in _BASE62 for ch in body):
        return None
    value = 0
    for ch in body:
        value = value * 62 + _BASE62.index(ch)
    index = value - 1
    if not 0 <= index < MAX_COUNT or salesforce_account_id_for(index) != account_id:
        return None
    return index


@lru_cache(maxsize=65_536)
def property_at(index: int, seed: int = DEFAULT_SEED) -> DemoProperty:
    return demo_property(index, seed)


@dataclass(frozen=True)
class ListingData:
    record_id: int
    parcel_id: str
    agent_name: str
    agent_email: str
    listing_status: str
    showing_notes: str
    list_price: str
    modified: str


def listing(index: int) -> ListingData:
    prop = property_at(index)
    rng = random.Random(f"listing:{index}")
    agent, email = rng.choice(AGENTS)
    day = 1 + index % 28
    return ListingData(
        record_id=index + 1,
        parcel_id=prop.parcel_id,
        agent_name=agent,
        agent_email=email,
        listing_status=LISTING_STATUS[prop.status],
        showing_notes=rng.choice(NOTES),
        list_price="" if prop.list_price is None else str(int(prop.list_price)),
        modified=f"11/{day:02d}/2026 {9 + index % 9:02d}:{index % 60:02d}:00",
    )


def has_assessment(index: int) -> bool:
    return index % 17 != 5


def assessment_rows(index: int) -> list[dict[str, str]]:
    """Socrata rows for a parcel: one per year; the latest year is not final yet."""
    prop = property_at(index)
    market = prop.list_price or Decimal(150_000 + (index * 7_333) % 600_000)
    rows = []
    for year in ASSESSMENT_YEARS:
        growth = Decimal(1) + Decimal(year - 2021) * Decimal("0.04")
        total = (market * growth / 10).quantize(Decimal(1))  # Cook residential: ~10% of market
        land = (total * Decimal("0.22")).quantize(Decimal(1))
        row = {
            "pin": prop.parcel_id,
            "year": str(year),
            "class": "299" if prop.property_type == "condo" else "211",
            "township_code": prop.parcel_id[:2],
            "township_name": f"{prop.city} Township",
            "mailed_bldg": str(total - land),
            "mailed_land": str(land),
            "mailed_tot": str(total),
        }
        if year < ASSESSMENT_YEARS[-1]:
            row |= {
                "certified_bldg": str(total - land - 500),
                "certified_land": str(land),
                "certified_tot": str(total - 500),
            }
        if year < ASSESSMENT_YEARS[-2]:
            row |= {
                "board_bldg": str(total - land - 900),
                "board_land": str(land),
                "board_tot": str(total - 900),
            }
        rows.append(row)
    return rows


def geocodes(index: int) -> bool:
    return index % 23 != 7


def coordinates(index: int) -> tuple[float, float]:
    """(longitude, latitude) inside Cook County."""
    rng = random.Random(f"geo:{index}")
    return round(rng.uniform(-88.20, -87.55), 6), round(rng.uniform(41.65, 42.12), 6)


def account(index: int) -> dict[str, object] | None:
    prop = property_at(index)
    if prop.salesforce_account_id is None:
        return None
    rng = random.Random(f"account:{index}")
    first = rng.choice(("Avery", "Jordan", "Morgan", "Riley", "Casey", "Quinn", "Harper"))
    last = rng.choice(("Nguyen", "Okafor", "Schmidt", "Rossi", "Patel", "Walsh", "Kim"))
    return {
        "Id": prop.salesforce_account_id,
        "Name": f"{first} {last}",
        "Phone": f"(312) 555-{1000 + index % 9000:04d}",
        "Owner": {"Name": rng.choice(("Pat Rivera", "Sam Lee", "Alex Moreno"))},
        "LastActivityDate": f"2026-{1 + index % 11:02d}-{1 + index % 27:02d}",
        "Parcel_ID__c": prop.parcel_id,
    }


def normalized_address(street: str, city: str, state: str, zip_code: str) -> str:
    return " ".join(f"{street} {city} {state} {zip_code[:5]}".upper().replace(",", " ").split())


@lru_cache(maxsize=8)
def address_index(count: int) -> dict[str, int]:
    """Normalised address -> index for the first `count` demo properties."""
    return {
        normalized_address(p.street_address, p.city, p.state, p.postal_code): i
        for i in range(count)
        for p in (property_at(i),)
    }
