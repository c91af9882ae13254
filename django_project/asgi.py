"""ASGI entry point: uvicorn serves `django_project.asgi:application`.

ASGI rather than WSGI because the GraphQL view, its dataloaders, the shared httpx pool and the
cache all live on one long-lived event loop; under WSGI each async view would get a one-off loop.
Django does not speak the ASGI lifespan protocol, so this module answers it: at shutdown the
external clients log out and the shared HTTP pool closes.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")

from resolvers.upstreams import close_upstreams


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await close_upstreams()
            await send({"type": "lifespan.shutdown.complete"})
            return


def build_application() -> Any:
    """A new Django ASGI handler (middleware built from the settings as they are now) behind
    our lifespan handling. Tests that change settings build their own."""
    django_application = get_asgi_application()

    async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        else:
            await django_application(scope, receive, send)

    return application


application = build_application()
