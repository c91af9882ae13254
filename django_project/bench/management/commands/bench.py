"""`python manage.py bench`: measure the product against its floors and a naive baseline.

Everything runs in one go on this machine: every system's emulator (a process each, a set
latency per call), a seeded SQLite database of its own, and three app servers under uvicorn
(one with every cache TTL at 0, so each query is cold; one with the normal TTLs; one with
tracing on), plus a load generator here. The queries ask for every external system's field
(django_project/bench/queries.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from prometheus_client.parser import text_string_to_metric_families

from django_project.bench.floors import strawberry_floor, upstream_floor
from django_project.bench.queries import detail_query, page_query
from django_project.bench.stack import Server, spans_exported, stack
from resolvers.registry import loader_classes

#: Clients in the concurrent warm burst (the concurrency issue's 150 detail clients).
BURST = 150


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class Command(BaseCommand):
    help = (
        "Benchmark cold and warm queries against their floors, a plain Django view and a naive "
        "baseline, with the emulators at a set latency. Prints a table; --json writes figures."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
        parser.add_argument("--latency-ms", type=float, default=50.0)
        parser.add_argument("--runs", type=int, default=7, help="Timed queries per figure.")
        parser.add_argument("--requests", type=int, default=400, help="Requests per rps figure.")
        parser.add_argument("--naive-max", type=int, default=1000, help="Largest N for naive.")
        parser.add_argument("--json", dest="json_path", help="Also write the figures here.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.FILEMAKER["database"]:
            raise CommandError(
                "FILEMAKER_DATABASE is blank: run `make bench`, which loads the demo settings "
                "from .env.example, or set the demo credentials yourself."
            )
        # The floor's calls, and the legacy rows its client skips, are not news here.
        logging.getLogger("clients").setLevel(logging.ERROR)
        size = max(options["sizes"])
        with stack(size, options["latency_ms"], log=self.stderr.write) as servers:
            report = asyncio.run(self._measure(*servers, options))
        self._print(report, options)
        # counted once the traced server has stopped (it exports what it buffered then)
        self.stdout.write(f"Spans the traced server exported: {spans_exported()}")
        if options["json_path"]:
            Path(options["json_path"]).write_text(json.dumps(report, indent=2) + "\n")
            self.stdout.write(f"Figures written to {options['json_path']}")

    # -- the measurements -----------------------------------------------------------------------

    async def _measure(
        self,
        cold: Server,
        warm: Server,
        traced: Server,
        targets: dict[str, dict[str, str]],
        options: dict[str, Any],
    ) -> dict[str, Any]:
        report: dict[str, Any] = {}
        runs = options["runs"]
        async with httpx.AsyncClient(timeout=600) as http:
            for n in options["sizes"]:
                # Peak RSS per N: the warm server's high-water mark restarts at each size.
                warm.reset_peak_rss()
                self.stderr.write(f"N = {n}: cold queries ...")
                await self._query(http, cold.url, n)  # sessions and connections open
                calls_cold = await self._calls(http, cold.url, self._query(http, cold.url, n))
                cold_times = [
                    await self._timed(self._query(http, cold.url, n)) for _ in range(runs)
                ]

                self.stderr.write(f"N = {n}: floors ...")
                upstream_ms = await upstream_floor(n, targets, runs)

                self.stderr.write(f"N = {n}: warm queries ...")
                body = await self._query(http, warm.url, n)
                calls_warm = await self._calls(http, warm.url, self._query(http, warm.url, n))
                warm_times = [
                    await self._timed(self._query(http, warm.url, n)) for _ in range(runs)
                ]
                rows = body["data"]["properties"]["results"]
                warm_floor = strawberry_floor(rows, page_query(), runs)

                naive_ms = None
                if n <= options["naive_max"]:
                    fields = len(loader_classes())
                    self.stderr.write(
                        f"N = {n}: naive baseline ({fields} x {n} sequential calls) ..."
                    )
                    naive_ms = await self._timed(
                        http.get(f"{warm.url}/bench/naive", params={"limit": n})
                    )

                self.stderr.write(f"N = {n}: requests per second ...")
                ids = [r["id"] for r in body["data"]["properties"]["results"]][:50]
                await self._same_answer(http, warm.url, ids[0])
                rps_warm, rps_plain, rps_strawberry, rps_traced = {}, {}, {}, {}
                for concurrency in (1, 8, 32):
                    rps_warm[str(concurrency)] = await self._rps(
                        http, warm.url, ids, concurrency, options["requests"], "graphql"
                    )
                    rps_plain[str(concurrency)] = await self._rps(
                        http, warm.url, ids, concurrency, options["requests"], "plain"
                    )
                    # the same query through strawberry's own view and nothing of ours
                    rps_strawberry[str(concurrency)] = await self._rps(
                        http, warm.url, ids, concurrency, options["requests"], "strawberry"
                    )
                    # the same queries on a server with tracing on, exporting every request
                    rps_traced[str(concurrency)] = await self._rps(
                        http, traced.url, ids, concurrency, options["requests"], "graphql"
                    )

                self.stderr.write(f"N = {n}: {BURST} concurrent warm detail clients ...")
                burst = await self._burst(warm.url, ids)

                cold_p50, warm_p50 = statistics.median(cold_times), statistics.median(warm_times)
                cold_floor = max(upstream_ms.values()) + warm_p50
                report[str(n)] = {
                    "upstream_calls_cold": calls_cold,
                    "upstream_calls_warm": sum(calls_warm.values()),
                    "upstream_floor_ms": {k: round(v, 1) for k, v in upstream_ms.items()},
                    "cold_p50_ms": round(cold_p50, 1),
                    "cold_p95_ms": round(percentile(cold_times, 0.95), 1),
                    "cold_floor_ms": round(cold_floor, 1),
                    "cold_ratio": round(cold_p50 / cold_floor, 2),
                    "warm_p50_ms": round(warm_p50, 1),
                    "warm_p95_ms": round(percentile(warm_times, 0.95), 1),
                    "warm_floor_ms": round(warm_floor, 1),
                    "warm_ratio": round(warm_p50 / warm_floor, 2),
                    "naive_p50_ms": None if naive_ms is None else round(naive_ms, 1),
                    "naive_speedup": None if naive_ms is None else round(naive_ms / cold_p50, 1),
                    "rps_warm": rps_warm,
                    "rps_plain": rps_plain,
                    "rps_strawberry": rps_strawberry,
                    "plain_ratio": {c: round(rps_warm[c] / rps_plain[c], 2) for c in rps_warm},
                    "strawberry_ratio": {
                        c: round(rps_warm[c] / rps_strawberry[c], 2) for c in rps_warm
                    },
                    "rps_traced": rps_traced,
                    "traced_ratio": {c: round(rps_traced[c] / rps_warm[c], 2) for c in rps_traced},
                    "burst_warm": burst,
                    "peak_rss_mb": round(warm.peak_rss_mb(), 1),
                }
        return report

    async def _query(self, http: httpx.AsyncClient, url: str, n: int) -> dict[str, Any]:
        response = await http.post(
            f"{url}/graphql/", json={"query": page_query(), "variables": {"limit": n}}
        )
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"benchmark query failed: {str(body)[:300]}")
        return body

    @staticmethod
    async def _timed(awaitable: Any) -> float:
        started = time.perf_counter()
        await awaitable
        return (time.perf_counter() - started) * 1000

    async def _calls(self, http: httpx.AsyncClient, server: str, run: Any) -> dict[str, int]:
        """Upstream calls (HTTP exchanges, SQL statements) `run` caused, per system, from
        the server's own metrics."""

        async def totals() -> dict[str, float]:
            text = (await http.get(f"{server}/metrics")).text
            found: dict[str, float] = dict.fromkeys(settings.EXTERNAL_SYSTEMS, 0.0)
            for family in text_string_to_metric_families(text):
                if family.name == "upstream_calls":
                    for sample in family.samples:
                        if sample.name == "upstream_calls_total":
                            service = sample.labels["service"]
                            found[service] = found.get(service, 0.0) + sample.value
            return found

        before = await totals()
        await run
        after = await totals()
        return {name: round(after[name] - before[name]) for name in after}

    @staticmethod
    async def _same_answer(http: httpx.AsyncClient, url: str, pk: str) -> None:
        """The strawberry-only baseline must answer the detail query as the product does."""
        body = {"query": detail_query(), "variables": {"id": pk}}
        ours = (await http.post(f"{url}/graphql/", json=body)).json()
        theirs = (await http.post(f"{url}/bench/strawberry/", json=body)).json()
        if ours != theirs:
            raise RuntimeError(f"the baselines differ: {str(ours)[:300]} / {str(theirs)[:300]}")

    async def _rps(
        self,
        http: httpx.AsyncClient,
        url: str,
        ids: list[str],
        concurrency: int,
        total: int,
        kind: str,
    ) -> float:
        """Warm detail requests per second: the product's GraphQL (`graphql`), the plain view
        (`plain`) or strawberry's own view (`strawberry`), all answering from the same cache."""
        queue = list(range(total))
        detail = detail_query()
        path = {"graphql": "/graphql/", "strawberry": "/bench/strawberry/"}.get(kind)

        async def worker() -> None:
            while queue:
                i = queue.pop()
                pk = ids[i % len(ids)]
                if path is not None:
                    r = await http.post(
                        f"{url}{path}", json={"query": detail, "variables": {"id": pk}}
                    )
                    if r.status_code == 200 and r.json().get("errors"):
                        raise RuntimeError(f"errors from {r.url}: {r.text[:300]}")
                else:
                    r = await http.get(f"{url}/bench/plain/{pk}")
                if r.status_code != 200:
                    raise RuntimeError(f"{r.status_code} from {r.url}")

        for pk in ids:  # warm the detail query's cache entries
            await http.post(f"{url}/graphql/", json={"query": detail, "variables": {"id": pk}})
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return round(total / (time.perf_counter() - started), 1)

    @staticmethod
    async def _burst(url: str, ids: list[str]) -> dict[str, float]:
        """BURST clients, each sending one warm detail query at once (connections opened
        first): p50 and p99 latency, and answers per second over the burst.

        One httpx client per connection, as BURST browsers would be: one client holding 150
        connections spends more CPU choosing among them than the server spends answering
        (measured here: about 31 answers per second that way against about 210 with a
        client each, and about 280 from raw sockets)."""
        detail = detail_query()
        clients = [httpx.AsyncClient(timeout=60) for _ in range(BURST)]
        try:
            await asyncio.gather(*(http.get(f"{url}/healthz") for http in clients))

            async def one(i: int, http: httpx.AsyncClient) -> float:
                body = {"query": detail, "variables": {"id": ids[i % len(ids)]}}
                started = time.perf_counter()
                r = await http.post(f"{url}/graphql/", json=body)
                if r.status_code != 200 or r.json().get("errors"):
                    raise RuntimeError(f"burst request failed: {r.status_code} {r.text[:200]}")
                return (time.perf_counter() - started) * 1000

            started = time.perf_counter()
            latencies = sorted(
                await asyncio.gather(*(one(i, http) for i, http in enumerate(clients)))
            )
            wall = time.perf_counter() - started
        finally:
            await asyncio.gather(*(http.aclose() for http in clients))
        return {
            "p50_ms": round(statistics.median(latencies), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1),
            "rps": round(BURST / wall, 1),
        }

    # -- output -----------------------------------------------------------------------------

    def _print(self, report: dict[str, Any], options: dict[str, Any]) -> None:
        latency, runs = options["latency_ms"], options["runs"]
        self.stdout.write(f"\nEmulator latency {latency:g} ms per call; {runs} runs per figure.")
        systems = list(next(iter(report.values()))["upstream_calls_cold"])

        def per_system(calls: dict[str, int]) -> str:
            return " / ".join(str(calls.get(name, 0)) for name in systems)

        self.stdout.write("Upstream calls per system: " + " / ".join(systems) + ".")
        rows = [
            ("upstream calls, cold query", lambda r: per_system(r["upstream_calls_cold"])),
            ("upstream calls, warm query", lambda r: r["upstream_calls_warm"]),
            ("cold p50 / p95 ms", lambda r: f"{r['cold_p50_ms']} / {r['cold_p95_ms']}"),
            ("cold floor ms (ratio)", lambda r: f"{r['cold_floor_ms']} ({r['cold_ratio']}x)"),
            ("warm p50 / p95 ms", lambda r: f"{r['warm_p50_ms']} / {r['warm_p95_ms']}"),
            ("warm floor ms (ratio)", lambda r: f"{r['warm_floor_ms']} ({r['warm_ratio']}x)"),
            ("naive ms (speed-up)", lambda r: f"{r['naive_p50_ms']} ({r['naive_speedup']}x)"),
            ("rps GraphQL c=1/8/32", lambda r: " / ".join(map(str, r["rps_warm"].values()))),
            ("rps plain view c=1/8/32", lambda r: " / ".join(map(str, r["rps_plain"].values()))),
            (
                "rps strawberry view c=1/8/32",
                lambda r: " / ".join(map(str, r["rps_strawberry"].values())),
            ),
            (
                "GraphQL / plain c=1/8/32",
                lambda r: " / ".join(f"{v}x" for v in r["plain_ratio"].values()),
            ),
            (
                "GraphQL / strawberry c=1/8/32",
                lambda r: " / ".join(f"{v}x" for v in r["strawberry_ratio"].values()),
            ),
            ("rps traced c=1/8/32", lambda r: " / ".join(map(str, r["rps_traced"].values()))),
            (
                "traced / untraced c=1/8/32",
                lambda r: " / ".join(f"{v}x" for v in r["traced_ratio"].values()),
            ),
            (
                f"{BURST} warm clients p50/p99/rps",
                lambda r: "{p50_ms} / {p99_ms} ms / {rps}".format(**r["burst_warm"]),
            ),
            ("peak RSS MB (warm server)", lambda r: r["peak_rss_mb"]),
        ]
        sizes = list(report)
        self.stdout.write(f"{'':<32}" + "".join(f"{'N = ' + n:<34}" for n in sizes))
        for label, cell in rows:
            self.stdout.write(f"{label:<32}" + "".join(f"{cell(report[n])!s:<34}" for n in sizes))
