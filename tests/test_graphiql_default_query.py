"""The query GraphiQL opens with (the demo's first impression) is valid and runs without an
error against every system's emulator: it shows each system's fields, the permits included."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command

from tests.conftest_emulators import graphql_async

TEMPLATE = (
    Path(__file__).resolve().parents[1] / "django_project/graphiql/templates/graphql/graphiql.html"
)


def default_query() -> str:
    found = re.search(r"const DEFAULT_QUERY = `(.*?)`;", TEMPLATE.read_text(), re.DOTALL)
    assert found, "graphiql.html no longer defines DEFAULT_QUERY"
    return found.group(1)


@pytest.mark.django_db(transaction=True)
async def test_the_default_query_runs_and_shows_every_system(async_client, emulators):
    await sync_to_async(call_command)("seed_demo", count=30, stdout=io.StringIO())

    body = await graphql_async(async_client, default_query())

    assert "errors" not in body, body.get("errors")
    rows = body["data"]["properties"]["results"]
    assert rows
    for field in ("listing", "owner", "taxAssessment", "location", "permits", "openViolations"):
        assert any(row[field] for row in rows), field
