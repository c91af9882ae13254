"""`python manage.py emulators` serves all four on loopback and prints `service URL` lines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.core.management import CommandError, call_command

from django_project.bench.stack import free_port
from django_project.operations.management.commands.emulators import parse_fault

ROOT = Path(__file__).resolve().parents[2]


def test_serves_all_four_with_the_configured_credentials_and_faults():
    ports = {name: free_port() for name in ("filemaker", "salesforce", "tax-assessor", "geocoder")}
    args = [f"--{name}-port={port}" for name, port in ports.items()]
    env = {**os.environ, "DEBUG": "1", "TAX_ASSESSOR_APP_TOKEN": "cmd-test-token"}
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "emulators", *args, "--fault", "geocoder:error_rate=1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline().strip() for _ in range(4)]
        tax = f"http://127.0.0.1:{ports['tax-assessor']}"
        refused = httpx.get(f"{tax}/resource/uzyt-m557.json", headers={"X-App-Token": "other"})
        accepted = httpx.get(
            f"{tax}/resource/uzyt-m557.json",
            params={"$where": "pin in('1')"},
            headers={"X-App-Token": "cmd-test-token"},
        )
        geocoder = httpx.get(f"http://127.0.0.1:{ports['geocoder']}/_emulator/faults").json()
    finally:
        process.terminate()
        process.wait(timeout=10)

    assert lines == [
        f"filemaker http://127.0.0.1:{ports['filemaker']}",
        f"salesforce http://127.0.0.1:{ports['salesforce']}",
        f"tax_assessor http://127.0.0.1:{ports['tax-assessor']}",
        f"geocoder http://127.0.0.1:{ports['geocoder']}",
    ]
    assert refused.status_code == 403
    assert accepted.status_code == 200
    assert geocoder["error_rate"] == 1


def test_fault_flags_are_parsed_as_json():
    assert parse_fault("salesforce:quota_exhausted=true") == ("salesforce", "quota_exhausted", True)
    assert parse_fault("geocoder:error_status=429") == ("geocoder", "error_status", 429)
    with pytest.raises(CommandError, match="SERVICE:KEY=VALUE"):
        parse_fault("mainframe:hang=true")


def test_only_serves_the_systems_named():
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "emulators", "--only", "geocoder", f"--geocoder-port={port}"],
        cwd=ROOT,
        env={**os.environ, "DEBUG": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline().strip()
        stats = httpx.get(f"http://127.0.0.1:{port}/_emulator/stats")
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=10)

    assert line == f"geocoder http://127.0.0.1:{port}"
    assert stats.status_code == 200
    assert out == ""  # nothing else was served


def test_a_fault_for_a_system_left_out_is_refused():
    with pytest.raises(CommandError, match="not among --only"):
        call_command("emulators", "--only", "geocoder", "--fault", "salesforce:hang=true")
