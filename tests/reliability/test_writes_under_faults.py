"""updateListing while FileMaker fails: no write applied twice, none lost silently."""

from __future__ import annotations

import asyncio
import io

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import Permission, User
from django.core.management import call_command

from django_project.properties.models import Property
from tests.conftest_emulators import graphql_async

pytestmark = [pytest.mark.reliability, pytest.mark.django_db(transaction=True)]

UPDATE = """
mutation W($id: ID!, $modId: String!, $notes: String!) {
  updateListing(propertyId: $id, modId: $modId, input: {showingNotes: $notes}) {
    modId showingNotes
  }
}
"""
FAILURE_CODES = {
    "EXTERNAL_SERVICE_UNAVAILABLE",
    "EXTERNAL_SERVICE_TIMEOUT",
    "EXTERNAL_SERVICE_BAD_RESPONSE",
    "EXTERNAL_SERVICE_CONFLICT",
}


@pytest.fixture
async def writer(async_client, emulators):
    def setup() -> User:
        call_command("seed_demo", count=30, stdout=io.StringIO())
        user = User.objects.create_user("writer", password="writer-pass-1234")
        user.user_permissions.add(Permission.objects.get(codename="change_property"))
        return user

    await async_client.aforce_login(await sync_to_async(setup)())
    ids = [p.pk async for p in Property.objects.order_by("pk")]
    # open the FileMaker session before the faults start
    await graphql_async(async_client, f'{{ property(id: "{ids[0]}") {{ listing {{ modId }} }} }}')
    return async_client, ids, emulators["filemaker"]


@pytest.mark.parametrize(
    "faults",
    [
        {"error_rate": 0.5, "error_status": 503},  # refused before the write is applied
        {"malformed": True},  # applied, but the answer is garbage
        {"error_rate": 0.3, "error_status": 504, "latency_ms": 20},
    ],
)
async def test_each_write_is_applied_once_or_reported(writer, faults):
    client, ids, filemaker = writer
    filemaker.set_faults(**faults)

    bodies = await asyncio.gather(
        *(
            graphql_async(client, UPDATE, {"id": str(pk), "modId": "1", "notes": f"note-{i}"})
            for i, pk in enumerate(ids)
        )
    )

    patches = sum(n for route, n in filemaker.stats()["calls"].items() if route.startswith("PATCH"))
    assert patches == len(ids)  # never resent
    for index, body in enumerate(bodies):
        applied = filemaker.edits.get(index, {}).get("Showing Notes") == f"note-{index}"
        mod_id = filemaker.mod_ids.get(index, 1)
        assert mod_id in {1, 2}  # at most one write applied
        assert applied == (mod_id == 2)
        if body.get("errors"):
            assert body["data"]["updateListing"] is None
            assert body["errors"][0]["extensions"]["code"] in FAILURE_CODES
        else:
            # reported as done: it is done
            assert applied
            assert body["data"]["updateListing"] == {"modId": "2", "showingNotes": f"note-{index}"}


async def test_concurrent_writers_on_one_listing_one_wins_one_conflicts(writer):
    client, ids, filemaker = writer

    first, second = await asyncio.gather(
        graphql_async(client, UPDATE, {"id": str(ids[0]), "modId": "1", "notes": "A"}),
        graphql_async(client, UPDATE, {"id": str(ids[0]), "modId": "1", "notes": "B"}),
    )

    outcomes = sorted(
        "ok" if not b.get("errors") else b["errors"][0]["extensions"]["code"]
        for b in (first, second)
    )
    assert outcomes == ["EXTERNAL_SERVICE_CONFLICT", "ok"]
    assert filemaker.mod_ids[0] == 2
