"""US Census Geocoder emulator: one-line JSON lookups and the CSV batch upload.

Speaks `GET /geocoder/locations/onelineaddress?address=&benchmark=&format=json` (matches in
`result.addressMatches`, `x` = longitude, `y` = latitude, `[]` when none) and
`POST /geocoder/locations/addressbatch` (multipart `addressFile`, a headerless CSV of
`id,street,city,state,zip`, at most 10,000 rows, answered as text/plain CSV rows in a shuffled
order). Bad parameters are 400 `{"errors": [...], "status": "400"}`.

Addresses of the first `address_count` demo properties are known; every 23rd does not match.
"""

from __future__ import annotations

import csv
import io
import random
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from emulators import data
from emulators.base import Emulator

MAX_BATCH_ROWS = 10_000
BENCHMARKS = {"Public_AR_Current", "4"}


def census_error(message: str) -> JSONResponse:
    return JSONResponse({"errors": [message], "status": "400"}, status_code=400)


class GeocoderEmulator(Emulator):
    service = "geocoder"
    default_port = 3003
    test_settings = {}

    def __init__(self, *, address_count: int = 10_000, **faults: Any) -> None:
        self.address_count = address_count
        super().__init__(**faults)

    def routes(self) -> list[Route]:
        return [
            Route("/geocoder/locations/onelineaddress", self.one_line, methods=["GET"]),
            Route("/geocoder/locations/addressbatch", self.batch, methods=["POST"]),
        ]

    def error_response(self, status: int, retry_after: str | None) -> Response:
        headers = {"Retry-After": retry_after} if retry_after else {}
        return PlainTextResponse(
            "Service Temporarily Unavailable", status_code=status, headers=headers
        )

    def malformed_body(self) -> tuple[bytes, str]:
        return b'{"result": {"addressMatches": [{"matchedAddress": ', "application/json"

    def _lookup(self, street: str, city: str, state: str, zip_code: str) -> int | None:
        key = data.normalized_address(street, city, state, zip_code)
        index = data.address_index(self.address_count).get(key)
        return index if index is not None and data.geocodes(index) else None

    def _lookup_one_line(self, address: str) -> int | None:
        parts = [p.strip() for p in address.split(",")]
        if len(parts) != 3 or len(parts[2].split()) != 2:
            return None
        state, zip_code = parts[2].split()
        return self._lookup(parts[0], parts[1], state, zip_code)

    @staticmethod
    def _matched(index: int) -> str:
        prop = data.property_at(index)
        return (
            f"{prop.street_address.upper()}, {prop.city.upper()}, {prop.state}, {prop.postal_code}"
        )

    async def one_line(self, request: Request) -> Response:
        params = request.query_params
        address = params.get("address", "").strip()
        if not address:
            return census_error("Address cannot be empty and cannot exceed 100 characters")
        if params.get("benchmark") not in BENCHMARKS:
            return census_error("Benchmark is not valid")
        index = self._lookup_one_line(address)
        matches = []
        if index is not None:
            longitude, latitude = data.coordinates(index)
            prop = data.property_at(index)
            matches.append(
                {
                    "matchedAddress": self._matched(index),
                    "coordinates": {"x": longitude, "y": latitude},
                    "tigerLine": {"tigerLineId": str(600_000_000 + index), "side": "LR"[index % 2]},
                    "addressComponents": {
                        "city": prop.city.upper(),
                        "state": prop.state,
                        "zip": prop.postal_code,
                    },
                }
            )
        return JSONResponse(
            {
                "result": {
                    "input": {
                        "address": {"address": address},
                        "benchmark": {"id": "4", "benchmarkName": "Public_AR_Current"},
                    },
                    "addressMatches": matches,
                }
            }
        )

    async def batch(self, request: Request) -> Response:
        form = await request.form()
        upload = form.get("addressFile")
        if not isinstance(upload, UploadFile):
            return census_error("addressFile is required")
        if form.get("benchmark") not in BENCHMARKS:
            return census_error("Benchmark is not valid")
        text = (await upload.read()).decode("utf-8", errors="replace")
        rows = [row for row in csv.reader(io.StringIO(text)) if row]
        if len(rows) > MAX_BATCH_ROWS:
            return census_error(f"Batch files are limited to {MAX_BATCH_ROWS} records")
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        answers = []
        for row in rows:
            row_id, fields = row[0], [*row[1:], "", "", "", ""][:4]
            input_address = ", ".join(fields)
            index = self._lookup(*fields)
            if index is None:
                answers.append([row_id, input_address, "No_Match"])
                continue
            longitude, latitude = data.coordinates(index)
            answers.append(
                [
                    row_id,
                    input_address,
                    "Match",
                    "Exact",
                    self._matched(index),
                    f"{longitude},{latitude}",
                    str(600_000_000 + index),
                    "LR"[index % 2],
                ]
            )
        random.Random(len(answers)).shuffle(answers)
        writer.writerows(answers)
        return PlainTextResponse(
            out.getvalue(),
            headers={"Content-Disposition": "attachment; filename=GeocodeResults.csv"},
        )


EMULATOR = GeocoderEmulator
