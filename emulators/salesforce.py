"""Salesforce REST emulator: client-credentials tokens, SOQL on Account, paging, limits.

Speaks `POST /services/oauth2/token` (form-encoded; consumer key and secret as fields or HTTP
Basic) returning `access_token` and `instance_url` (this emulator's own base URL), and
`/services/data/vXX.X/query`, `/query/{locator}` and `/sobjects/Account/{id}` with Bearer
tokens. Errors are JSON arrays of `{message, errorCode}`: 401 INVALID_SESSION_ID for an unknown
or idle token, 400 MALFORMED_QUERY/INVALID_FIELD, 404 NOT_FOUND, 403 REQUEST_LIMIT_EXCEEDED at
quota, 414 for a URI over 16,384 bytes. Every answer carries `Sforce-Limit-Info`.

SOQL understood: `SELECT <fields> FROM Account [WHERE <field> IN ('a', 'b', ...)]
[LIMIT n]`, with SOQL escapes in literals. Pages hold `page_size` records (2,000 by default).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators import data
from emulators.base import Emulator

API = "/services/data/{version}"
ACCOUNT_FIELDS = {"Id", "Name", "Phone", "Owner.Name", "LastActivityDate", "Parcel_ID__c"}
MAX_URI_BYTES = 16_384
_SELECT = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
    r"(?:\s+WHERE\s+(?P<field>[\w.]+)\s+IN\s*\((?P<values>.*)\))?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'")
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def sf_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse([{"message": message, "errorCode": code}], status_code=status)


def _literal(raw: str) -> str:
    return re.sub(r"\\(.)", lambda m: _UNESCAPE.get(m[1], m[1]), raw)


class SalesforceEmulator(Emulator):
    service = "salesforce"
    default_port = 3001
    test_settings = {"client_id": "test-key", "client_secret": "sf-test-secret"}

    def __init__(
        self,
        *,
        client_id: str = "",
        client_secret: str = "",
        account_count: int = 10_000,
        page_size: int = 2_000,
        daily_limit: int = 100_000,
        session_idle_seconds: float = 2 * 3600,
        **faults: Any,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.account_count = account_count
        self.page_size = page_size
        self.daily_limit = daily_limit
        self.session_idle_seconds = session_idle_seconds
        super().__init__(**faults)

    @classmethod
    def for_client(cls, client_settings: Mapping[str, Any], **options: Any) -> Emulator:
        return cls(
            client_id=client_settings["client_id"],
            client_secret=client_settings["client_secret"],
            **options,
        )

    def routes(self) -> list[Route]:
        return [
            Route("/services/oauth2/token", self.token, methods=["POST"]),
            Route(f"{API}/query", self.query, methods=["GET"]),
            Route(f"{API}/query/{{locator}}", self.query_more, methods=["GET"]),
            Route(f"{API}/sobjects/Account/{{account_id}}", self.get_account, methods=["GET"]),
            Route(f"{API}/sobjects/Account/{{account_id}}", self.update_account, methods=["PATCH"]),
        ]

    def reset_state(self) -> None:
        self.sessions: dict[str, float] = {}
        self.cursors: dict[str, list[dict[str, Any]]] = {}
        self.updates: dict[str, dict[str, Any]] = {}
        self.api_calls = 0

    def expire_sessions(self) -> None:
        self.sessions.clear()

    def error_response(self, status: int, retry_after: str | None) -> Response:
        code = {503: "SERVER_UNAVAILABLE", 500: "UNKNOWN_EXCEPTION"}.get(
            status, "UNKNOWN_EXCEPTION"
        )
        response = sf_error(status, code, "Injected failure")
        if retry_after:
            response.headers["Retry-After"] = retry_after
        return response

    def quota_response(self) -> Response:
        response = sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        response.headers["Sforce-Limit-Info"] = f"api-usage={self.daily_limit}/{self.daily_limit}"
        return response

    # -- auth -------------------------------------------------------------------------------

    async def token(self, request: Request) -> Response:
        form = await request.form()
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if form.get("grant_type") != "client_credentials":
            return JSONResponse(
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
                status_code=400,
            )
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return JSONResponse(
                {"error": "invalid_client", "error_description": "invalid client credentials"},
                status_code=400,
            )
        token = "00D" + "x" * 12 + "!" + secrets.token_urlsafe(24)
        self.sessions[token] = time.monotonic()
        base = str(request.base_url).rstrip("/")
        return JSONResponse(
            {
                "access_token": token,
                "instance_url": base,
                "id": f"{base}/id/00Dxx0000001gPLEAY/005xx000001Sv6AAAS",
                "token_type": "Bearer",
                "issued_at": str(int(time.time() * 1000)),
                "signature": secrets.token_urlsafe(32),
                "scope": "api",
            }
        )

    def _authorize(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip()
        last_used = self.sessions.get(token)
        now = time.monotonic()
        if (
            not header.startswith("Bearer ")
            or last_used is None
            or (now - last_used > self.session_idle_seconds)
        ):
            self.sessions.pop(token, None)
            return sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
        self.sessions[token] = now
        self.api_calls += 1
        return None

    def _with_limits(self, response: Response) -> Response:
        response.headers["Sforce-Limit-Info"] = f"api-usage={self.api_calls}/{self.daily_limit}"
        return response

    # -- query ------------------------------------------------------------------------------

    def _record(self, account: dict[str, Any], fields: list[str], version: str) -> dict[str, Any]:
        merged = {**account, **self.updates.get(str(account["Id"]), {})}
        record: dict[str, Any] = {
            "attributes": {
                "type": "Account",
                "url": f"/services/data/{version}/sobjects/Account/{merged['Id']}",
            }
        }
        for name in fields:
            if name == "Owner.Name":
                record["Owner"] = {"attributes": {"type": "User"}, "Name": merged["Owner"]["Name"]}
            else:
                record[name] = merged.get(name)
        return record

    def _accounts(self, field: str | None, values: list[str]) -> list[dict[str, Any]]:
        if field is None:
            found = (data.account(i) for i in range(self.account_count))
            return [a for a in found if a is not None]
        accounts = []
        for value in values:
            if field == "Parcel_ID__c":
                index = data.index_of_parcel(value)
                account = data.account(index) if index is not None else None
            elif field == "Id":
                account = self._by_id(value)
            else:
                account = None
            if account is not None:
                accounts.append(account)
        return accounts

    def _by_id(self, account_id: str) -> dict[str, Any] | None:
        index = data.index_of_account(account_id)
        return data.account(index) if index is not None else None

    async def query(self, request: Request) -> Response:
        if len(str(request.url).encode()) > MAX_URI_BYTES:
            return Response("URI Too Long", status_code=414)
        denied = self._authorize(request)
        if denied:
            return denied
        version = request.path_params["version"]
        soql = request.query_params.get("q", "")
        match = _SELECT.match(soql)
        if not match:
            return self._with_limits(sf_error(400, "MALFORMED_QUERY", "unexpected token"))
        if match["object"].lower() != "account":
            return self._with_limits(
                sf_error(400, "INVALID_TYPE", f"sObject type '{match['object']}' is not supported.")
            )
        fields = [f.strip() for f in match["fields"].split(",")]
        bad = [f for f in fields if f not in ACCOUNT_FIELDS]
        if match["field"] and match["field"] not in ACCOUNT_FIELDS:
            bad.append(match["field"])
        if bad:
            return self._with_limits(
                sf_error(400, "INVALID_FIELD", f"No such column '{bad[0]}' on entity 'Account'.")
            )
        values = [_literal(v) for v in _LITERAL.findall(match["values"] or "")]
        records = [self._record(a, fields, version) for a in self._accounts(match["field"], values)]
        if match["limit"]:
            records = records[: int(match["limit"])]
        return self._with_limits(JSONResponse(self._page(records, version)))

    def _page(
        self, records: list[dict[str, Any]], version: str, total: int | None = None
    ) -> dict[str, Any]:
        total = len(records) if total is None else total
        page, rest = records[: self.page_size], records[self.page_size :]
        body: dict[str, Any] = {"totalSize": total, "done": not rest, "records": page}
        if rest:
            locator = f"01g{secrets.token_hex(6)}-{self.page_size}"
            self.cursors[locator] = rest
            body["nextRecordsUrl"] = f"/services/data/{version}/query/{locator}"
        return body

    async def query_more(self, request: Request) -> Response:
        denied = self._authorize(request)
        if denied:
            return denied
        rest = self.cursors.pop(request.path_params["locator"], None)
        if rest is None:
            return self._with_limits(
                sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            )
        return self._with_limits(
            JSONResponse(self._page(rest, request.path_params["version"], len(rest)))
        )

    # -- sObjects ---------------------------------------------------------------------------

    def _account_or_error(self, request: Request) -> dict[str, Any] | Response:
        """The Account the URL names, or the answer Salesforce gives instead (401 or 404)."""
        denied = self._authorize(request)
        if denied:
            return denied
        account = self._by_id(request.path_params["account_id"])
        if account is None:
            return self._with_limits(
                sf_error(404, "NOT_FOUND", "The requested resource does not exist")
            )
        return account

    async def get_account(self, request: Request) -> Response:
        account = self._account_or_error(request)
        if isinstance(account, Response):
            return account
        return self._with_limits(
            JSONResponse(
                self._record(account, sorted(ACCOUNT_FIELDS), request.path_params["version"])
            )
        )

    async def update_account(self, request: Request) -> Response:
        account = self._account_or_error(request)
        if isinstance(account, Response):
            return account
        try:
            changes = await request.json()
            if not isinstance(changes, dict):
                raise TypeError
        except (ValueError, TypeError):
            return self._with_limits(sf_error(400, "JSON_PARSER_ERROR", "Unexpected character"))
        writable = {"Name", "Phone", "LastActivityDate"}
        if set(changes) - writable:
            field = sorted(set(changes) - writable)[0]
            return self._with_limits(
                sf_error(
                    400,
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {field}.",
                )
            )
        self.updates.setdefault(str(account["Id"]), {}).update(changes)
        return self._with_limits(Response(status_code=204))


EMULATOR = SalesforceEmulator
