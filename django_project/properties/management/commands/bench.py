"""`python manage.py bench`: measure the product against its floors and a naive baseline.

Everything runs in one go on this machine: the four emulators (one process, a set latency per
call), a seeded SQLite database of its own, and two app servers under uvicorn (one with every
cache TTL at 0, so each query is cold; one with the normal TTLs), plus a load generator here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import strawberry
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from clients.filemaker import FileMakerClient, FileMakerConfig
from clients.geocoder import Address, GeocoderConfig, GeocodingClient
from clients.salesforce import SalesforceClient, SalesforceConfig
from clients.tax_assessor import TaxAssessorClient, TaxAssessorConfig
from django_project.properties.demo_data import demo_properties

ROOT = Path(settings.BASE_DIR)
SERVICES = ("filemaker", "salesforce", "tax_assessor", "geocoder")
PAGE = """
query Page($limit: Int!) {
  properties(pagination: {limit: $limit}) {
    results {
      id parcelId
      listing { recordId agentName listingStatus }
      owner { id name }
      taxAssessment { taxYear totalValue }
      location { latitude longitude }
    }
  }
}
"""
DETAIL = """
query Detail($id: ID!) {
  property(id: $id) { id parcelId listing { recordId agentName } owner { id name }
    taxAssessment { taxYear totalValue } }
}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024


def wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


# -- strawberry's own floor: the same response from pre-built objects, executed synchronously --


@strawberry.type
class _Listing:
    record_id: str
    agent_name: str | None
    listing_status: str | None


@strawberry.type
class _Owner:
    id: str
    name: str


@strawberry.type
class _Tax:
    tax_year: int
    total_value: str | None


@strawberry.type
class _Location:
    latitude: float
    longitude: float


@strawberry.type
class _Property:
    id: str
    parcel_id: str
    listing: _Listing | None
    owner: _Owner | None
    tax_assessment: _Tax | None
    location: _Location | None


@strawberry.type
class _Page:
    results: list[_Property]


def floor_schema(rows: list[dict[str, Any]]) -> strawberry.Schema:
    def build(row: dict[str, Any]) -> _Property:
        def make(cls: Any, value: Any) -> Any:
            return None if value is None else cls(**{_snake(k): v for k, v in value.items()})

        return _Property(
            id=row["id"],
            parcel_id=row["parcelId"],
            listing=make(_Listing, row["listing"]),
            owner=make(_Owner, row["owner"]),
            tax_assessment=make(_Tax, row["taxAssessment"]),
            location=make(_Location, row["location"]),
        )

    page = _Page(results=[build(r) for r in rows])

    @strawberry.type
    class Query:
        @strawberry.field
        def properties(self, pagination: strawberry.scalars.JSON | None = None) -> _Page:
            return page

    return strawberry.Schema(query=Query)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


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
        logging.getLogger("clients").setLevel(logging.WARNING)  # the floor calls are not news
        with self._stack(max(options["sizes"]), options["latency_ms"]) as (cold, warm, emulators):
            report = asyncio.run(self._measure(cold, warm, emulators, options))
            for n in options["sizes"]:
                report[str(n)]["peak_rss_mb"] = round(warm.peak_rss_mb(), 1)
        self._print(report, options)
        if options["json_path"]:
            Path(options["json_path"]).write_text(json.dumps(report, indent=2) + "\n")
            self.stdout.write(f"Figures written to {options['json_path']}")

    # -- the stack ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _stack(
        self, count: int, latency_ms: float
    ) -> Iterator[tuple[Server, Server, dict[str, str]]]:
        workdir = Path(tempfile.mkdtemp(prefix="bench-"))
        ports = {name: free_port() for name in SERVICES}
        emulators = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        env = {
            **os.environ,
            "DEBUG": "0",
            "SECRET_KEY": os.environ.get("SECRET_KEY")
            or "bench-only-secret-key-not-for-production",
            "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
            "CACHE_URL": "memory://",
            "GRAPHQL_MAX_PAGE_SIZE": str(max(count, 100)),
            # Pages past the default limits are the point here (N = 1000 costs about 5,700).
            "GRAPHQL_MAX_COST": str(10 * max(count, 100) + 10_000),
            "GRAPHQL_EXTERNAL_BUDGET": "30",
            "BENCH_VIEWS": "1",
            "LOG_LEVEL": "WARNING",
            **{f"{name.upper()}_URL": url for name, url in emulators.items()},
            **{f"{name.upper()}_READ_TIMEOUT": "30" for name in SERVICES},
        }
        processes: list[subprocess.Popen[bytes]] = []
        manage = [sys.executable, str(ROOT / "manage.py")]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": ROOT}
        try:
            self.stderr.write(f"Seeding {count} properties into {workdir}/bench.sqlite3 ...")
            subprocess.run([*manage, "migrate", "--noinput"], env=env, check=True, **quiet)
            subprocess.run(
                [*manage, "seed_demo", "--count", str(count)], env=env, check=True, **quiet
            )
            self.stderr.write(
                f"Starting the emulators ({latency_ms:g} ms per call) and two servers ..."
            )
            emulator_args = [f"--{n.replace('_', '-')}-port={p}" for n, p in ports.items()]
            processes.append(
                subprocess.Popen(
                    [*manage, "emulators", "--latency-ms", str(latency_ms), *emulator_args],
                    env={**env, "DEBUG": "1"},
                    **quiet,
                )
            )
            servers = []
            for kind in ("cold", "warm"):
                port = free_port()
                ttl = {f"{n.upper()}_CACHE_TTL": "0" for n in SERVICES} if kind == "cold" else {}
                process = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        "django_project.asgi:application",
                        "--port",
                        str(port),
                        "--log-level",
                        "warning",
                        "--no-access-log",
                    ],
                    env={**env, **ttl},
                    **quiet,
                )
                processes.append(process)
                servers.append(Server(process, f"http://127.0.0.1:{port}"))
            for url in emulators.values():
                wait_until_up(f"{url}/_emulator/stats", processes[0])
            for server in servers:
                wait_until_up(f"{server.url}/healthz", server.process)
            yield servers[0], servers[1], emulators
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=10)

    # -- the measurements -----------------------------------------------------------------------

    async def _measure(
        self, cold: Server, warm: Server, emulators: dict[str, str], options: dict[str, Any]
    ) -> dict[str, Any]:
        report: dict[str, Any] = {}
        runs = options["runs"]
        self._emulator_urls = emulators
        async with httpx.AsyncClient(timeout=600) as http:
            for n in options["sizes"]:
                self.stderr.write(f"N = {n}: cold queries ...")
                await self._query(http, cold.url, n)  # sessions and connections open
                calls_cold = await self._calls(http, emulators, self._query(http, cold.url, n))
                cold_times = [
                    await self._timed(self._query(http, cold.url, n)) for _ in range(runs)
                ]

                self.stderr.write(f"N = {n}: floors ...")
                upstream_ms = await self._upstream_floor(n)

                self.stderr.write(f"N = {n}: warm queries ...")
                body = await self._query(http, warm.url, n)
                calls_warm = await self._calls(http, emulators, self._query(http, warm.url, n))
                warm_times = [
                    await self._timed(self._query(http, warm.url, n)) for _ in range(runs)
                ]
                warm_floor = self._strawberry_floor(body["data"]["properties"]["results"], runs)

                naive_ms = None
                if n <= options["naive_max"]:
                    self.stderr.write(f"N = {n}: naive baseline (4 x {n} sequential calls) ...")
                    naive_ms = await self._timed(
                        http.get(f"{warm.url}/bench/naive", params={"limit": n})
                    )

                self.stderr.write(f"N = {n}: requests per second ...")
                ids = [r["id"] for r in body["data"]["properties"]["results"]][:50]
                rps_warm, rps_plain = {}, {}
                for concurrency in (1, 8, 32):
                    rps_warm[str(concurrency)] = await self._rps(
                        http, warm.url, ids, concurrency, options["requests"], graphql=True
                    )
                    rps_plain[str(concurrency)] = await self._rps(
                        http, warm.url, ids, concurrency, options["requests"], graphql=False
                    )

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
                }
        return report

    async def _query(self, http: httpx.AsyncClient, url: str, n: int) -> dict[str, Any]:
        response = await http.post(
            f"{url}/graphql/", json={"query": PAGE, "variables": {"limit": n}}
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

    async def _calls(
        self, http: httpx.AsyncClient, emulators: dict[str, str], run: Any
    ) -> dict[str, int]:
        async def totals() -> dict[str, int]:
            return {
                name: (await http.get(f"{url}/_emulator/stats")).json()["total"]
                for name, url in emulators.items()
            }

        before = await totals()
        await run
        after = await totals()
        return {name: after[name] - before[name] for name in emulators}

    async def _upstream_floor(self, n: int) -> dict[str, float]:
        """Each system's batched fetch for the page's keys, timed directly against its emulator."""
        props = list(demo_properties(n))
        parcels = [p.parcel_id for p in props]
        addresses = {
            p.parcel_id: Address(p.street_address, p.city, p.state, p.postal_code) for p in props
        }
        return await self._direct_calls(parcels, addresses)

    async def _direct_calls(
        self, parcels: list[str], addresses: dict[str, Address]
    ) -> dict[str, float]:
        urls = self._emulator_urls

        def config(name: str, cls: Any) -> Any:
            values = {**getattr(settings, name.upper()), "base_url": urls[name]}
            return cls(**{**values, "read_timeout": 600})

        async with httpx.AsyncClient(timeout=600) as http:
            fm = FileMakerClient(config("filemaker", FileMakerConfig), http=http)
            sf = SalesforceClient(config("salesforce", SalesforceConfig), http=http)
            tax = TaxAssessorClient(config("tax_assessor", TaxAssessorConfig), http=http)
            geo = GeocodingClient(config("geocoder", GeocoderConfig), http=http)
            await fm.find_listings(parcel_ids=parcels[:1])
            await sf.accounts_by_parcel(parcel_ids=parcels[:1])
            calls = {
                "filemaker": fm.find_listings(parcel_ids=parcels),
                "salesforce": sf.accounts_by_parcel(parcel_ids=parcels),
                "tax_assessor": tax.get_assessments(parcel_ids=parcels),
                "geocoder": geo.geocode_batch(addresses),
            }
            timings = {name: await self._timed(call) for name, call in calls.items()}
            await fm.aclose()
        return timings

    def _strawberry_floor(self, rows: list[dict[str, Any]], runs: int) -> float:
        schema = floor_schema(rows)
        query = PAGE.replace("(pagination: {limit: $limit})", "").replace("($limit: Int!)", "")
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            result = schema.execute_sync(query)
            times.append((time.perf_counter() - started) * 1000)
            if result.errors:
                raise RuntimeError(f"floor schema failed: {result.errors}")
        return statistics.median(times)

    async def _rps(
        self,
        http: httpx.AsyncClient,
        url: str,
        ids: list[str],
        concurrency: int,
        total: int,
        *,
        graphql: bool,
    ) -> float:
        queue = list(range(total))

        async def worker() -> None:
            while queue:
                i = queue.pop()
                pk = ids[i % len(ids)]
                if graphql:
                    r = await http.post(
                        f"{url}/graphql/", json={"query": DETAIL, "variables": {"id": pk}}
                    )
                else:
                    r = await http.get(f"{url}/bench/plain/{pk}")
                if r.status_code != 200:
                    raise RuntimeError(f"{r.status_code} from {r.url}")

        for pk in ids:  # warm the detail query's cache entries
            await http.post(f"{url}/graphql/", json={"query": DETAIL, "variables": {"id": pk}})
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return round(total / (time.perf_counter() - started), 1)

    # -- output -----------------------------------------------------------------------------

    def _print(self, report: dict[str, Any], options: dict[str, Any]) -> None:
        latency, runs = options["latency_ms"], options["runs"]
        self.stdout.write(f"\nEmulator latency {latency:g} ms per call; {runs} runs per figure.")
        rows = [
            ("upstream calls, cold query", lambda r: r["upstream_calls_cold"]),
            ("upstream calls, warm query", lambda r: r["upstream_calls_warm"]),
            ("cold p50 / p95 ms", lambda r: f"{r['cold_p50_ms']} / {r['cold_p95_ms']}"),
            ("cold floor ms (ratio)", lambda r: f"{r['cold_floor_ms']} ({r['cold_ratio']}x)"),
            ("warm p50 / p95 ms", lambda r: f"{r['warm_p50_ms']} / {r['warm_p95_ms']}"),
            ("warm floor ms (ratio)", lambda r: f"{r['warm_floor_ms']} ({r['warm_ratio']}x)"),
            ("naive ms (speed-up)", lambda r: f"{r['naive_p50_ms']} ({r['naive_speedup']}x)"),
            ("rps GraphQL c=1/8/32", lambda r: " / ".join(map(str, r["rps_warm"].values()))),
            ("rps plain view c=1/8/32", lambda r: " / ".join(map(str, r["rps_plain"].values()))),
            ("peak RSS MB (warm server)", lambda r: r["peak_rss_mb"]),
        ]
        sizes = list(report)
        self.stdout.write(f"{'':<28}" + "".join(f"{'N = ' + n:<34}" for n in sizes))
        for label, cell in rows:
            self.stdout.write(f"{label:<28}" + "".join(f"{cell(report[n])!s:<34}" for n in sizes))
