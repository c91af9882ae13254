"""Adding an external system is new files plus one registration line: a toy sixth system,
defined only in tests/toy_system/, shows up everywhere the systems are listed."""

from __future__ import annotations

import io
import sys

import pytest
import strawberry
from django.core.management import call_command
from graphql import parse

from django_project import integrations
from django_project.operations.management.commands.emulators import (
    Command as EmulatorsCommand,
)
from django_project.operations.management.commands.emulators import parse_fault
from resolvers.registry import integration
from schema.cost import estimate
from schema.registry import property_fields
from tests.toy_system import client, emulator, integration_settings, resolvers, schema


@pytest.fixture
def toy_system(settings, monkeypatch):
    """Register the toy system: its modules where each layer looks for them by name, and the
    one line (its name in EXTERNAL_SYSTEMS) with what settings.py derives from it."""
    layers = {
        "django_project.integrations": integration_settings,
        "clients": client,
        "resolvers": resolvers,
        "schema": schema,
        "emulators": emulator,
    }
    for layer, module in layers.items():
        monkeypatch.setitem(sys.modules, f"{layer}.toy", module)
    settings.EXTERNAL_SYSTEMS = [*settings.EXTERNAL_SYSTEMS, "toy"]
    derived, required = integrations.settings_for(["toy"])
    for name, value in derived.items():
        setattr(settings, name, value)
    assert required == ["TOY_URL"]


@pytest.mark.django_db(transaction=True)
async def test_readyz_and_metrics_list_the_toy_system(
    toy_system, async_client, emulators, settings
):
    settings.METRICS = "open"
    assert "toy" in emulators

    ready = (await async_client.get("/readyz")).json()
    metrics = (await async_client.get("/metrics")).content.decode()

    assert ready["services"]["toy"] == {
        "circuit": "closed",
        "consecutiveFailures": 0,
        "lastFailureSecondsAgo": None,
        "connections": {"inUse": 0, "limit": 20, "waiting": 0},
    }
    assert 'upstream_capacity{service="toy"} 20.0' in metrics
    assert integration("toy").display_name == "The toy system"


def test_the_cost_estimate_counts_the_toy_systems_calls(toy_system):
    # Property with every registered system's fields, the toy one included
    fields = property_fields()
    assert fields[-1] is schema.PropertyFields
    prop = strawberry.type(type("Property", fields, {}))

    def properties() -> list:
        return []

    properties.__annotations__ = {"return": list[prop]}  # built here: annotations are strings
    query = strawberry.type(
        type("Query", (), {"properties": strawberry.field(resolver=properties)})
    )

    cost = estimate(
        strawberry.Schema(query=query)._schema,
        parse("{ properties { thing { name } listing { agentName } } }"),
        None,
        {},
    )

    assert cost is not None
    assert cost.upstream_calls == {"toy": 1, "filemaker": 1}


@pytest.mark.django_db
def test_warm_cache_warms_the_toy_system_too(toy_system, emulators_sync):
    call_command("seed_demo", count=9, stdout=io.StringIO())
    out = io.StringIO()

    call_command("warm_cache", "--no-progress", stdout=out, stderr=io.StringIO())

    rows = {line.split()[0]: line.split()[1:] for line in out.getvalue().splitlines()[2:]}
    assert rows["toy"][0] == "9"  # fetched
    assert emulators_sync["toy"].stats()["calls"] == {"GET /things": 2}  # 7 keys per call


def test_the_emulators_command_serves_the_toy_system(toy_system):
    parser = EmulatorsCommand().create_parser("manage.py", "emulators")

    options = parser.parse_args(["--toy-port", "4099"])

    assert options.toy_port == 4099
    assert parse_fault("toy:error_rate=1") == ("toy", "error_rate", 1)
