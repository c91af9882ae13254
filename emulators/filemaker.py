"""FileMaker Data API emulator: sessions, `_find`, records and modId-locked edits.

Speaks `/fmi/data/{v1|v2|vLatest}/databases/{database}/...` as the Data API does: Basic-auth
login returning a token (header and body), Bearer tokens that die 15 minutes after their last
use (401 + code 952), HTTP 500 carrying FileMaker codes (401 no records match, 101 record
missing, 102 field missing, 105 layout missing, 306 modId mismatch), 415 without a JSON
content type, string `recordId`/`modId`, `dataInfo` counts as integers.

One layout, `Listings`, holds a record for every demo parcel (record id = index + 1).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from django_project.properties.demo_data import MAX_COUNT
from emulators import data
from emulators.base import Emulator

FIELD_NAMES = {
    "parcel_id": "Parcel ID",
    "agent_name": "Agent Name",
    "agent_email": "Agent Email",
    "listing_status": "Listing Status",
    "showing_notes": "Showing Notes",
    "list_price": "List Price",
    "modified": "Modified",
}
LAYOUT = "Listings"
VERSIONS = {"v1", "v2", "vLatest"}
SESSION_IDLE_SECONDS = 15 * 60


def fm(code: str, message: str, status: int, response: Any = None) -> JSONResponse:
    return JSONResponse(
        {
            "response": response if response is not None else {},
            "messages": [{"code": code, "message": message}],
        },
        status_code=status,
    )


def _unescape(criterion: str) -> str:
    out, escaped = [], False
    for ch in criterion:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        else:
            out.append(ch)
    return "".join(out)


def _matches(value: str, criterion: str) -> bool:
    """FileMaker find syntax, the parts clients use: ==exact, =word, and plain contains."""
    if criterion.startswith("=="):
        return value == _unescape(criterion[2:])
    if criterion.startswith("="):
        return _unescape(criterion[1:]).lower() in value.lower().split()
    return _unescape(criterion).lower() in value.lower()


class FileMakerEmulator(Emulator):
    service = "filemaker"
    default_port = 3000
    test_settings = {"database": "TestListings", "username": "api", "password": "fm-test-pass"}

    def __init__(
        self,
        *,
        database: str = "",
        username: str = "",
        password: str = "",
        record_count: int = 10_000,
        **faults: Any,
    ) -> None:
        self.database = database
        self.username = username
        self.password = password
        self.record_count = min(record_count, MAX_COUNT)
        super().__init__(**faults)

    @classmethod
    def for_client(cls, client_settings: Mapping[str, Any], **options: Any) -> Emulator:
        return cls(
            database=client_settings["database"],
            username=client_settings["username"],
            password=client_settings["password"],
            **options,
        )

    def routes(self) -> list[Route]:
        db = "/fmi/data/{version}/databases/{database}"
        return [
            Route(f"{db}/sessions", self.login, methods=["POST"]),
            Route(f"{db}/sessions/{{token}}", self.logout, methods=["DELETE"]),
            Route(f"{db}/layouts/{{layout}}/_find", self.find, methods=["POST"]),
            Route(f"{db}/layouts/{{layout}}/records", self.get_range, methods=["GET"]),
            Route(
                f"{db}/layouts/{{layout}}/records/{{record_id}}", self.get_record, methods=["GET"]
            ),
            Route(
                f"{db}/layouts/{{layout}}/records/{{record_id}}",
                self.edit_record,
                methods=["PATCH"],
            ),
        ]

    def reset_state(self) -> None:
        self.sessions: dict[str, float] = {}
        self.edits: dict[int, dict[str, str]] = {}
        self.mod_ids: dict[int, int] = {}

    def expire_sessions(self) -> None:
        self.sessions.clear()

    def error_response(self, status: int, retry_after: str | None) -> Response:
        headers = {"Retry-After": retry_after} if retry_after else {}
        if status >= 500 and status != 500:
            # The web server in front of the Data API answers 502/503/504 in HTML.
            return Response(
                f"<html><body><h1>{status}</h1></body></html>",
                status_code=status,
                media_type="text/html",
                headers=headers,
            )
        response = fm("812", "Exceeded host's capacity", status)
        response.headers.update(headers)
        return response

    def quota_response(self) -> Response:
        return fm("953", "Exceeded limit on data the Data API can transmit", 500)

    # -- auth -------------------------------------------------------------------------------

    def _check_database(self, request: Request) -> Response | None:
        params = request.path_params
        if params["version"] not in VERSIONS:
            return fm("1630", "URL format is incorrect", 404)
        if params["database"] != self.database:
            return fm("802", "Unable to open file", 500)
        return None

    def _check_token(self, request: Request) -> Response | None:
        problem = self._check_database(request)
        if problem:
            return problem
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
        last_used = self.sessions.get(token)
        now = time.monotonic()
        if last_used is None or now - last_used > SESSION_IDLE_SECONDS:
            self.sessions.pop(token, None)
            return fm("952", "Invalid FileMaker Data API token (*)", 401)
        self.sessions[token] = now
        return None

    async def login(self, request: Request) -> Response:
        problem = self._check_database(request)
        if problem:
            return problem
        if "application/json" not in request.headers.get("Content-Type", ""):
            return fm("1708", "Content-Type must be application/json", 415)
        header = request.headers.get("Authorization", "")
        try:
            user, _, password = (
                base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            user, password = "", ""
        if not header.startswith("Basic ") or (user, password) != (self.username, self.password):
            return fm("212", "Invalid user account and/or password; please try again", 401)
        token = secrets.token_hex(16)
        self.sessions[token] = time.monotonic()
        response = fm("0", "OK", 200, {"token": token})
        response.headers["X-FM-Data-Access-Token"] = token
        return response

    async def logout(self, request: Request) -> Response:
        problem = self._check_database(request)
        if problem:
            return problem
        if self.sessions.pop(request.path_params["token"], None) is None:
            return fm("952", "Invalid FileMaker Data API token (*)", 401)
        return fm("0", "OK", 200)

    # -- records ----------------------------------------------------------------------------

    def _record(self, index: int) -> dict[str, Any]:
        listing = asdict(data.listing(index))
        fields = {FIELD_NAMES[k]: listing[k] for k in FIELD_NAMES}
        fields.update(self.edits.get(index, {}))
        return {
            "fieldData": fields,
            "portalData": {},
            "recordId": str(index + 1),
            "modId": str(self.mod_ids.get(index, 1)),
        }

    def _index(self, record_id: str) -> int | None:
        if not record_id.isdigit() or not 1 <= int(record_id) <= self.record_count:
            return None
        return int(record_id) - 1

    def _found(self, indices: list[int], found: int, request: Request) -> JSONResponse:
        return fm(
            "0",
            "OK",
            200,
            {
                "dataInfo": {
                    "database": self.database,
                    "layout": request.path_params["layout"],
                    "table": LAYOUT,
                    "totalRecordCount": self.record_count,
                    "foundCount": found,
                    "returnedCount": len(indices),
                },
                "data": [self._record(i) for i in indices],
            },
        )

    async def find(self, request: Request) -> Response:
        problem = self._check_token(request) or self._check_layout(request)
        if problem:
            return problem
        try:
            body = await request.json()
            queries = body["query"]
            offset = int(body.get("offset", 1))
            limit = int(body.get("limit", 100))
            if not isinstance(queries, list) or not queries or offset < 1 or limit < 1:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return fm("960", "Parameter is invalid", 400)
        hits: list[int] = []
        for query in queries:
            if not isinstance(query, dict):
                return fm("960", "Parameter is invalid", 400)
            unknown = set(query) - set(FIELD_NAMES.values()) - {"omit"}
            if unknown:
                return fm("102", "Field is missing", 500)
            if query.get("omit") == "true":
                continue
            hits.extend(self._search(query))
        unique = sorted(set(hits))
        if not unique:
            return fm("401", "No records match the request", 500)
        page = unique[offset - 1 : offset - 1 + limit]
        return self._found(page, len(unique), request)

    def _search(self, query: dict[str, str]) -> list[int]:
        parcel = query.get(FIELD_NAMES["parcel_id"])
        if parcel is not None and parcel.startswith("=="):
            index = data.index_of_parcel(_unescape(parcel[2:]))
            candidates = [index] if index is not None and index < self.record_count else []
        else:
            candidates = list(range(self.record_count))
        return [
            i
            for i in candidates
            if all(_matches(str(self._record(i)["fieldData"][f]), c) for f, c in query.items())
        ]

    async def get_range(self, request: Request) -> Response:
        problem = self._check_token(request) or self._check_layout(request)
        if problem:
            return problem
        try:
            offset = int(request.query_params.get("_offset", "1"))
            limit = int(request.query_params.get("_limit", "100"))
        except ValueError:
            return fm("960", "Parameter is invalid", 400)
        indices = list(range(offset - 1, min(self.record_count, offset - 1 + limit)))
        return self._found(indices, self.record_count, request)

    async def get_record(self, request: Request) -> Response:
        problem = self._check_token(request) or self._check_layout(request)
        if problem:
            return problem
        index = self._index(request.path_params["record_id"])
        if index is None:
            return fm("101", "Record is missing", 500)
        return self._found([index], 1, request)

    async def edit_record(self, request: Request) -> Response:
        problem = self._check_token(request) or self._check_layout(request)
        if problem:
            return problem
        if "application/json" not in request.headers.get("Content-Type", ""):
            return fm("1708", "Content-Type must be application/json", 415)
        index = self._index(request.path_params["record_id"])
        if index is None:
            return fm("101", "Record is missing", 500)
        try:
            body = await request.json()
            field_data = body["fieldData"]
            if not isinstance(field_data, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return fm("1710", "Invalid JSON", 400)
        if set(field_data) - set(FIELD_NAMES.values()) or FIELD_NAMES["parcel_id"] in field_data:
            return fm("102", "Field is missing", 500)
        current = self.mod_ids.get(index, 1)
        if "modId" in body and str(body["modId"]) != str(current):
            return fm("306", "Record modification ID does not match", 500)
        if field_data:
            self.edits.setdefault(index, {}).update({k: str(v) for k, v in field_data.items()})
            self.mod_ids[index] = current + 1
        return fm("0", "OK", 200, {"modId": str(self.mod_ids.get(index, 1))})

    def _check_layout(self, request: Request) -> Response | None:
        if request.path_params["layout"] != LAYOUT:
            return fm("105", "Layout is missing", 500)
        return None


EMULATOR = FileMakerEmulator
