"""`manage.py bench` runs end to end on a tiny size and writes every documented figure.

A smoke test of the benchmark machinery only: it asserts the figures exist and are sane, never
how fast anything is (timings on a shared machine are for the benchmark's own report).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEYS = {
    "upstream_calls_cold",
    "upstream_calls_warm",
    "cold_p50_ms",
    "cold_floor_ms",
    "cold_ratio",
    "warm_p50_ms",
    "warm_floor_ms",
    "warm_ratio",
    "naive_p50_ms",
    "naive_speedup",
    "rps_warm",
    "rps_plain",
    "rps_strawberry",
    "plain_ratio",
    "strawberry_ratio",
    "rps_traced",
    "traced_ratio",
    "peak_rss_mb",
    "burst_warm",
}


def test_bench_writes_the_documented_figures(tmp_path):
    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CACHE_URL"}}
    result = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "manage.py",
            "bench",
            "--sizes",
            "5",
            "--runs",
            "1",
            "--requests",
            "8",
            "--latency-ms",
            "5",
            "--json",
            str(out),
        ],
        cwd=ROOT,
        env={
            **env,
            "DEBUG": "1",
            "FILEMAKER_DATABASE": "BenchListings",
            "FILEMAKER_USER": "bench",
            "FILEMAKER_PASSWORD": "bench-pass",
            "SALESFORCE_CLIENT_ID": "bench-key",
            "SALESFORCE_CLIENT_SECRET": "bench-secret",
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(out.read_text())["5"]
    assert set(figures) >= KEYS
    # one data call per HTTP system; the permits database's calls are statements: one per
    # view (the status lookup table is read once per process, before the first query)
    assert figures["upstream_calls_cold"] == {
        "filemaker": 1,
        "salesforce": 1,
        "tax_assessor": 1,
        "geocoder": 1,
        "legacy_permits": 2,
    }
    assert figures["upstream_calls_warm"] == 0
    assert set(figures["rps_warm"]) == set(figures["rps_plain"]) == {"1", "8", "32"}
    assert set(figures["rps_traced"]) == {"1", "8", "32"}
    assert set(figures["rps_strawberry"]) == set(figures["strawberry_ratio"]) == {"1", "8", "32"}
    assert all(v > 0 for v in figures["rps_strawberry"].values())
    assert "GraphQL / strawberry c=1/8/32" in result.stdout
    # the traced server exported its requests' spans (by the time it stopped)
    exported = re.search(r"Spans the traced server exported: (\d+)", result.stdout)
    assert exported is not None
    assert int(exported.group(1)) > 0
    assert figures["naive_speedup"] > 1
    assert "upstream calls, cold query" in result.stdout
    burst = figures["burst_warm"]
    assert 0 < burst["p50_ms"] <= burst["p99_ms"]
    assert burst["rps"] > 0
    assert "150 warm clients p50/p99/rps" in result.stdout
