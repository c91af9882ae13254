"""Fields that return properties load their rows' external values first (schema/prefetch.py),
so each external field resolves as a plain value, without a coroutine or task of its own.

Counted by wrapping the async path (`resolve_external`): a field that took it was not in hand.
Upstream traffic is counted at the in-process emulators.
"""

from __future__ import annotations

import io

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command

from django_project.properties.models import Property
from resolvers import fields
from schema import external, legacy_permits, queries
from schema.direct import DIRECT
from tests.conftest_emulators import calls, graphql_async

pytestmark = pytest.mark.django_db(transaction=True)

PAGE = """
query Page($limit: Int!, $skipTax: Boolean! = false) {
  properties(pagination: {limit: $limit}) {
    results {
      id
      listing { recordId agentName }
      ...Owner
      ... on Property { location { latitude } }
      taxAssessment @skip(if: $skipTax) { taxYear }
    }
  }
}
fragment Owner on Property { owner { id name } }
"""

LOOKUPS = """
query Lookups($ids: [ID!]!, $one: ID!) {
  propertiesByIds(ids: $ids) { id listing { recordId } owner { id } }
  property(id: $one) { id taxAssessment { taxYear } location { latitude } }
}
"""


@pytest.fixture
def async_path(monkeypatch) -> list[str]:
    """Records every external field that had to be awaited."""
    taken: list[str] = []
    original = fields.resolve_external

    async def counting(info, loader, key):
        taken.append(info.field_name)
        return await original(info, loader, key)

    monkeypatch.setattr(external, "resolve_external", counting)
    monkeypatch.setattr(legacy_permits, "resolve_external", counting)
    return taken


def seed(count: int) -> None:
    call_command("seed_demo", count=count, stdout=io.StringIO())


async def test_a_page_resolves_its_external_fields_in_hand_cold_and_warm(
    async_client, emulators, async_path, monkeypatch
):
    await sync_to_async(seed)(50)

    cold = await graphql_async(async_client, PAGE, {"limit": 50})
    warm = await graphql_async(async_client, PAGE, {"limit": 50})

    assert "errors" not in cold
    assert warm == cold
    rows = cold["data"]["properties"]["results"]
    assert len(rows) == 50
    assert [
        n for n in ("listing", "owner", "location", "taxAssessment") if rows[0][n] is None
    ] == []
    assert async_path == []  # 400 fields, none awaited one by one
    for name in ("filemaker", "salesforce", "tax_assessor", "geocoder"):
        assert calls(emulators[name]) == 1, name

    # the same page without the prefetch takes the async path field by field, same answer
    monkeypatch.setattr(queries, "prefetch_rows", no_prefetch)
    assert await graphql_async(async_client, PAGE, {"limit": 50}) == cold
    assert len(async_path) == 200


async def no_prefetch(info, rows) -> None:
    return None


async def test_a_skipped_field_is_not_prefetched(async_client, emulators, async_path):
    await sync_to_async(seed)(5)

    body = await graphql_async(async_client, PAGE, {"limit": 5, "skipTax": True})

    assert "errors" not in body
    assert all("taxAssessment" not in row for row in body["data"]["properties"]["results"])
    assert calls(emulators["tax_assessor"]) == 0
    assert calls(emulators["filemaker"]) == 1


async def test_lookups_resolve_their_external_fields_in_hand(async_client, emulators, async_path):
    await sync_to_async(seed)(10)
    ids = await sync_to_async(
        lambda: [str(pk) for pk in Property.objects.values_list("pk", flat=True)]
    )()

    body = await graphql_async(async_client, LOOKUPS, {"ids": [*ids, "999999"], "one": ids[2]})

    assert "errors" not in body
    found = body["data"]["propertiesByIds"]
    assert [row["id"] if row else None for row in found] == [*ids, None]
    assert found[0]["listing"] is not None
    assert found[0]["owner"] is not None
    assert body["data"]["property"]["taxAssessment"] is not None
    assert async_path == []
    for name in ("filemaker", "salesforce", "tax_assessor", "geocoder"):
        assert calls(emulators[name]) == 1, name


async def test_a_failing_system_still_nulls_only_its_fields_in_hand(
    async_client, emulators, async_path
):
    await sync_to_async(seed)(5)
    emulators["salesforce"].set_faults(error_rate=1.0, error_status=503)

    body = await graphql_async(async_client, PAGE, {"limit": 5})

    rows = body["data"]["properties"]["results"]
    assert all(row["owner"] is None and row["listing"] for row in rows)
    codes = {(e["path"][-1], e["extensions"]["code"]) for e in body["errors"]}
    assert codes == {("owner", "EXTERNAL_SERVICE_UNAVAILABLE")}
    assert len(body["errors"]) == 5
    assert async_path == []


def test_graphql_core_calls_the_external_fields_resolvers_directly():
    """No strawberry wrapper per field and row around them (schema/external.py)."""
    from schema import schema

    declared = {}
    for name, field in schema._schema.type_map["Property"].fields.items():
        metadata = field.extensions["strawberry-definition"].metadata or {}
        if DIRECT in metadata:
            declared[name] = field.resolve is metadata[DIRECT]

    assert declared == dict.fromkeys(
        ["listing", "owner", "taxAssessment", "location", "permits", "openViolations"], True
    )
