"""Deterministic demo properties, as plain data.

Item `i` depends only on `(seed, i)`, never on how many items are asked for, so `seed_demo
--count 300` after `--count 200` keeps the first 200 unchanged, and the emulators can derive
the same parcel ids to serve matching external records. Pure Python (no Django) for that reason.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

DEFAULT_SEED = 42
MAX_COUNT = 1_000_000

# (city, ZIP codes, Cook County township area codes, price per square foot range)
_CITIES = (
    (
        "Chicago",
        ("60605", "60607", "60610", "60614", "60618", "60622", "60625", "60640", "60647", "60657"),
        ("14", "17", "20"),
        (260, 480),
    ),
    ("Evanston", ("60201", "60202"), ("10", "11"), (240, 420)),
    ("Oak Park", ("60301", "60302", "60304"), ("16",), (220, 380)),
    ("Skokie", ("60076", "60077"), ("10",), (190, 320)),
    ("Wilmette", ("60091",), ("05",), (300, 520)),
    ("Park Ridge", ("60068",), ("09",), (230, 360)),
    ("Arlington Heights", ("60004", "60005"), ("03", "08"), (200, 330)),
    ("Schaumburg", ("60193", "60194"), ("07",), (170, 290)),
    ("Berwyn", ("60402",), ("16",), (160, 260)),
    ("Orland Park", ("60462",), ("27",), (180, 300)),
)
_CITY_WEIGHTS = (40, 8, 8, 6, 4, 6, 7, 7, 6, 8)

_STREETS = (
    "Addison St",
    "Belmont Ave",
    "Clark St",
    "Damen Ave",
    "Elm St",
    "Fullerton Ave",
    "Greenleaf Ave",
    "Halsted St",
    "Irving Park Rd",
    "Jackson Blvd",
    "Kedzie Ave",
    "Lake St",
    "Maple Ave",
    "North Ave",
    "Oak St",
    "Pine Ave",
    "Ridge Ave",
    "Sheridan Rd",
    "Touhy Ave",
    "Western Ave",
    "Wolcott Ave",
    "Chicago Ave",
    "Central St",
    "Hinman Ave",
    "Euclid Ave",
)

_TYPES = ("single_family", "condo", "townhouse", "multi_family", "land", "commercial")
_TYPE_WEIGHTS = (45, 25, 10, 12, 4, 4)
_STATUSES = ("active", "pending", "sold", "coming_soon", "off_market")
_STATUS_WEIGHTS = (45, 15, 15, 10, 15)

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class DemoProperty:
    parcel_id: str
    street_address: str
    city: str
    state: str
    postal_code: str
    property_type: str
    bedrooms: int
    bathrooms: Decimal
    square_feet: int | None
    year_built: int | None
    list_price: Decimal | None
    status: str
    filemaker_record_id: str
    salesforce_account_id: str | None


def parcel_id_for(index: int, seed: int = DEFAULT_SEED) -> str:
    """A unique 14-digit PIN: the block and parcel digits are a bijection of the index."""
    rng = random.Random(f"{seed}:parcel:{index}")
    city = rng.choices(_CITIES, weights=_CITY_WEIGHTS)[0]
    area = rng.choice(city[2])
    subarea = rng.randint(1, 36)
    scrambled = (index * 7_919 + 104_729) % MAX_COUNT  # 7919 is coprime to 10**6
    return f"{area}{subarea:02d}{scrambled:06d}0000"


def salesforce_account_id_for(index: int) -> str:
    """An 18-character Account id (prefix 001), unique per index."""
    digits, value = [], index + 1
    while value:
        value, rem = divmod(value, 62)
        digits.append(_BASE62[rem])
    body = "".join(reversed(digits)).rjust(12, "0")
    return f"001{body}AAA"


def demo_property(index: int, seed: int = DEFAULT_SEED) -> DemoProperty:
    if not 0 <= index < MAX_COUNT:
        raise ValueError(f"index must be in [0, {MAX_COUNT}), got {index}")
    rng = random.Random(f"{seed}:property:{index}")
    parcel_rng = random.Random(f"{seed}:parcel:{index}")
    city, zips, _areas, (low_ppsf, high_ppsf) = parcel_rng.choices(_CITIES, weights=_CITY_WEIGHTS)[
        0
    ]
    kind = rng.choices(_TYPES, weights=_TYPE_WEIGHTS)[0]
    status = rng.choices(_STATUSES, weights=_STATUS_WEIGHTS)[0]

    if kind in {"land", "commercial"}:
        bedrooms, bathrooms = 0, Decimal("0") if kind == "land" else Decimal(rng.randint(1, 4))
    else:
        low, high = {"condo": (0, 3), "townhouse": (2, 4), "multi_family": (4, 10)}.get(
            kind, (2, 6)
        )
        bedrooms = rng.randint(low, high)
        bathrooms = Decimal(rng.randint(2, max(2, bedrooms) * 2)) / 2

    if kind == "land":
        square_feet, year_built = None, None
    else:
        square_feet = max(400, int(500 + 420 * bedrooms + rng.gauss(0, 250)))
        year_built = None if rng.random() < 0.05 else rng.randint(1885, 2025)

    price = None
    if status != "off_market":
        area = square_feet or rng.randint(3_000, 9_000) // 10
        price = Decimal(round(area * rng.randint(low_ppsf, high_ppsf), -3))

    number = rng.randint(100, 9_999)
    street = rng.choice(_STREETS)
    unit = f" Unit {rng.randint(1, 30)}{rng.choice('ABCD')}" if kind == "condo" else ""
    return DemoProperty(
        parcel_id=parcel_id_for(index, seed),
        street_address=f"{number} {street}{unit}",
        city=city,
        state="IL",
        postal_code=rng.choice(zips),
        property_type=kind,
        bedrooms=bedrooms,
        bathrooms=bathrooms,
        square_feet=square_feet,
        year_built=year_built,
        list_price=price,
        status=status,
        filemaker_record_id=str(index + 1),
        salesforce_account_id=None if rng.random() < 0.1 else salesforce_account_id_for(index),
    )


def demo_properties(count: int, seed: int = DEFAULT_SEED) -> Iterator[DemoProperty]:
    for index in range(count):
        yield demo_property(index, seed)
