"""CORS for /graphql/: browser apps on allow-listed origins may call it; others may not."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db

APP = "https://app.example.com"


@pytest.fixture(autouse=True)
def allow_app(settings):
    settings.CORS_ALLOWED_ORIGINS = [APP]


def preflight(client, origin: str, headers: str = "content-type, authorization"):
    return client.options(
        "/graphql/",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


def test_preflight_from_an_allowed_origin(client):
    response = preflight(client, APP, "content-type, authorization, apollo-require-preflight")

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    allowed = {h.strip() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "authorization", "apollo-require-preflight"} <= allowed
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert int(response["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in response


def test_preflight_from_another_origin_gets_no_grant(client):
    response = preflight(client, "https://evil.example.net")

    assert "Access-Control-Allow-Origin" not in response


def test_actual_request_from_an_allowed_origin_is_readable(client):
    response = client.post(
        "/graphql/",
        data=json.dumps({"query": "{ __typename }"}),
        content_type="application/json",
        HTTP_ORIGIN=APP,
    )

    assert response.json() == {"data": {"__typename": "Query"}}
    assert response["Access-Control-Allow-Origin"] == APP


def test_refusals_carry_cors_headers_so_the_app_can_read_them(client):
    response = client.post("/graphql/", data="{", content_type="application/json", HTTP_ORIGIN=APP)

    assert response.status_code == 400
    assert response["Access-Control-Allow-Origin"] == APP


def test_credentials_only_when_enabled(client, settings):
    settings.CORS_ALLOW_CREDENTIALS = True

    response = preflight(client, APP)

    assert response["Access-Control-Allow-Credentials"] == "true"


def test_cors_covers_the_api_only(client):
    response = client.options(
        "/admin/login/", HTTP_ORIGIN=APP, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST"
    )

    assert "Access-Control-Allow-Origin" not in response
