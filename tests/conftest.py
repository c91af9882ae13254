"""Shared fixtures: a GraphQL-over-HTTP helper, users, and demo data."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.test import Client

pytest_plugins = ["tests.conftest_emulators"]

GraphQL = Callable[..., dict[str, Any]]


def post_graphql(
    client: Client, query: str, variables: dict[str, Any] | None = None, **headers: Any
) -> dict[str, Any]:
    response = client.post(
        "/graphql/",
        data=json.dumps({"query": query, "variables": variables or {}}),
        content_type="application/json",
        **headers,
    )
    assert response["Content-Type"].startswith("application/json"), response.content[:200]
    return {"status": response.status_code, **response.json()}


@pytest.fixture
def graphql(client: Client) -> GraphQL:
    """POST a query to /graphql/ as an anonymous client; returns the JSON body plus `status`."""

    def run(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return post_graphql(client, query, variables)

    return run


@pytest.fixture
def seeded(db: None) -> int:
    """The default demo data set (200 properties)."""
    call_command("seed_demo", count=200, stdout=io.StringIO())
    return 200


@pytest.fixture
def editor(db: None) -> User:
    user = User.objects.create_user("editor", password="editor-pass-1234")
    user.user_permissions.add(Permission.objects.get(codename="change_property"))
    return user


@pytest.fixture
def viewer(db: None) -> User:
    return User.objects.create_user("viewer", password="viewer-pass-1234")
