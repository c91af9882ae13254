"""Salesforce REST API: the owner Accounts, matched to our properties by a parcel-id field.

Upstream: the token endpoint at `{base_url}/services/oauth2/token` (a My Domain host), then
`{instance_url}/services/data/{api_version}/...` with the `instance_url` the token answer gives.

Auth: OAuth 2.0 client credentials (consumer key and secret as form fields). The answer has no
expiry; the session dies after the org's inactivity timeout and then any call answers 401
`INVALID_SESSION_ID`, on which we fetch one new token (single-flight) and resend once.

Limits: a rolling 24-hour API quota reported on every answer as
`Sforce-Limit-Info: api-usage=18/5000` (exposed as `api_usage`); exhausting it gives 403
`REQUEST_LIMIT_EXCEEDED`, not 429, with no Retry-After. Query pages hold up to 2,000 records and
continue at `nextRecordsUrl`. GET URIs over 16 KB get 414; Salesforce advises under 2,000
characters, so IN lists are chunked to keep each query URI under `max_uri_length`.

Errors: bodies are JSON arrays of `{message, errorCode}`. 401 INVALID_SESSION_ID -> renew;
token answer 400/401 (`invalid_client`, `invalid_grant`) -> AuthenticationFailed; 403
REQUEST_LIMIT_EXCEEDED -> RateLimited, not retried (it lasts for hours); other 403 ->
RequestRejected; 404 NOT_FOUND -> NotFound; 400 MALFORMED_QUERY/INVALID_FIELD, 414, 431 ->
RequestRejected; 503 SERVER_UNAVAILABLE -> ServiceUnavailable (retried); 500 -> unavailable.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote, quote_plus

import httpx

from clients.errors import (
    AuthenticationFailed,
    BadResponse,
    ExternalServiceError,
    RateLimited,
    RequestRejected,
    from_response,
)
from clients.http import HttpClient, HttpConfig, HttpRequest, json_of

SERVICE = "salesforce"
#: Room left in a query URI for `https://<my-domain>.my.salesforce.com`, unknown until login.
INSTANCE_URL_ALLOWANCE = 100
ACCOUNT_FIELDS = ("Id", "Name", "Phone", "Owner.Name", "LastActivityDate")
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")
_SOQL_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


@dataclass(frozen=True, kw_only=True)
class SalesforceConfig(HttpConfig):
    client_id: str
    client_secret: str = field(repr=False)
    api_version: str = "v62.0"
    #: The custom Account field holding the parcel id.
    parcel_field: str = "Parcel_ID__c"
    #: Longest query URI we send (Salesforce recommends 2,000 characters).
    max_uri_length: int = 2000
    batch_size: int = 200

    @property
    def keys_per_call(self) -> int:
        """Parcel ids one account query carries: the URI length binds before batch_size
        (about 75 of the 14-digit ids at 2,000 characters). Computed once per setting: every
        request's cost estimate and every batch asks."""
        return _ids_per_query(
            self.api_version, self.parcel_field, self.max_uri_length, self.batch_size
        )


@functools.lru_cache(maxsize=16)
def _ids_per_query(
    api_version: str, parcel_field: str, max_uri_length: int, batch_size: int
) -> int:
    plan = AccountQueryPlan.for_settings(api_version, parcel_field, max_uri_length)
    literal = soql_quote("0" * 14)
    count, length = 0, 0
    while count < batch_size:
        length = plan.length_with(length, literal, first=count == 0)
        if length > plan.room:
            break
        count += 1
    return max(1, count)


class AccountQueryPlan:
    """The accounts-by-parcel SOQL and how long its query URI gets, computed piece by piece
    (URL encoding is per character, so lengths add up) instead of encoding every candidate."""

    def __init__(self, config: SalesforceConfig) -> None:
        self._plan(config.api_version, config.parcel_field, config.max_uri_length)

    @classmethod
    def for_settings(
        cls, api_version: str, parcel_field: str, max_uri_length: int
    ) -> AccountQueryPlan:
        plan = cls.__new__(cls)
        plan._plan(api_version, parcel_field, max_uri_length)
        return plan

    def _plan(self, api_version: str, field_name: str, max_uri_length: int) -> None:
        self.select = (
            f"SELECT {', '.join(ACCOUNT_FIELDS)}, {field_name} FROM Account "  # noqa: S608
            f"WHERE {field_name} IN "
        )
        path = f"/services/data/{api_version}/query"
        self.base = len(str(httpx.URL(path, params={"q": self.select + "()"})))
        self.separator = _encoded_length(", ")
        #: Characters the IN list may take: the instance URL is unknown until login.
        self.room = max_uri_length - INSTANCE_URL_ALLOWANCE - self.base

    def length_with(self, length: int, literal: str, *, first: bool) -> int:
        """The IN list's encoded length once `literal` is added to one of `length`."""
        return length + _encoded_length(literal) + (0 if first else self.separator)

    def soql(self, literals: list[str]) -> str:
        return self.select + "(" + ", ".join(literals) + ")"


def _encoded_length(text: str) -> int:
    """Characters `text` takes in a query string, as httpx encodes it: httpx writes query
    parameters with urllib's `urlencode`, which quotes each value with `quote_plus`. (Built
    through httpx.QueryParams this was a fifth of the client's CPU for a 100-id query.)"""
    return len(quote_plus(text))


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    phone: str | None
    owner_name: str | None
    last_activity_date: date | None
    parcel_id: str


@dataclass(frozen=True)
class ApiUsage:
    used: int
    limit: int


@dataclass(frozen=True)
class _Session:
    access_token: str = field(repr=False)
    instance_url: str


def soql_quote(value: str) -> str:
    """A SOQL string literal; every character SOQL treats specially is escaped."""
    return "'" + "".join(_SOQL_ESCAPES.get(ch, ch) for ch in value) + "'"


def _json(response: httpx.Response) -> Any:
    try:
        return json_of(response)
    except ValueError as exc:
        raise BadResponse(SERVICE, "parse", "answer is not JSON") from exc


def _account(record: Mapping[str, Any], parcel_field: str) -> Account:
    owner = record.get("Owner") or {}
    last = record.get("LastActivityDate")
    return Account(
        id=str(record["Id"]),
        name=str(record["Name"]),
        phone=record.get("Phone") or None,
        owner_name=owner.get("Name") if isinstance(owner, dict) else None,
        last_activity_date=date.fromisoformat(last) if last else None,
        parcel_id=str(record[parcel_field]),
    )


class SalesforceClient(HttpClient):
    service = SERVICE
    config: SalesforceConfig

    def __init__(self, config: SalesforceConfig, *, http: httpx.AsyncClient, **kwargs: Any) -> None:
        super().__init__(config, http=http, **kwargs)
        self._session: _Session | None = None
        self._login_lock = asyncio.Lock()
        self.api_usage: ApiUsage | None = None

    # -- public API -------------------------------------------------------------------------

    async def query(self, soql: str) -> list[dict[str, Any]]:
        """All records a SOQL query returns, following `nextRecordsUrl` page by page.

        Raises:
            ExternalServiceError: see the module docstring.
        """
        page = await self._call(
            "GET", self._data_path("query"), operation="query", params={"q": soql}, parse=_json
        )
        records = self._page_records(page)
        while not page.get("done", True):
            next_url = page.get("nextRecordsUrl")
            if not isinstance(next_url, str) or not next_url.startswith("/services/data/"):
                raise BadResponse(SERVICE, "query", "page is not done but has no next URL")
            page = await self._call("GET", next_url, operation="query_more", parse=_json)
            records.extend(self._page_records(page))
        return records

    async def accounts_by_parcel(self, *, parcel_ids: Sequence[str]) -> dict[str, Account]:
        """Accounts whose parcel field is one of `parcel_ids`; ids with none are left out.

        Raises:
            ExternalServiceError: the first chunk that failed.
        """
        unique = list(dict.fromkeys(parcel_ids))
        if not unique:
            return {}
        pages = await asyncio.gather(*(self.query(soql) for soql in self._account_queries(unique)))
        accounts: dict[str, Account] = {}
        for records in pages:
            for record in records:
                try:
                    account = _account(record, self.config.parcel_field)
                except (KeyError, ValueError, TypeError) as exc:
                    raise BadResponse(
                        SERVICE, "accounts_by_parcel", "account has bad fields"
                    ) from exc
                accounts.setdefault(account.parcel_id, account)
        return accounts

    async def update_account(self, *, account_id: str, fields: Mapping[str, Any]) -> None:
        """Change Account fields (PATCH, 204). Not resent once it may have reached Salesforce.

        Raises:
            NotFound: no such Account.
            ExternalServiceError: any other failure.
        """
        await self._call(
            "PATCH",
            self._data_path(f"sobjects/Account/{quote(account_id, safe='')}"),
            operation="update_account",
            json=dict(fields),
            idempotent=False,
            parse=lambda response: None,
        )

    # -- SOQL -------------------------------------------------------------------------------

    def _account_queries(self, parcel_ids: list[str]) -> list[str]:
        """One SOQL per chunk, each chunk as large as the URI limit and batch_size allow.

        Values go in only through soql_quote; field names come from our own config.
        """
        plan = AccountQueryPlan(self.config)
        queries: list[str] = []
        chunk: list[str] = []
        length = 0
        for parcel_id in parcel_ids:
            literal = soql_quote(parcel_id)
            grown = plan.length_with(length, literal, first=not chunk)
            if chunk and (grown > plan.room or len(chunk) >= self.config.batch_size):
                queries.append(plan.soql(chunk))
                chunk, length = [], 0
                grown = plan.length_with(0, literal, first=True)
            chunk.append(literal)
            length = grown
        queries.append(plan.soql(chunk))
        return queries

    @staticmethod
    def _page_records(page: Any) -> list[dict[str, Any]]:
        if not isinstance(page, dict) or not isinstance(page.get("records"), list):
            raise BadResponse(SERVICE, "query", "answer has no records list")
        return [
            {k: v for k, v in record.items() if k != "attributes"} for record in page["records"]
        ]

    # -- auth hooks -------------------------------------------------------------------------

    async def _auth_headers(self, attempt: int) -> dict[str, str]:
        async with self._login_lock:
            if self._session is None:
                self._session = await self._fetch_token(attempt)
            return {"Authorization": f"Bearer {self._session.access_token}"}

    async def _renew_session(self, rejected: Mapping[str, str]) -> None:
        async with self._login_lock:
            if self._session and rejected.get("Authorization") == (
                f"Bearer {self._session.access_token}"
            ):
                self._session = None

    def _is_session_expired(self, response: httpx.Response) -> bool:
        """INVALID_SESSION_ID says so; a 401 we cannot read is taken the same way: it answered
        a call that carried our token, so a new token is the cure to try."""
        if response.status_code != 401:
            return False
        detail = self._error_detail(response)
        return detail is None or "INVALID_SESSION_ID" in detail

    async def _fetch_token(self, attempt: int) -> _Session:
        token = HttpRequest(
            method="POST",
            url=f"{self.config.base_url.rstrip('/')}/services/oauth2/token",
            headers={"Accept": "application/json"},
            options={
                "data": {
                    "grant_type": "client_credentials",
                    "client_id": self.config.client_id,
                    "client_secret": self.config.client_secret,
                }
            },
        )
        return await self._exchange(
            token, operation="login", parse=self._session_from_token, attempt=attempt
        )

    @staticmethod
    def _session_from_token(response: httpx.Response) -> _Session:
        body = _json(response)
        token, instance = body.get("access_token"), body.get("instance_url")
        if not (isinstance(token, str) and token and isinstance(instance, str)):
            raise BadResponse(SERVICE, "login", "token answer lacks access_token or instance_url")
        if not instance.startswith(("https://", "http://")):
            raise BadResponse(SERVICE, "login", "instance_url is not an HTTP URL")
        return _Session(access_token=token, instance_url=instance.rstrip("/"))

    # -- error mapping ----------------------------------------------------------------------

    def _error_detail(self, response: httpx.Response) -> str | None:
        try:
            body = json_of(response)
        except ValueError:
            return None
        if isinstance(body, list) and body and isinstance(body[0], dict):
            return f"{body[0].get('errorCode')}: {body[0].get('message')}"[:200]
        if isinstance(body, dict) and "error" in body:
            return f"{body.get('error')}: {body.get('error_description')}"[:200]
        return None

    def _classify(self, response: httpx.Response, operation: str) -> ExternalServiceError | None:
        usage = _LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        if usage:
            self.api_usage = ApiUsage(used=int(usage[1]), limit=int(usage[2]))
        if response.is_success:
            return None
        detail = self._error_detail(response)
        status = response.status_code
        if operation == "login" and status in {400, 401, 403}:
            return AuthenticationFailed(SERVICE, operation, detail or f"HTTP {status}")
        if status == 401 and detail is None:
            # An unreadable 401, even after a new token: no proof the credentials are wrong.
            return BadResponse(SERVICE, operation, "unreadable 401 answer", status=status)
        if status == 403 and detail and detail.startswith("REQUEST_LIMIT_EXCEEDED"):
            # The daily quota: retrying inside a request only spends more of nothing.
            return RateLimited(SERVICE, operation, detail, retryable=False, status=status)
        if status in {403, 414, 431}:
            return RequestRejected(SERVICE, operation, detail or f"HTTP {status}", status=status)
        return from_response(response, SERVICE, operation, detail)

    # -- URLs -------------------------------------------------------------------------------

    def _resolve_url(self, url: str) -> str:
        if not url.startswith("/"):
            return url
        if self._session is None:
            raise RuntimeError("no Salesforce session yet")
        return self._session.instance_url + url

    def _data_path(self, tail: str) -> str:
        return f"/services/data/{self.config.api_version}/{tail}"
