"""Django's stock middleware, run on the event loop instead of one worker thread per hook.

Under ASGI, Django runs every `MiddlewareMixin` hook through `sync_to_async`: our eight such
middlewares cost a dozen hand-offs to the request's worker thread per request, each waiting
for the GIL behind the event loop (measured: a warm detail query went from 71 to 84 requests
per second with these adapters, and GIL convoys made it worse under concurrency). These hooks
only read headers and cookies and set response headers, so they run inline here. The one hook
that can touch the database, saving a modified session, still goes to a thread.

ServeStatic checks every request's path against its files (in DEBUG through a thread and a
failed `import sniffio`): it now sees only paths under STATIC_URL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.middleware import clickjacking, common, csrf, security
from servestatic import middleware as servestatic

GetResponse = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


class _Inline:
    """Runs `process_request` and `process_response` on the loop (they must not do I/O)."""

    get_response: GetResponse

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response = None
        if hasattr(self, "process_request"):
            response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response


class SecurityMiddleware(_Inline, security.SecurityMiddleware):
    pass


class CommonMiddleware(_Inline, common.CommonMiddleware):
    pass


class XFrameOptionsMiddleware(_Inline, clickjacking.XFrameOptionsMiddleware):
    pass


class AuthenticationMiddleware(_Inline, auth.AuthenticationMiddleware):
    """Sets lazy `request.user` / `request.auser`: the user is read only when asked for."""


class MessageMiddleware(_Inline, messages.MessageMiddleware):
    """Messages live in cookies, or in the session that SessionMiddleware saves."""


class CsrfViewMiddleware(_Inline, csrf.CsrfViewMiddleware):
    """The CSRF secret is a cookie (CSRF_USE_SESSIONS is off): no I/O in any hook."""

    async def process_view(  # type: ignore[override]
        self, request: HttpRequest, callback: Any, callback_args: Any, callback_kwargs: Any
    ) -> HttpResponseBase | None:
        return super().process_view(request, callback, callback_args, callback_kwargs)


class SessionMiddleware(sessions.SessionMiddleware):
    """Loading the session is lazy and async (`request.auser()`); only saving it is sync I/O."""

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        self.process_request(request)
        response = await self.get_response(request)  # type: ignore[misc]
        session = getattr(request, "session", None)
        if session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST):
            return await sync_to_async(self.process_response)(request, response)  # type: ignore[no-any-return]
        return self.process_response(request, response)  # type: ignore[no-any-return]


class StaticFilesMiddleware(servestatic.ServeStaticMiddleware):
    """ServeStatic for paths under STATIC_URL only; every other request passes straight on."""

    def __init__(self, get_response: GetResponse, *args: Any, **kwargs: Any) -> None:
        super().__init__(get_response, *args, **kwargs)
        self._prefix = "/" + settings.STATIC_URL.strip("/") + "/"

    async def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not request.path_info.startswith(self._prefix):
            return await self.get_response(request)
        return await super().__call__(request)


__all__ = [
    "AuthenticationMiddleware",
    "CommonMiddleware",
    "CsrfViewMiddleware",
    "MessageMiddleware",
    "SecurityMiddleware",
    "SessionMiddleware",
    "StaticFilesMiddleware",
    "XFrameOptionsMiddleware",
]
