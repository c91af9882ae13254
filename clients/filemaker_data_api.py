"""Claris FileMaker Data API (vLatest): the generic client any FileMaker solution needs.

clients/filemaker.py maps our solution's listing records onto it.

Upstream: `{base_url}/fmi/data/{version}/databases/{database}/...`, JSON in and out; every
answer carries `messages[0].code` (a string; "0" is OK), and the Data API reports FileMaker
errors as HTTP 500 with that code.

Auth: a session. `POST .../sessions` with HTTP Basic credentials returns a token (header
`X-FM-Data-Access-Token` and `response.token`), sent as `Authorization: Bearer`. The token
dies 15 minutes after the last call that used it, so we renew it a minute early, and on
HTTP 401 with code 952 we log in again once and resend. One login at a time however many
coroutines need a token. `aclose()` logs out (`DELETE .../sessions/{token}`, no bearer).

Limits: no request rate limit; a yearly transfer allowance (953) and a cap on concurrent
sessions (956). No multi-record read by id: reads batch as one `_find` with one find request
per key (OR), at most `batch_size` per call. One record per write.

Errors: 401 on `_find` ("No records match") is an empty found set, not an error. 952 -> renew
the session; 212 -> AuthenticationFailed; 101 -> NotFound; 301/306 -> Conflict (someone holds
or changed the record; reload before writing again); 953 -> RateLimited, not retryable;
956 -> RateLimited, retryable; 102/105/5xx validation codes/958/960/17xx -> RequestRejected
(our layout, field names or values are wrong); a non-JSON answer -> BadResponse, or
ServiceUnavailable when the web server in front says 502/503/504.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from clients.errors import (
    AuthenticationFailed,
    BadResponse,
    Conflict,
    ExternalServiceError,
    NotFound,
    RateLimited,
    RequestRejected,
    ServiceUnavailable,
    from_response,
)
from clients.http import HttpClient, HttpConfig, HttpRequest, json_of

SERVICE = "filemaker"

NO_RECORDS_MATCH = "401"
SESSION_EXPIRED_CODE = "952"
_FIND_OPERATORS = re.compile(r'([@*#?!=<>"~\\.…/])')


@dataclass(frozen=True, kw_only=True)
class FileMakerConfig(HttpConfig):
    database: str
    username: str
    password: str = field(repr=False)
    layout: str = "Listings"
    version: str = "vLatest"
    #: The Data API ends a session this long after the last call that used it.
    session_idle_timeout: float = 15 * 60
    #: Renew this long before the idle timeout, so a token never dies in flight.
    session_renew_margin: float = 60


@dataclass(frozen=True)
class FileMakerRecord:
    record_id: str
    mod_id: str
    field_data: Mapping[str, Any]
    portal_data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FoundSet:
    records: list[FileMakerRecord]
    found_count: int
    total_record_count: int


def exact_match(value: str) -> str:
    """A find criterion matching the whole field exactly, with find operators escaped."""
    return "==" + _FIND_OPERATORS.sub(r"\\\1", value)


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json_of(response)
    except ValueError as exc:
        raise BadResponse(SERVICE, "parse", "answer is not JSON") from exc
    if not isinstance(body, dict):
        raise BadResponse(SERVICE, "parse", "answer is not a JSON object")
    return body


def _message(body: Mapping[str, Any]) -> tuple[str, str]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not isinstance(messages[0], dict):
        raise BadResponse(SERVICE, "parse", "answer has no messages")
    return str(messages[0].get("code")), str(messages[0].get("message", ""))


def _records(response: httpx.Response) -> list[FileMakerRecord]:
    return [
        FileMakerRecord(
            record_id=str(item["recordId"]),
            mod_id=str(item["modId"]),
            field_data=dict(item["fieldData"]),
            portal_data=dict(item.get("portalData") or {}),
        )
        for item in _body(response)["response"]["data"]
    ]


def _found_set(response: httpx.Response) -> FoundSet:
    body = _body(response)
    if _message(body)[0] == NO_RECORDS_MATCH:
        return FoundSet(records=[], found_count=0, total_record_count=0)
    info = body["response"]["dataInfo"]
    return FoundSet(
        records=_records(response),
        found_count=int(info["foundCount"]),
        total_record_count=int(info["totalRecordCount"]),
    )


class DataApiClient(HttpClient):
    """The Data API of one FileMaker database: sessions, finds, reads and modId-locked writes."""

    service = SERVICE
    config: FileMakerConfig

    def __init__(self, config: FileMakerConfig, *, http: httpx.AsyncClient, **kwargs: Any) -> None:
        super().__init__(config, http=http, **kwargs)
        self._token: str | None = None
        self._token_last_used = 0.0
        self._login_lock = asyncio.Lock()

    # -- public API -------------------------------------------------------------------------

    async def find_records(
        self,
        *,
        queries: Sequence[Mapping[str, str]],
        layout: str | None = None,
        limit: int | None = None,
        offset: int = 1,
        sort: Sequence[Mapping[str, str]] = (),
    ) -> FoundSet:
        """Run one `_find` with several find requests (OR). No match is an empty found set.

        Raises:
            ExternalServiceError: see the module docstring for the mapping.
        """
        payload: dict[str, Any] = {"query": [dict(q) for q in queries], "offset": str(offset)}
        if limit is not None:
            payload["limit"] = str(limit)
        if sort:
            payload["sort"] = [dict(s) for s in sort]
        return await self._call(
            "POST",
            self._layout_url(layout, "_find"),
            operation="find_records",
            json=payload,
            idempotent=True,  # a find is a read, even though it is a POST
            parse=_found_set,
        )

    async def get_record(self, *, record_id: str, layout: str | None = None) -> FileMakerRecord:
        """One record by its record id.

        Raises:
            NotFound: no such record (FileMaker 101).
            ExternalServiceError: any other failure.
        """
        records = await self._call(
            "GET",
            self._layout_url(layout, f"records/{quote(record_id, safe='')}"),
            operation="get_record",
            parse=_records,
        )
        if not records:
            raise BadResponse(SERVICE, "get_record", "answer holds no record")
        return records[0]

    async def update_record(
        self,
        *,
        record_id: str,
        field_data: Mapping[str, Any],
        mod_id: str,
        layout: str | None = None,
    ) -> str:
        """Change fields if the record is still at `mod_id`; returns the new modId.

        Never retried once sent: if the answer is lost, re-read the record and compare.

        Raises:
            Conflict: the record changed since `mod_id` was read (306) or is locked (301).
            NotFound: no such record.
            ExternalServiceError: any other failure.
        """
        return await self._call(
            "PATCH",
            self._layout_url(layout, f"records/{quote(record_id, safe='')}"),
            operation="update_record",
            json={"fieldData": dict(field_data), "modId": str(mod_id)},
            idempotent=False,
            parse=lambda response: str(_body(response)["response"]["modId"]),
        )

    async def aclose(self) -> None:
        """Log out so the session stops counting against the server's session cap."""
        if self._token is None:
            return
        try:
            await self._call(
                "DELETE",
                f"{self._database_url}/sessions/{quote(self._token, safe='')}",
                operation="logout",
                authenticated=False,
                parse=lambda response: None,
            )
        except ExternalServiceError:
            pass  # already logged; the session expires on its own
        finally:
            self._token = None

    # -- auth hooks -------------------------------------------------------------------------

    async def _auth_headers(self, attempt: int) -> dict[str, str]:
        async with self._login_lock:
            if self._token is None or self._token_is_idle():
                self._token = await self._login(attempt)
            self._token_last_used = time.monotonic()
            return {"Authorization": f"Bearer {self._token}"}

    def _token_is_idle(self) -> bool:
        idle = time.monotonic() - self._token_last_used
        return idle >= self.config.session_idle_timeout - self.config.session_renew_margin

    async def _renew_session(self, rejected: Mapping[str, str]) -> None:
        async with self._login_lock:
            if rejected.get("Authorization") == f"Bearer {self._token}":
                self._token = None

    def _is_session_expired(self, response: httpx.Response) -> bool:
        """952 says so; a 401 we cannot read is taken the same way: it answered a call that
        carried our token, so renewing is the cure to try, not blaming the credentials."""
        if response.status_code != 401:
            return False
        try:
            return _message(_body(response))[0] == SESSION_EXPIRED_CODE
        except BadResponse:
            return True

    async def _login(self, attempt: int) -> str:
        credentials = f"{self.config.username}:{self.config.password}".encode()
        login = HttpRequest(
            method="POST",
            url=f"{self._database_url}/sessions",
            headers={
                "Authorization": "Basic " + base64.b64encode(credentials).decode("ascii"),
                "Content-Type": "application/json",
            },
            options={"content": b"{}"},
        )
        return await self._exchange(
            login, operation="login", parse=self._token_from_login, attempt=attempt
        )

    @staticmethod
    def _token_from_login(response: httpx.Response) -> str:
        token = (
            response.headers.get("X-FM-Data-Access-Token") or _body(response)["response"]["token"]
        )
        if not isinstance(token, str) or not token:
            raise BadResponse(SERVICE, "login", "no session token in the answer")
        return token

    # -- error mapping ----------------------------------------------------------------------

    def _classify(self, response: httpx.Response, operation: str) -> ExternalServiceError | None:
        try:
            code, message = _message(_body(response))
        except BadResponse:
            if response.is_success or response.status_code == 401:
                # An unreadable 401 is no proof the credentials are wrong.
                return BadResponse(SERVICE, operation, "answer is not a Data API message")
            return from_response(response, SERVICE, operation)
        if code == "0" and response.is_success:
            return None
        if code == NO_RECORDS_MATCH and operation == "find_records":
            return None
        return self._error_for_code(response, operation, code, message)

    def _error_for_code(
        self, response: httpx.Response, operation: str, code: str, message: str
    ) -> ExternalServiceError:
        detail = f"FileMaker error {code}: {message}"[:200]
        status = response.status_code
        if code == "212" or (code == SESSION_EXPIRED_CODE and status == 401):
            return AuthenticationFailed(SERVICE, operation, detail, status=status)
        if code == "101":
            return NotFound(SERVICE, operation, detail, status=status)
        if code in {"301", "306"}:
            return Conflict(SERVICE, operation, detail, status=status)
        if code == "953":
            return RateLimited(SERVICE, operation, detail, retryable=False, status=status)
        if code == "956":
            return RateLimited(SERVICE, operation, detail, status=status)
        if code in {"102", "105", "958", "960"} or code.startswith(("50", "17")):
            return RequestRejected(SERVICE, operation, detail, status=status)
        if status in {502, 503, 504} or status == 429:
            return from_response(response, SERVICE, operation, detail)
        return ServiceUnavailable(SERVICE, operation, detail, status=status, retryable=False)

    def _redactions(self) -> list[str]:
        return [self._token] if self._token else []

    # -- URLs -------------------------------------------------------------------------------

    @property
    def _database_url(self) -> str:
        base = self.config.base_url.rstrip("/")
        return (
            f"{base}/fmi/data/{self.config.version}/databases/"
            f"{quote(self.config.database, safe='')}"
        )

    def _layout_url(self, layout: str | None, tail: str) -> str:
        name = quote(layout or self.config.layout, safe="")
        return f"{self._database_url}/layouts/{name}/{tail}"


__all__ = [
    "DataApiClient",
    "FileMakerConfig",
    "FileMakerRecord",
    "FoundSet",
    "exact_match",
]
