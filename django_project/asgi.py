"""ASGI entry point: uvicorn serves `django_project.asgi:application`.

ASGI rather than WSGI because the GraphQL view, its dataloaders, the shared httpx pool and the
cache all live on one long-lived event loop; under WSGI each async view would get a one-off loop.
Django does not speak the ASGI lifespan protocol, so this module answers it: at startup the
garbage collector is tuned for a long-lived server, at shutdown the external clients log out,
their HTTP pools close and the database threads close their connections.

Database work (and any other sync code Django hands to a thread) runs on DATABASE_THREADS
long-lived threads per worker, each request keeping one of them for all its sync calls, as
Django expects. Django alone starts a new thread for every request (and a second one to join
it), and opens a new database connection in it: measured on a warm detail query, sharing the
threads raised throughput by a third at 8 concurrent clients, and it bounds the connections
a worker opens however many requests arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import django
from asgiref.sync import ThreadSensitiveContext
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.db import connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")

from django_project import tracing
from resolvers.telemetry import tracing_on
from resolvers.upstreams import close_upstreams

#: Allocations between young collections once tuned (Python's default: 700).
YOUNG_THRESHOLD = 5_000


def tune_garbage_collection() -> None:
    """Called when the worker starts serving (PYTHON_GC_TUNING, on by default).

    Everything alive by then (Django, the schema, every module: about 200,000 objects) lives
    as long as the worker; `gc.freeze()` takes it out of the collector's sight. Without it
    every full collection walked all of it, 100-150 ms each with the loop stopped, and a
    cold 1,000-row page set off one or two (in-process, 6 pages: 1.08 s of full collections;
    frozen, 0.21 s). Measured on that page (in-process, emulators at 50 ms): p50 about 900
    -> 750 ms; at 100 rows the full collections' 100-250 ms outliers are gone.

    The young collection's threshold goes from 700 allocations to YOUNG_THRESHOLD: a cold
    page's records, futures and flights live a second or so (the settled grace), long enough
    at 700 to be promoted through both generations, and each promotion brought the next full
    collection nearer (one or two per cold 1,000-row page, 52-144 ms of collection a page).
    At 5,000, cold pages against the same server at 700, alternated: N = 1000 p50 760 ->
    632 ms, N = 100 130 -> 121 ms. Memory is the price: garbage in reference cycles waits
    longer. While every response was held by one (see DjangoHandler), 5,000 put the warm
    server's peak at N = 1000 in `make bench` at 196.2 MB and 50,000 at 208-215 MB (the
    issue's bound is 200); with that cycle gone, 183.5 MB at 5,000.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])


async def _lifespan(receive: Any, send: Any, close_database: Callable[[], Awaitable[None]]) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if settings.PYTHON_GC_TUNING:
                tune_garbage_collection()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await close_upstreams()
            await close_database()
            tracing.flush()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def close_database_threads(executors: list[ThreadPoolExecutor]) -> None:
    """Close the database connections each database thread holds, on that thread (Django's
    connections are per thread), then let the threads go. With DATABASE_CONN_MAX_AGE (as
    production sets it) each thread keeps its connection between requests, and a worker
    that stopped left them to process exit."""
    loop = asyncio.get_running_loop()
    for executor in executors:
        with contextlib.suppress(RuntimeError):  # shut down already
            await loop.run_in_executor(executor, connections.close_all)
        executor.shutdown(wait=False)


class DjangoHandler(ASGIHandler):
    """Django's ASGI handler, with a disconnect listener that returns instead of raising.

    Django 5.2's `handle` runs the view and a listener for the client's disconnect as two
    tasks and ends the request when either finishes; it ignores the listener's outcome (a
    RequestAborted is caught and dropped). Raised, that exception's traceback took in the
    frame of `handle`, whose locals hold both tasks (one holding the exception) and the
    response: a reference cycle, so every response (the 2 MB of a 1,000-row page) lived on
    until a garbage collection found it, and memory followed the collector's thresholds (the
    warm server's peak through 1,000-row pages and detail bursts: 181.5 MB, and 234.7 MB with
    full collections ten times rarer; with this listener 177.2 MB). A listener that returns
    ends the request the same way and leaves no cycle holding the response (the request is
    still in Django's own: the messages storage, the lazy user). uvicorn answers `receive()`
    with `http.disconnect` as soon as the response is sent: this ran for every request.

    Django 6.1 rewrites `handle` around a TaskGroup in which only a raising listener cancels
    the view: there, and on any version but 5.2, Django's own listener runs.
    """

    async def listen_for_disconnect(self, receive: Any) -> None:
        if django.VERSION[:2] != (5, 2):
            await super().listen_for_disconnect(receive)
            return
        message = await receive()
        if message["type"] != "http.disconnect":
            raise AssertionError(f"Invalid ASGI message after request body: {message['type']}")


def build_application() -> Any:
    """A new Django ASGI handler (middleware built from the settings as they are now) behind
    our lifespan handling, and behind the tracing middleware when a tracer provider is
    installed (django_project/tracing.py). Tests that change settings build their own."""
    django.setup(set_prefix=False)  # what get_asgi_application does before its handler
    django_application = DjangoHandler()
    # One thread per executor: a request's sync calls all run on the thread it was given.
    executors = [
        ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"database-{n}")
        for n in range(settings.DATABASE_THREADS)
    ]
    turns = itertools.cycle(executors)

    async def close_database() -> None:
        await close_database_threads(executors)

    async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, close_database)
        else:
            async with ThreadSensitiveContext(executor=next(turns)):
                await django_application(scope, receive, send)

    # the tracing middleware passes lifespan messages through untouched
    served = tracing.traced(application) if tracing_on() else application
    served.close_database = close_database  # for tests that run no lifespan
    return served


if tracing.tracing_configured() and not tracing_on():
    tracing.install_tracing()
application = build_application()
