"""The GraphQL endpoint: strawberry's async Django view speaking GraphQL over HTTP.

It follows the GraphQL-over-HTTP specification: `application/graphql-response+json` when the
client asks for it (request errors are then 4xx), `application/json` for older clients (every
well-formed request is then 200), GET for queries only (405 otherwise), 406 and 415 for media
types we cannot speak. Every refusal is a GraphQL-shaped JSON body with `extensions.code`.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from cross_web import HTTPException
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.cache import get_conditional_response, patch_vary_headers, set_response_etag
from django.views.decorators.http import require_safe
from prometheus_client import Counter
from strawberry.django.views import AsyncGraphQLView
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError

from django_project.accounts.tokens import InvalidApiTokenError, authenticate_bearer
from resolvers.context import Context, build_context
from schema.persisted_queries import PERSISTED_QUERY_CODES
from schema.stitching import stitching_sdl as stitching_document_text

#: The media type of a GraphQL SDL document.
SDL_MEDIA_TYPE = "application/graphql; charset=utf-8"

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"
#: Order matters: with `*/*` or no preference, older clients keep getting application/json.
MEDIA_TYPES = [APPLICATION_JSON, GRAPHQL_RESPONSE_JSON]


GRAPHQL_HTTP_REFUSALS = Counter(
    "graphql_http_refusals",
    "Requests refused before execution (bad tokens, CSRF, media types, methods, body size), "
    "by extensions.code.",
    ["code"],
)


def _no_response(request: HttpRequest) -> HttpResponseBase:  # pragma: no cover - never called
    raise AssertionError("CsrfViewMiddleware.process_view does not call get_response")


_csrf = CsrfViewMiddleware(_no_response)


class HttpError(Exception):
    """A refusal before or around execution, answered as `{errors: [...]}` with a status."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


#: Strawberry's own refusals, by status, with the code we give them.
STRAWBERRY_HTTP_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


#: Deepest nesting of arrays and objects a request's JSON may have. GraphQL requests nest a
#: handful of levels (filters with AND/OR a few more); deep nesting only serves to exhaust the
#: recursion of whatever walks the value later.
MAX_JSON_DEPTH = 64


def json_problem(value: Any) -> str | None:
    """What makes decoded JSON unusable, or None: nesting deeper than MAX_JSON_DEPTH, or a
    string holding an unpaired UTF-16 surrogate (JSON's `\ud800` escape decodes to one; no
    database or encoder downstream accepts it). Walked without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    return "The request's JSON holds a string with an unpaired surrogate."
            continue
        if isinstance(item, dict):
            if depth > MAX_JSON_DEPTH:
                return f"The request's JSON nests deeper than {MAX_JSON_DEPTH} levels."
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            if depth > MAX_JSON_DEPTH:
                return f"The request's JSON nests deeper than {MAX_JSON_DEPTH} levels."
            stack.extend((child, depth + 1) for child in item)
    return None


def negotiate_media_type(request: HttpRequest) -> str | None:
    """The response media type the client accepts, or None when it accepts neither."""
    if not request.headers.get("Accept", "").strip():
        return APPLICATION_JSON
    return request.get_preferred_type(MEDIA_TYPES)


def too_large() -> HttpError:
    limit = settings.GRAPHQL_MAX_BODY_BYTES
    return HttpError(413, "REQUEST_TOO_LARGE", f"Request body is over the {limit}-byte limit.")


def error_response(error: HttpError, media_type: str) -> JsonResponse:
    GRAPHQL_HTTP_REFUSALS.labels(error.code).inc()
    response = JsonResponse(
        {"errors": [{"message": error.message, "extensions": {"code": error.code}}]},
        status=error.status,
        content_type=f"{media_type}; charset=utf-8",
    )
    response["Cache-Control"] = "no-store"
    for name, value in error.headers.items():
        response[name] = value
    return response


def is_request_error(result: ExecutionResult) -> bool:
    """Parse, validation, variable and persisted-query errors: execution never started.

    Field errors carry a path; request errors do not, and leave no `data` at all.
    """
    if isinstance(result, PreExecutionError):
        return True
    return (
        result.data is None and bool(result.errors) and all(e.path is None for e in result.errors)
    )


class GraphQLView(AsyncGraphQLView):
    """Authentication, CSRF and HTTP semantics around strawberry's execution.

    Authentication: a bearer API token (`Authorization: Bearer pgt_...`) or Django's session.
    CSRF applies to session-cookie requests only: a browser holding our session cookie
    (GraphiQL, same-site front ends) must send the CSRF token, as GraphiQL does. A request
    authenticated by a token, or carrying no session cookie, has no ambient credential a forged
    cross-site form could ride on, so servers, gateways and curl need no CSRF token.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("graphql_ide", "graphiql" if settings.GRAPHIQL_ENABLED else None)
        super().__init__(**kwargs)

    async def get_context(self, request: HttpRequest, response: Any) -> Context:
        self.graphql_context = build_context(request, response)
        return self.graphql_context

    def encode_json(self, data: object) -> str | bytes:
        """The response through orjson (a 1,000-row page's JSON in a fraction of the standard
        library's time); text orjson refuses (a lone surrogate echoed in a message) goes
        through the standard library, which escapes it."""
        try:
            return orjson.dumps(data)
        except orjson.JSONEncodeError:
            return super().encode_json(data)

    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        media_type = negotiate_media_type(request)
        try:
            if media_type is None and not self.should_render_graphql_ide(
                self.request_adapter_class(request)
            ):
                raise HttpError(
                    406,
                    "NOT_ACCEPTABLE",
                    f"The Accept header allows neither {APPLICATION_JSON} nor "
                    f"{GRAPHQL_RESPONSE_JSON}.",
                )
            self._check_body_size(request)
            await self._authenticate(request)
            response = await self._run(request)
        except HttpError as error:
            return error_response(error, media_type or APPLICATION_JSON)
        return self._finish(request, response, media_type or APPLICATION_JSON)

    def _cache_headers(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        """`Cache-Control` from what the response holds (schema/cache_control.py works out
        its max-age; None means a mutation, errors or a stale field: `no-store`); `public`
        only when the request carried no credential and no session, else `private`. A GET
        answer that may be stored gets an `ETag`, and a matching `If-None-Match` a 304."""
        context = getattr(self, "graphql_context", None)
        max_age = None if context is None else context.max_age
        if max_age is None or response.status_code != 200:
            response["Cache-Control"] = "no-store"
            return response
        credentialed = (
            "Authorization" in request.headers or settings.SESSION_COOKIE_NAME in request.COOKIES
        )
        scope = "private" if credentialed else "public"
        freshness = f"max-age={max_age}" if max_age else "no-cache"
        response["Cache-Control"] = f"{scope}, {freshness}"
        # the answer's media type follows Accept; a token or cookie turns it private
        patch_vary_headers(response, ("Accept", "Authorization", "Cookie"))
        if request.method in ("GET", "HEAD"):
            set_response_etag(response)
            return get_conditional_response(request, etag=response["ETag"], response=response)
        return response

    async def _authenticate(self, request: HttpRequest) -> None:
        authorization = request.headers.get("Authorization")
        if authorization is not None:
            try:
                user = await authenticate_bearer(authorization)
            except InvalidApiTokenError as exc:
                raise HttpError(
                    401,
                    "UNAUTHENTICATED",
                    str(exc),
                    {"WWW-Authenticate": 'Bearer realm="graphql", error="invalid_token"'},
                ) from None

            async def token_user() -> Any:
                return user

            request.user = user
            request.auser = token_user  # type: ignore[attr-defined]
            return
        if (
            settings.SESSION_COOKIE_NAME in request.COOKIES
            and _csrf.process_view(request, None, (), {}) is not None
        ):
            raise HttpError(
                403,
                "CSRF_FAILED",
                "CSRF token missing or incorrect. A request that carries the session cookie "
                "must send the X-CSRFToken header (GraphiQL does); API clients should "
                "authenticate with a bearer token and send no session cookie.",
            )

    @staticmethod
    def _check_body_size(request: HttpRequest) -> None:
        declared = request.headers.get("Content-Length", "0")
        if declared.isdigit() and int(declared) > settings.GRAPHQL_MAX_BODY_BYTES:
            raise too_large()

    async def _run(self, request: HttpRequest) -> HttpResponseBase:
        try:
            return await self.run(request=request)
        except RequestDataTooBig:
            raise too_large() from None
        except HTTPException as exc:
            headers = {"Allow": "GET, POST"} if exc.status_code == 405 else {}
            raise HttpError(
                exc.status_code,
                STRAWBERRY_HTTP_CODES.get(exc.status_code, "BAD_REQUEST"),
                exc.reason,
                headers,
            ) from None

    def _finish(self, request: HttpRequest, response: HttpResponseBase, media_type: str) -> Any:
        if not response.get("Content-Type", "").startswith(APPLICATION_JSON):
            return response  # GraphiQL's page
        response["Content-Type"] = f"{media_type}; charset=utf-8"
        outcome = getattr(request, "graphql_outcome", None)
        if outcome == "persisted_query":
            # As Apollo Server does: 200 so no proxy or client error handling hides the body
            # the persisted-query link reads, and never cached (the retry registers it).
            response["Cache-Control"] = "private, no-cache, must-revalidate"
            return response
        if outcome == "request_error" and media_type == GRAPHQL_RESPONSE_JSON:
            response.status_code = 400
        return self._cache_headers(request, response)

    def should_render_graphql_ide(self, request: Any) -> bool:
        """A browser opening the page. Strawberry says so for any GET without `query` that
        accepts */* or HTML; a hash-only APQ GET is an API call."""
        return super().should_render_graphql_ide(request) and (
            request.query_params.get("extensions") is None
        )

    async def parse_http_body(self, request: Any) -> Any:
        try:
            data = await super().parse_http_body(request)
        except HTTPException as exc:
            if exc.reason == "Unsupported content type":
                raise HttpError(
                    415,
                    "UNSUPPORTED_MEDIA_TYPE",
                    "POST bodies must be application/json (GraphQL over HTTP).",
                ) from None
            raise
        if isinstance(data, GraphQLRequestData) and not isinstance(data.operation_name, str | None):
            raise HttpError(
                400, "BAD_REQUEST", "The request's `operationName` must be a string or null."
            )
        return data

    def decode_json(self, data: str | bytes) -> object:
        """JSON as GraphQL over HTTP allows it: UTF-8 text, nested at most MAX_JSON_DEPTH
        deep, no unpaired surrogates, and a POST body must be an object (a list would be a
        batch, refused as such). Anything else is a 400 that names the problem. The body
        arrives as bytes; `variables` and `extensions` from a GET's query string as text."""
        body = isinstance(data, bytes)
        if isinstance(data, bytes):
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError:
                raise HttpError(
                    400, "BAD_REQUEST", "The request body is not UTF-8 encoded JSON."
                ) from None
        try:
            value = json.loads(data)
        except RecursionError:
            problem: str | None = f"The request's JSON nests deeper than {MAX_JSON_DEPTH} levels."
        else:
            problem = json_problem(value)
        if problem is not None:
            raise HttpError(400, "BAD_REQUEST", problem)
        if body and not isinstance(value, dict | list):
            raise HttpError(
                400,
                "BAD_REQUEST",
                "The request body must be a JSON object with `query` and optionally "
                "`variables`, `operationName` and `extensions`.",
            )
        return value

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as exc:
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                raise HttpError(
                    405,
                    "METHOD_NOT_ALLOWED",
                    f"{exc.reason}: send mutations with POST.",
                    {"Allow": "POST"},
                ) from None
            raise

    async def process_result(
        self, request: HttpRequest, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        processed = await super().process_result(request, result)
        if is_request_error(result):
            codes = {(e.extensions or {}).get("code") for e in result.errors or ()}
            request.graphql_outcome = (  # type: ignore[attr-defined]
                "persisted_query" if codes & PERSISTED_QUERY_CODES else "request_error"
            )
            # A request error means execution never began: no `data` entry (GraphQL spec).
            processed.pop("data", None)
        return processed


# Exempt from the CSRF middleware (the view applies CSRF itself, to session requests only):
# the mark `csrf_exempt` sets, put on `dispatch`, where `as_view` copies it from once. Django's
# `method_decorator(csrf_exempt)` would build a wrapper around `dispatch` on every request.
GraphQLView.dispatch.csrf_exempt = True  # type: ignore[attr-defined]


@require_safe
async def stitching_sdl(request: HttpRequest) -> HttpResponseBase:
    """`GET /graphql/stitching.graphql`: the schema with graphql-tools' stitching directives
    (schema/stitching.py), for stitching gateways; always served, like federation's
    `_service { sdl }`, whatever GRAPHQL_INTROSPECTION says (405 for other methods)."""
    response = HttpResponse(stitching_document_text(), content_type=SDL_MEDIA_TYPE)
    response["Cache-Control"] = "no-cache"
    return response
