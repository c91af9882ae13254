"""Socrata (SODA 2.1) emulator of Cook County's "Assessed Values" dataset.

Speaks `GET /resource/{dataset}.json` with `$select`, `$where` (`pin in('...', ...)` or
`pin = '...'`), `$order` (`pin`, `year`, each optionally `DESC`), `$limit` (at most 50,000) and
`$offset`. Rows are flat objects whose numbers are strings. Errors are `{"code", "error": true,
"message"}`: 400 for SoQL it cannot parse, 403 for a wrong `X-App-Token`, 404 for an unknown
dataset; an exhausted quota is 429 with Retry-After.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators import data
from emulators.base import Emulator

MAX_LIMIT = 50_000
_WHERE_IN = re.compile(r"^\s*pin\s+in\s*\((?P<values>.*)\)\s*$", re.IGNORECASE | re.DOTALL)
_WHERE_EQ = re.compile(r"^\s*pin\s*=\s*'(?P<value>(?:[^']|'')*)'\s*$", re.IGNORECASE)
_LITERAL = re.compile(r"'((?:[^']|'')*)'")


def soda_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"code": code, "error": True, "message": message}, status_code=status)


class TaxAssessorEmulator(Emulator):
    service = "tax_assessor"
    default_port = 3002
    test_settings = {"app_token": "test-app-token"}

    def __init__(self, *, app_token: str = "", dataset: str = "uzyt-m557", **faults: Any) -> None:
        self.app_token = app_token
        self.dataset = dataset
        super().__init__(**faults)

    @classmethod
    def for_client(cls, client_settings: Mapping[str, Any], **options: Any) -> Emulator:
        return cls(
            app_token=client_settings["app_token"], dataset=client_settings["dataset"], **options
        )

    def routes(self) -> list[Route]:
        return [Route("/resource/{dataset}.json", self.resource, methods=["GET"])]

    def error_response(self, status: int, retry_after: str | None) -> Response:
        response = soda_error(status, "internal", "Injected failure")
        if retry_after:
            response.headers["Retry-After"] = retry_after
        return response

    def quota_response(self) -> Response:
        response = soda_error(429, "throttled", "Too many requests; use an app token")
        response.headers["Retry-After"] = "60"
        return response

    async def resource(self, request: Request) -> Response:
        if request.path_params["dataset"] != self.dataset:
            return soda_error(404, "not_found", "Dataset not found")
        sent = request.headers.get("X-App-Token")
        if sent is not None and sent != self.app_token:
            return soda_error(403, "invalid_app_token", "Invalid app_token specified")
        params = request.query_params
        try:
            pins = self._pins(params.get("$where", ""))
            limit = int(params.get("$limit", "1000"))
            offset = int(params.get("$offset", "0"))
            if not 0 < limit <= MAX_LIMIT or offset < 0:
                raise ValueError("$limit must be 1..50000")
            order = self._order(params.get("$order", ""))
        except ValueError as exc:
            return soda_error(400, "query.compiler.malformed", f"Could not parse SoQL query: {exc}")
        rows = [
            row
            for pin in pins
            for index in (data.index_of_parcel(pin),)
            if index is not None and data.has_assessment(index)
            for row in data.assessment_rows(index)
        ]
        for key, descending in reversed(order):
            rows.sort(key=lambda r, k=key: r.get(k, ""), reverse=descending)
        selected = [c.strip() for c in params.get("$select", "").split(",") if c.strip()]
        if selected:
            rows = [{k: r[k] for k in selected if k in r} for r in rows]
        return JSONResponse(rows[offset : offset + limit])

    @staticmethod
    def _pins(where: str) -> list[str]:
        if match := _WHERE_IN.match(where):
            return [v.replace("''", "'") for v in _LITERAL.findall(match["values"])]
        if match := _WHERE_EQ.match(where):
            return [match["value"].replace("''", "'")]
        raise ValueError("only pin in(...) and pin = '...' are supported")

    @staticmethod
    def _order(order: str) -> list[tuple[str, bool]]:
        keys = []
        for part in filter(None, (p.strip() for p in order.split(","))):
            name, _, direction = part.partition(" ")
            if name not in {"pin", "year"} or direction.upper() not in {"", "ASC", "DESC"}:
                raise ValueError(f"cannot order by {part!r}")
            keys.append((name, direction.upper() == "DESC"))
        return keys


EMULATOR = TaxAssessorEmulator
