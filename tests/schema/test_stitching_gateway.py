"""Our schema stitched with a second one by an unmodified graphql-tools gateway, both ways a
stitching gateway batches: 60 reviews each pointing at a different property, one gateway
query, at most one upstream call per system (counted at the emulators, data calls only).

tests/federation/stitching_gateway.mjs uses @graphql-tools/stitch and its stitching
directives from the npm registry (pinned in tests/federation/package.json; `make test`
installs them). Needs Node.js: skipped without it on a developer machine, a failure in CI.
"""

from __future__ import annotations

import io
import json
import os
import subprocess

import pytest
from django.core.management import call_command

from django_project.properties.models import Property
from tests.conftest import NODE_PEERS as PEERS
from tests.conftest import node_with, serve_asgi
from tests.conftest_emulators import calls, http_only

pytestmark = pytest.mark.django_db(transaction=True)

REVIEWS = 60


def stitched(node: str, app_url: str, mode: str, ids: list[str]) -> dict:
    result = subprocess.run(  # noqa: S603 - our own script with fixed arguments
        [node, "stitching_gateway.mjs"],
        cwd=PEERS,
        env={
            **os.environ,
            "PROPERTIES_URL": f"{app_url}/graphql/",
            "MODE": mode,
            "IDS": ",".join(ids),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode", ["keys", "batch"])
def test_sixty_merged_properties_cost_one_call_per_system(emulators_sync, settings, mode):
    node = node_with("@graphql-tools/stitch")
    settings.UPSTREAM_BATCH_WINDOW_MS = 0  # the request batches by itself, no help from others
    call_command("seed_demo", count=REVIEWS, stdout=io.StringIO())
    ids = [str(pk) for pk in Property.objects.order_by("pk").values_list("pk", flat=True)]
    systems = http_only(emulators_sync)

    with serve_asgi() as app_url:
        body = stitched(node, app_url, mode, ids)

    assert "errors" not in body, body["errors"][:3]
    reviews = body["data"]["reviews"]
    assert [r["property"]["id"] for r in reviews] == ids
    assert all(r["property"]["listing"]["agentName"] for r in reviews)
    assert all(r["property"]["taxAssessment"] or r["property"]["location"] for r in reviews)
    assert {name: calls(app) for name, app in systems.items()} == dict.fromkeys(systems, 1)
