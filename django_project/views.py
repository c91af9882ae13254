"""The GraphQL endpoint: strawberry's async Django view with our CSRF and IDE policy."""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from strawberry.django.views import AsyncGraphQLView

from resolvers.context import Context, build_context


def _no_response(request: HttpRequest) -> HttpResponseBase:  # pragma: no cover - never called
    raise AssertionError("CsrfViewMiddleware.process_view does not call get_response")


_csrf = CsrfViewMiddleware(_no_response)

HTTP_ERROR_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    415: "UNSUPPORTED_MEDIA_TYPE",
}

CSRF_FAILED = {
    "errors": [
        {
            "message": "CSRF token missing or incorrect. A request that carries the session "
            "cookie must send the X-CSRFToken header (GraphiQL does); API clients should send "
            "no session cookie.",
            "extensions": {"code": "CSRF_FAILED"},
        }
    ]
}


def _too_large() -> JsonResponse:
    limit = settings.GRAPHQL_MAX_BODY_BYTES
    return JsonResponse(
        {
            "errors": [
                {
                    "message": f"Request body is over the {limit}-byte limit.",
                    "extensions": {"code": "REQUEST_TOO_LARGE"},
                }
            ]
        },
        status=413,
    )


@method_decorator(csrf_exempt, name="dispatch")
class GraphQLView(AsyncGraphQLView):
    """CSRF applies to cookie-authenticated requests only.

    A browser holding our session cookie (GraphiQL, same-site front ends) must send the CSRF
    token, as GraphiQL does. A request without the session cookie carries no ambient
    credential a forged cross-site form could ride on, so servers, gateways and curl can POST
    without first fetching a token.
    """

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("graphql_ide", "graphiql" if settings.GRAPHIQL_ENABLED else None)
        super().__init__(**kwargs)

    async def get_context(self, request: HttpRequest, response: Any) -> Context:
        return build_context(request, response)

    async def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if (
            settings.SESSION_COOKIE_NAME in request.COOKIES
            and _csrf.process_view(request, None, (), {}) is not None
        ):
            return JsonResponse(CSRF_FAILED, status=403)
        declared = request.headers.get("Content-Length", "0")
        if declared.isdigit() and int(declared) > settings.GRAPHQL_MAX_BODY_BYTES:
            return _too_large()
        try:
            return await self.run(request=request)
        except RequestDataTooBig:
            return _too_large()
        except HTTPException as exc:
            # Strawberry answers these in text/plain; clients (GraphiQL included) expect JSON.
            code = HTTP_ERROR_CODES.get(exc.status_code, "BAD_REQUEST")
            return JsonResponse(
                {"errors": [{"message": exc.reason, "extensions": {"code": code}}]},
                status=exc.status_code,
            )
