"""Fixtures for client tests: no sleeping retries, a real httpx client, respx in front of it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import stamina


@pytest.fixture(autouse=True)
def no_backoff_sleep() -> Iterator[None]:
    """Retries run at once; our backoff hook still computes (and logs) the wait it asks for."""
    with stamina.set_testing(True, attempts=3, cap=True):
        yield


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
