"""County tax assessor on Socrata (SODA 2.1): Cook County's "Assessed Values" dataset.

Upstream: `GET {base_url}/resource/{dataset}.json` with SoQL parameters (`$select`, `$where`,
`$order`, `$limit`). Rows are flat JSON objects whose numbers are strings; each parcel (`pin`,
14 digits) has one row per tax year with three stages of values: `mailed_*` (assessor's first
notice), `certified_*` (after assessor appeals) and `board_*` (Board of Review, final), each as
`_bldg`, `_land` and `_tot`. The dataset has no tax amounts.

Auth: none required; an `X-App-Token` header lifts the shared, IP-based throttling.

Limits: throttled clients get 429; `$limit` is at most 50,000 rows; `pin in(...)` lists are
kept to `batch_size` (100) pins so URLs stay short. We ask for all years of a batch and keep
the latest per parcel.

Errors: 202 means "still processing, ask again" -> ServiceUnavailable (retried); 429 ->
RateLimited; 400 (bad SoQL) and 403 -> RequestRejected; 401 -> AuthenticationFailed (bad app
token); 404 -> NotFound (wrong dataset id); 5xx -> ServiceUnavailable. Error bodies are
`{"code", "message"}` or `{"error": true, "message"}`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from clients.core import chunked
from clients.errors import BadResponse, ExternalServiceError, ServiceUnavailable, from_response
from clients.http import HttpClient, HttpConfig, json_of

SERVICE = "tax_assessor"
STAGES = ("board", "certified", "mailed")  # most final first
COLUMNS = (
    "pin",
    "year",
    "class",
    "township_name",
    *(f"{stage}_{part}" for stage in STAGES for part in ("bldg", "land", "tot")),
)


@dataclass(frozen=True, kw_only=True)
class TaxAssessorConfig(HttpConfig):
    dataset: str = "uzyt-m557"
    app_token: str = field(default="", repr=False)
    batch_size: int = 100
    max_rows: int = 50_000


@dataclass(frozen=True)
class Assessment:
    """The latest assessment of a parcel, at its most final stage."""

    parcel_id: str
    tax_year: int
    stage: str
    property_class: str | None
    township: str | None
    land_value: Decimal | None
    building_value: Decimal | None
    total_value: Decimal | None


def soql_literal(value: str) -> str:
    """A SoQL string literal: single quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def _amount(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError("not a number") from exc
    if not amount.is_finite() or amount < 0:
        raise ValueError("not an amount")
    return amount


def assessment_from_row(row: Mapping[str, Any]) -> Assessment:
    stage = next((s for s in STAGES if row.get(f"{s}_tot") not in (None, "")), "mailed")
    return Assessment(
        parcel_id=str(row["pin"]),
        tax_year=int(str(row["year"])),
        stage=stage,
        property_class=row.get("class") or None,
        township=row.get("township_name") or None,
        land_value=_amount(row.get(f"{stage}_land")),
        building_value=_amount(row.get(f"{stage}_bldg")),
        total_value=_amount(row.get(f"{stage}_tot")),
    )


def _rows(response: httpx.Response) -> list[Mapping[str, Any]]:
    try:
        rows = json_of(response)
    except ValueError as exc:
        raise BadResponse(SERVICE, "get_assessments", "answer is not JSON") from exc
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise BadResponse(SERVICE, "get_assessments", "answer is not a list of rows")
    return rows


class TaxAssessorClient(HttpClient):
    service = SERVICE
    config: TaxAssessorConfig

    async def get_assessments(self, *, parcel_ids: Sequence[str]) -> dict[str, Assessment]:
        """The latest assessment per parcel id; parcels the county does not know are left out.

        Raises:
            ExternalServiceError: the first batch that failed (see the module docstring).
        """
        unique = list(dict.fromkeys(parcel_ids))
        batches = await asyncio.gather(
            *(self._fetch(chunk) for chunk in chunked(unique, self.config.batch_size))
        )
        latest: dict[str, Assessment] = {}
        for rows in batches:
            for row in rows:
                try:
                    assessment = assessment_from_row(row)
                except (KeyError, ValueError, TypeError) as exc:
                    raise BadResponse(SERVICE, "get_assessments", "row has bad values") from exc
                known = latest.get(assessment.parcel_id)
                if known is None or assessment.tax_year > known.tax_year:
                    latest[assessment.parcel_id] = assessment
        return latest

    async def _fetch(self, pins: list[str]) -> list[Mapping[str, Any]]:
        return await self._call(
            "GET",
            f"{self.config.base_url.rstrip('/')}/resource/{self.config.dataset}.json",
            operation="get_assessments",
            params={
                "$select": ",".join(COLUMNS),
                "$where": f"pin in({','.join(soql_literal(p) for p in pins)})",
                "$order": "pin,year DESC",
                "$limit": str(self.config.max_rows),
            },
            parse=_rows,
        )

    async def _auth_headers(self, attempt: int) -> dict[str, str]:
        return {"X-App-Token": self.config.app_token} if self.config.app_token else {}

    def _error_detail(self, response: httpx.Response) -> str | None:
        try:
            body = json_of(response)
        except ValueError:
            return None
        if isinstance(body, dict) and body.get("message"):
            return f"{body.get('code', 'error')}: {body['message']}"[:200]
        return None

    def _classify(self, response: httpx.Response, operation: str) -> ExternalServiceError | None:
        if response.status_code == 202:
            return ServiceUnavailable(
                SERVICE, operation, "query still processing (202)", status=202, retryable=True
            )
        if response.is_success:
            return None
        return from_response(response, SERVICE, operation, self._error_detail(response))
