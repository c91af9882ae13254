"""Fixtures for client tests: a real httpx client, respx in front of it, call records."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def client_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="clients")
    return caplog


def call_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Records of upstream calls (each carries duration_ms)."""
    return [r for r in caplog.records if hasattr(r, "duration_ms")]


def assert_no_secret_in_logs(caplog: pytest.LogCaptureFixture, *secrets: str) -> None:
    for record in caplog.records:
        text = record.getMessage() + " " + " ".join(str(v) for v in vars(record).values())
        for secret in secrets:
            assert secret not in text, f"secret leaked in log record {record.getMessage()!r}"
