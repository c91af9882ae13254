"""Bearer API tokens: created by a command, stored hashed, accepted, revoked, refused."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from django_project.accounts.models import ApiToken
from django_project.properties.models import Property

pytestmark = pytest.mark.django_db

UPDATE = """
mutation Update($id: ID!, $data: PropertyUpdateInput!) {
  updateProperty(id: $id, data: $data) { id bedrooms }
}
"""


@pytest.fixture
def prop(seeded) -> Property:
    return Property.objects.order_by("pk").first()


def create_token(username: str, *extra: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "api_tokens", "create", "--user", username, "--name", "test app", *extra,
        stdout=out, stderr=err,
    )  # fmt: skip
    assert "cannot be shown again" in err.getvalue()
    return out.getvalue().strip()


def payload(prop: Property, bedrooms: int) -> str:
    variables = {"id": str(prop.pk), "data": {"bedrooms": bedrooms}}
    return json.dumps({"query": UPDATE, "variables": variables})


def update(prop: Property, bedrooms: int, **headers: str):
    """A browser-like client (CSRF enforced) sending the mutation with `headers`."""
    client = Client(enforce_csrf_checks=True)
    return client.post(
        "/graphql/", data=payload(prop, bedrooms), content_type="application/json", **headers
    )


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_a_token_authenticates_a_mutation_without_csrf(editor, prop):
    token = create_token("editor")

    response = update(prop, 6, **bearer(token))

    assert response.status_code == 200
    assert response.json() == {"data": {"updateProperty": {"id": str(prop.pk), "bedrooms": 6}}}
    assert Property.objects.get(pk=prop.pk).bedrooms == 6
    assert ApiToken.objects.get().last_used_at is not None


def test_tokens_are_stored_as_digests_only(editor):
    token = create_token("editor")

    stored = ApiToken.objects.values().get()
    assert token.startswith("pgt_")
    assert len(token) > 40
    assert token not in json.dumps(stored, default=str)
    assert stored["prefix"] == token[:12]


def test_a_token_acts_with_its_users_permissions(viewer, prop):
    token = create_token("viewer")

    response = update(prop, 6, **bearer(token))

    assert response.json()["errors"][0]["extensions"] == {"code": "FORBIDDEN"}
    assert Property.objects.get(pk=prop.pk).bedrooms == prop.bedrooms


def test_a_revoked_token_is_refused(editor, prop):
    token = create_token("editor")
    out = io.StringIO()
    call_command("api_tokens", "revoke", token[:12], stdout=out)

    response = update(prop, 6, **bearer(token))

    assert "Revoked token" in out.getvalue()
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["errors"][0] == {
        "message": "This API token is revoked; ask for a new one.",
        "extensions": {"code": "UNAUTHENTICATED"},
    }
    assert Property.objects.get(pk=prop.pk).bedrooms == prop.bedrooms


def test_an_expired_token_is_refused(editor, prop):
    token = create_token("editor", "--expires-in-days", "1")
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = update(prop, 6, **bearer(token))

    assert response.status_code == 401
    assert "expired" in response.json()["errors"][0]["message"]


def test_a_disabled_users_token_is_refused(editor, prop):
    token = create_token("editor")
    editor.is_active = False
    editor.save()

    assert update(prop, 6, **bearer(token)).status_code == 401


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer pgt_" + "A" * 43,  # forged: well-formed, never issued
        "Bearer not-even-our-format",
        "Basic ZWRpdG9yOmVkaXRvci1wYXNzLTEyMzQ=",
        "Bearer",
        "Bearer pgt_" + "x" * 5000,
    ],
    ids=["forged", "foreign", "basic", "empty", "huge"],
)
def test_forged_or_malformed_credentials_are_refused(editor, prop, authorization):
    create_token("editor")

    response = update(prop, 6, HTTP_AUTHORIZATION=authorization)

    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert Property.objects.get(pk=prop.pk).bedrooms == prop.bedrooms


def test_a_token_outranks_a_session_cookie_so_no_csrf_is_needed(editor, viewer, prop):
    token = create_token("editor")
    client = Client(enforce_csrf_checks=True)
    client.force_login(viewer)  # a session cookie rides along, with no CSRF token

    response = client.post(
        "/graphql/", data=payload(prop, 5), content_type="application/json", **bearer(token)
    )

    assert response.status_code == 200
    assert response.json()["data"]["updateProperty"]["bedrooms"] == 5


def test_list_shows_tokens_without_their_secrets(editor):
    token = create_token("editor")
    out = io.StringIO()

    call_command("api_tokens", "list", stdout=out)

    assert token[:12] in out.getvalue()
    assert "active" in out.getvalue()
    assert token not in out.getvalue()


def test_the_command_refuses_unknown_users_and_tokens(db):
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("api_tokens", "create", "--user", "ghost", "--name", "x")
    with pytest.raises(CommandError, match="No token"):
        call_command("api_tokens", "revoke", "pgt_nothere")
