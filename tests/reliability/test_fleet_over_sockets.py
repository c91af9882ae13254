"""Four uvicorn workers on one Redis, 100 concurrent clients, the same 50 cold properties: one
upstream call per system in total, counted at the emulators (data calls only).

As `make serve` runs: the app under uvicorn with 4 worker processes sharing Redis and a
Prometheus multiprocess directory, the emulators as their own process, the load from this
process over loopback. With Redis down the answers still arrive (each worker fetches for
itself) and /metrics counts it. Needs Redis: CACHE_URL when it is Redis, else
127.0.0.1:6379; skipped without one on a developer machine, a failure in CI.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis

from tests.processes import app_server, data_calls, emulators, manage, served_environment

pytestmark = pytest.mark.reliability

WORKERS = 4
CLIENTS = 100
PROPERTIES = 50
REDIS_DB = 14
QUERY = """
query Page($limit: Int!) {
  properties(pagination: {limit: $limit}) {
    results {
      parcelId
      listing { recordId agentName }
      owner { id name }
      taxAssessment { taxYear totalValue }
      location { latitude longitude }
    }
  }
}
"""


def redis_url() -> str:
    configured = os.environ.get("CACHE_URL", "")
    if configured.startswith("redis"):
        parts = urlsplit(configured)
        return f"redis://{parts.hostname}:{parts.port or 6379}/{REDIS_DB}"
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        if os.environ.get("CI"):
            pytest.fail("CI needs Redis (CACHE_URL) for the multi-worker test")
        pytest.skip("no Redis on 127.0.0.1:6379")
    return f"redis://127.0.0.1:6379/{REDIS_DB}"


@pytest.fixture(scope="module")
def stack() -> Iterator[tuple[dict[str, str], dict[str, str], Any]]:
    url = redis_url()
    with tempfile.TemporaryDirectory() as tmp:
        log = (Path(tmp) / "processes.log").open("w")
        env = served_environment(
            tmp,
            "fleet",
            CACHE_URL=url,
            METRICS="open",
            GRAPHQL_EXTERNAL_BUDGET="10",  # time is not the subject here
        )
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo", "--count", str(PROPERTIES))
        with emulators(env, log) as urls:
            env.update({f"{name.upper()}_URL": u for name, u in urls.items()})
            yield env, urls, log


def fresh(env: dict[str, str], urls: dict[str, str], tmp: str) -> dict[str, str]:
    """Cold caches and counters, and a metrics directory of this run's own."""
    parts = urlsplit(env["CACHE_URL"])
    if parts.port != 1:
        raw = Redis(host=parts.hostname, port=parts.port, db=int(parts.path.strip("/")))
        raw.flushdb()
        raw.close()
    for url in urls.values():
        httpx.post(f"{url}/_emulator/reset").raise_for_status()
    return {**env, "PROMETHEUS_MULTIPROC_DIR": tmp}


async def page_load(base: str) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:
        body = {"query": QUERY, "variables": {"limit": PROPERTIES}}
        requests = (http.post("/graphql/", json=body) for _ in range(CLIENTS))
        return list(await asyncio.gather(*requests))


def fleet_keys(base: str) -> dict[str, float]:
    text = httpx.get(f"{base}/metrics").text
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "external_fleet_keys":
            for sample in family.samples:
                if sample.name.endswith("_total"):
                    how = sample.labels["how"]
                    found[how] = found.get(how, 0) + sample.value
    return found


def assert_every_answer_complete(responses: list[httpx.Response]) -> None:
    assert [r.status_code for r in responses] == [200] * CLIENTS
    for response in responses:
        body = response.json()
        assert "errors" not in body, body["errors"][:2]
        rows = body["data"]["properties"]["results"]
        assert len(rows) == PROPERTIES
        assert all(row["listing"] is not None for row in rows)


def test_four_workers_make_one_call_per_system_for_100_clients(stack, capsys):
    env, urls, log = stack
    with tempfile.TemporaryDirectory() as metrics:
        env = fresh(env, urls, metrics)
        with app_server(env, log, workers=WORKERS) as base:
            started = time.perf_counter()
            responses = asyncio.run(page_load(base))
            wall = time.perf_counter() - started
            fleet = fleet_keys(base)
            cold_calls = data_calls(urls)
            warm = asyncio.run(page_load(base))
            warm_calls = data_calls(urls)  # before shutdown, whose FileMaker logout counts

    assert_every_answer_complete(responses)
    assert_every_answer_complete(warm)
    assert cold_calls == dict.fromkeys(urls, 1)
    assert warm_calls == cold_calls
    assert fleet.get("leased") == 4 * PROPERTIES  # each key fetched once, fleet-wide
    with capsys.disabled():
        print(  # noqa: T201 - the figures are the point of a load test
            f"\n  {WORKERS} workers, {CLIENTS} clients, {PROPERTIES} cold properties: "
            f"calls {cold_calls}, keys by how {fleet}, {wall:.2f} s wall"
        )


def test_redis_down_still_answers_and_metrics_say_so(stack):
    env, urls, log = stack
    with tempfile.TemporaryDirectory() as metrics:
        env = fresh({**env, "CACHE_URL": "redis://127.0.0.1:1/0"}, urls, metrics)
        with app_server(env, log, workers=WORKERS) as base:
            responses = asyncio.run(page_load(base))
            fleet = fleet_keys(base)

    assert_every_answer_complete(responses)
    assert fleet.get("unavailable", 0) >= 4 * PROPERTIES
    assert "leased" not in fleet
