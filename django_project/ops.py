"""Operational endpoints: /healthz (alive), /readyz (dependencies), /metrics (Prometheus)."""

from __future__ import annotations

import asyncio
import hmac
import os
import time
from collections.abc import Awaitable

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from django_project.admission import loop_state
from resolvers.cache import get_cache
from resolvers.upstreams import get_upstreams

CHECK_TIMEOUT = 1.0


@require_GET
async def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers. Nothing else is checked: a restart would not fix a dependency."""
    return JsonResponse({"status": "ok"})


def _database_ping() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def _check(probe: Awaitable[object]) -> dict[str, object]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(probe, timeout=CHECK_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; the kind is reported
        return {"ok": False, "error": type(exc).__name__}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


async def _cache_round_trip() -> None:
    cache = get_cache()
    await cache.set("readyz", "ok", ttl=10)
    if await cache.get("readyz") != "ok":
        raise RuntimeError("cache did not return what was stored")


@require_GET
async def readyz(request: HttpRequest) -> JsonResponse:
    """Ready when the database and the cache answer. External systems are reported (circuit,
    and the share of their connections in use) but do not make the app unready: it degrades
    gracefully without them. So is this worker's admission state (requests in progress, how
    late its event loop runs, whether it refuses new GraphQL requests)."""
    database = await _check(sync_to_async(_database_ping)())
    cache = await _check(_cache_round_trip())
    services = {}
    for name, client in get_upstreams().clients.items():
        since = client.breaker.seconds_since_failure()
        services[name] = {
            "circuit": client.breaker.state.value,
            "consecutiveFailures": client.breaker.consecutive_failures,
            "lastFailureSecondsAgo": None if since is None else round(since, 1),
            "connections": client.bulkhead.snapshot(),
        }
    state = loop_state()
    admission = {
        "inFlight": state.in_flight,
        "limit": settings.GRAPHQL_MAX_IN_FLIGHT,
        "loopLagMs": round(state.lag * 1000, 1),
        "saturated": state.saturated(),
    }
    ready = bool(database["ok"] and cache["ok"])
    return JsonResponse(
        {
            "ready": ready,
            "database": database,
            "cache": cache,
            "services": services,
            "admission": admission,
        },
        status=200 if ready else 503,
    )


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition, guarded by METRICS: off (404), open, or token (bearer)."""
    mode = settings.METRICS
    if mode == "off":
        return HttpResponse(status=404)
    if mode == "token":
        sent = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), settings.METRICS_TOKEN.encode()):
            return HttpResponse(
                "metrics need the bearer token", status=401, headers={"WWW-Authenticate": "Bearer"}
            )
    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
