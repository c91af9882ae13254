"""The processes the benchmark measures: every system's emulator and three app servers (cold,
warm, and warm with tracing on, exporting to an OTLP sink here)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from emulators.registry import emulator_class, serves_http

ROOT = Path(settings.BASE_DIR)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    """Poll `url` until it answers below 500 (start-up; generous by design)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code < 500:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not start")


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str

    def _status(self, field: str) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(x for x in status.splitlines() if x.startswith(f"{field}:"))
        return int(line.split()[1]) / 1024

    def peak_rss_mb(self) -> float:
        """The highest resident memory since start, or since the last `reset_peak_rss`."""
        return self._status("VmHWM")

    def reset_peak_rss(self) -> None:
        """Start the high-water mark again from the current RSS (Linux: clear_refs 5)."""
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")


#: What an OTLP sink calls with each export it receives (the request, its URL path).
OnExport = Callable[[ExportTraceServiceRequest, str], None]


class _OtlpReceiver(BaseHTTPRequestHandler):
    """Accepts an OTLP/HTTP trace export, hands it to the server's `on_export`, answers as a
    collector does."""

    def do_POST(self) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        self.server.on_export(request, self.path)  # type: ignore[attr-defined]
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def otlp_sink(on_export: OnExport) -> Iterator[str]:
    """A collector's stand-in on a free loopback port, decoding every export with
    OpenTelemetry's own protobuf classes; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OtlpReceiver)
    server.on_export = on_export  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


class _SpanCount:
    """Counts the spans exported to the bench's sink and keeps nothing: what tracing costs
    the server is the exporting, not the collector's work."""

    def __init__(self) -> None:
        self.total = 0
        self._lock = threading.Lock()

    def __call__(self, request: ExportTraceServiceRequest, path: str) -> None:
        found = sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
        with self._lock:
            self.total += found


_exported = _SpanCount()


def spans_exported() -> int:
    return _exported.total


@contextlib.contextmanager
def stack(
    count: int, latency_ms: float, log: Any = None
) -> Iterator[tuple[Server, Server, Server, dict[str, dict[str, str]]]]:
    """A seeded SQLite database, the emulators at `latency_ms` per call, each database's
    stand-in (seeded files), a cold server (every cache TTL 0), a warm one, and a warm one
    with tracing on (every request traced and exported to an OTLP sink in this process).
    Yields (cold, warm, traced, and per system the client settings that point at its
    emulator or stand-in)."""
    systems = list(settings.EXTERNAL_SYSTEMS)
    http_systems = [name for name in systems if serves_http(name)]
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    ports = {name: free_port() for name in http_systems}
    emulators = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    targets: dict[str, dict[str, str]] = {
        **{name: {"base_url": url} for name, url in emulators.items()},
        **{
            name: emulator_class(name).standalone(workdir, count)
            for name in systems
            if name not in emulators
        },
    }
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "bench-only-secret-key-not-for-production",
        "DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}",
        "CACHE_URL": "memory://",
        "GRAPHQL_MAX_PAGE_SIZE": str(max(count, 100)),
        # Pages past the default limits are the point here (N = 1000 costs about 5,700).
        "GRAPHQL_MAX_COST": str(10 * max(count, 100) + 10_000),
        "GRAPHQL_EXTERNAL_BUDGET": "30",
        "BENCH_VIEWS": "1",
        "METRICS": "open",
        "LOG_LEVEL": "WARNING",
        **{f"{name.upper()}_URL": url for name, url in emulators.items()},
        **{
            f"{name.upper()}_URL": target["url"]
            for name, target in targets.items()
            if "url" in target
        },
        **{f"{name.upper()}_READ_TIMEOUT": "30" for name in systems},
    }
    processes: list[subprocess.Popen[bytes]] = []
    manage = [sys.executable, str(ROOT / "manage.py")]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": ROOT}
    resources = contextlib.ExitStack()
    traced_env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": resources.enter_context(otlp_sink(_exported)),
        "OTEL_TRACES_SAMPLER": "always_on",
    }
    try:
        if log:
            log(f"Seeding {count} properties into {workdir}/bench.sqlite3 ...")
        subprocess.run([*manage, "migrate", "--noinput"], env=env, check=True, **quiet)
        subprocess.run([*manage, "seed_demo", "--count", str(count)], env=env, check=True, **quiet)
        if log:
            log(f"Starting the emulators ({latency_ms:g} ms per call) and three servers ...")
        # A process per system, as each upstream is a server of its own: in one process the
        # four answers of a cold page, due at the same moment, were built one after another
        # (the last up to 25 ms later than alone), which the upstream floor (each system
        # alone) never sees.
        emulators_started = len(processes)
        for name, port in ports.items():
            processes.append(
                subprocess.Popen(
                    [
                        *manage,
                        "emulators",
                        "--only",
                        name,
                        f"--{name.replace('_', '-')}-port={port}",
                        "--latency-ms",
                        str(latency_ms),
                    ],
                    env={**env, "DEBUG": "1"},
                    **quiet,
                )
            )
        servers = []
        for kind in ("cold", "warm", "traced"):
            port = free_port()
            extra = {f"{n.upper()}_CACHE_TTL": "0" for n in systems} if kind == "cold" else {}
            if kind == "traced":
                extra = traced_env
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
                env={**env, **extra},
                **quiet,
            )
            processes.append(process)
            servers.append(Server(process, f"http://127.0.0.1:{port}"))
        for index, url in enumerate(emulators.values(), start=emulators_started):
            wait_until_up(f"{url}/_emulator/stats", processes[index])
        for server in servers:
            wait_until_up(f"{server.url}/healthz", server.process)
        yield servers[0], servers[1], servers[2], targets
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        resources.close()
