"""US Census Geocoder: coordinates for our property addresses.

Upstream: `{base_url}/geocoder/locations/onelineaddress?address=...&benchmark=...&format=json`
for one address, and `POST {base_url}/geocoder/locations/addressbatch` for many: a multipart
upload of a headerless CSV (`id,street,city,state,zip`) answered with CSV rows in no particular
order: `"id","input address","Match|No_Match|Tie","Exact|Non_Exact","matched address",
"lon,lat","tigerLineId","L|R"` (No_Match and Tie rows stop after the third column).

Auth: none.

Limits: no published rate limit; at most 10,000 rows per batch file, and large batches take
minutes (the batch read timeout is separate and long). 503s under load are common: retried.

Errors: no match is `None`, not an error (JSON `addressMatches: []`, CSV `No_Match`/`Tie`);
400 `{"errors": [...]}` -> RequestRejected; 5xx -> ServiceUnavailable; a CSV row we cannot
read or an id we did not send -> BadResponse.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from clients.core import chunked
from clients.errors import BadResponse
from clients.http import HttpClient, HttpConfig, json_of

SERVICE = "geocoder"
MAX_BATCH_ROWS = 10_000


@dataclass(frozen=True, kw_only=True)
class GeocoderConfig(HttpConfig):
    benchmark: str = "Public_AR_Current"
    batch_size: int = 1_000
    #: Seconds to wait for a batch answer; the Census service takes minutes for large files.
    batch_read_timeout: float = 120.0

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_BATCH_ROWS:
            raise ValueError(f"batch_size must be 1..{MAX_BATCH_ROWS}")


@dataclass(frozen=True)
class Address:
    street: str
    city: str
    state: str
    zip: str

    @property
    def one_line(self) -> str:
        return f"{self.street}, {self.city}, {self.state} {self.zip}"


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    matched_address: str
    #: "exact" or "non_exact" from the batch service; None from the one-line service.
    match_type: str | None
    tiger_line_id: str | None
    side: str | None


def _location_from_match(match: Mapping[str, Any]) -> Location:
    coordinates = match["coordinates"]
    tiger = match.get("tigerLine") or {}
    return Location(
        latitude=float(coordinates["y"]),
        longitude=float(coordinates["x"]),
        matched_address=str(match["matchedAddress"]),
        match_type=None,
        tiger_line_id=tiger.get("tigerLineId"),
        side=tiger.get("side"),
    )


def _one_line_result(response: httpx.Response) -> Location | None:
    matches = json_of(response)["result"]["addressMatches"]
    if not isinstance(matches, list):
        raise BadResponse(SERVICE, "geocode", "addressMatches is not a list")
    return _location_from_match(matches[0]) if matches else None


def _batch_rows(response: httpx.Response, sent_ids: set[str]) -> dict[str, Location | None]:
    results: dict[str, Location | None] = {}
    for row in csv.reader(io.StringIO(response.text)):
        if not row:
            continue
        row_id = row[0]
        if row_id not in sent_ids or len(row) < 3:
            raise BadResponse(SERVICE, "geocode_batch", "answer has a row we did not send")
        if row[2] != "Match":
            results[row_id] = None
            continue
        if len(row) < 6:
            raise BadResponse(SERVICE, "geocode_batch", "a Match row lacks coordinates")
        longitude, latitude = (float(part) for part in row[5].split(","))
        results[row_id] = Location(
            latitude=latitude,
            longitude=longitude,
            matched_address=row[4],
            match_type=row[3].lower() or None,
            tiger_line_id=row[6] if len(row) > 6 and row[6] else None,
            side=row[7] if len(row) > 7 and row[7] else None,
        )
    missing = sent_ids - results.keys()
    if missing:
        raise BadResponse(SERVICE, "geocode_batch", f"{len(missing)} addresses were not answered")
    return results


class GeocodingClient(HttpClient):
    service = SERVICE
    config: GeocoderConfig

    async def geocode(self, address: str) -> Location | None:
        """The best match for a one-line address, or None when the Census has none.

        Raises:
            ExternalServiceError: the geocoder failed (a no-match is not a failure).
        """
        return await self._call(
            "GET",
            f"{self._base}/geocoder/locations/onelineaddress",
            operation="geocode",
            params={"address": address, "benchmark": self.config.benchmark, "format": "json"},
            parse=_one_line_result,
        )

    async def geocode_batch(self, addresses: Mapping[str, Address]) -> dict[str, Location | None]:
        """Geocode many addresses keyed by our own ids; every key comes back, None if unmatched.

        Raises:
            ExternalServiceError: the first batch file that failed.
        """
        keys = list(addresses)
        answers = await asyncio.gather(
            *(
                self._batch({str(i): addresses[key] for i, key in enumerate(chunk)})
                for chunk in chunked(keys, self.config.batch_size)
            )
        )
        results: dict[str, Location | None] = {}
        for chunk, answer in zip(chunked(keys, self.config.batch_size), answers, strict=True):
            for i, key in enumerate(chunk):
                results[key] = answer[str(i)]
        return results

    async def _batch(self, rows: Mapping[str, Address]) -> dict[str, Location | None]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        for row_id, address in rows.items():
            writer.writerow([row_id, address.street, address.city, address.state, address.zip])
        sent = set(rows)
        return await self._call(
            "POST",
            f"{self._base}/geocoder/locations/addressbatch",
            operation="geocode_batch",
            data={"benchmark": self.config.benchmark},
            files={"addressFile": ("addresses.csv", buffer.getvalue().encode(), "text/csv")},
            idempotent=True,  # a lookup, even though it is a POST
            timeout=httpx.Timeout(
                self.config.read_timeout,
                connect=self.config.connect_timeout,
                read=self.config.batch_read_timeout,
            ),
            parse=lambda response: _batch_rows(response, sent),
        )

    def _error_detail(self, response: httpx.Response) -> str | None:
        try:
            errors = json_of(response).get("errors")
        except (ValueError, AttributeError):
            return None
        return str(errors[0])[:200] if isinstance(errors, list) and errors else None

    @property
    def _base(self) -> str:
        return self.config.base_url.rstrip("/")
