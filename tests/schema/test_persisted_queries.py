"""Persisted queries: Apollo's APQ protocol (miss -> register -> hit) and allow-list mode."""

from __future__ import annotations

import hashlib
import json

import pytest

from schema.persisted_queries import load_manifest
from tests.conftest_emulators import clear_cache

pytestmark = pytest.mark.django_db

QUERY = "query Count { properties { totalCount } }"
QUERY_HASH = hashlib.sha256(QUERY.encode()).hexdigest()
MUTATION = 'mutation M { updateProperty(id: "1", data: {bedrooms: 1}) { id } }'


def persisted(sha256: str = QUERY_HASH) -> dict:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256}}


def post(client, body: dict):
    response = client.post("/graphql/", data=json.dumps(body), content_type="application/json")
    return response, response.json()


def get(client, params: dict):
    encoded = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
    response = client.get("/graphql/", encoded, HTTP_ACCEPT="application/json")
    return response, response.json()


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_cache()


def test_miss_then_register_then_hit(client, seeded):
    # when: a client sends only the hash of a query we have never seen
    response, body = post(client, {"extensions": persisted()})

    # then: it is told to send the query (200, uncached, as Apollo Server answers)
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-cache, must-revalidate"
    assert body == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }

    # when: it sends the query with its hash
    _, registered = post(client, {"query": QUERY, "extensions": persisted()})
    # and then the hash alone, over GET as Apollo's link can
    response, hit = get(client, {"extensions": persisted()})

    # then
    assert registered == {"data": {"properties": {"totalCount": 200}}}
    assert response.status_code == 200
    assert hit == registered


def test_a_hash_only_get_that_accepts_anything_is_an_api_call_not_the_ide_page(client):
    response = client.get("/graphql/", {"extensions": json.dumps(persisted())}, HTTP_ACCEPT="*/*")

    assert response["Content-Type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


def test_a_hash_that_does_not_match_its_query_is_refused_and_not_registered(client, seeded):
    _, body = post(client, {"query": "{ __typename }", "extensions": persisted()})
    _, after = post(client, {"extensions": persisted()})

    assert body["errors"][0] == {
        "message": "provided sha does not match query",
        "extensions": {"code": "BAD_REQUEST"},
    }
    assert after["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


def test_invalid_queries_are_not_registered(client):
    bad = "{ nope }"
    bad_hash = hashlib.sha256(bad.encode()).hexdigest()

    post(client, {"query": bad, "extensions": persisted(bad_hash)})
    _, after = post(client, {"extensions": persisted(bad_hash)})

    assert after["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


def test_a_persisted_mutation_still_needs_post(client, seeded):
    mutation_hash = hashlib.sha256(MUTATION.encode()).hexdigest()
    post(client, {"query": MUTATION, "extensions": persisted(mutation_hash)})

    response, body = get(client, {"extensions": persisted(mutation_hash)})

    assert response.status_code == 405
    assert body["errors"][0]["extensions"] == {"code": "METHOD_NOT_ALLOWED"}


@pytest.mark.parametrize(
    "extension",
    [
        {"persistedQuery": {"version": 2, "sha256Hash": QUERY_HASH}},
        {"persistedQuery": {"version": 1, "sha256Hash": "../../etc/passwd"}},
        {"persistedQuery": {"version": 1}},
        {"persistedQuery": "yes"},
    ],
    ids=["version", "not-hex", "no-hash", "not-an-object"],
)
def test_malformed_persisted_query_extensions_are_refused(client, extension):
    response, body = post(client, {"extensions": extension})

    assert response.status_code == 200
    assert body["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}


def test_off_says_not_supported(client, settings):
    settings.GRAPHQL_PERSISTED_QUERIES = "off"

    _, body = post(client, {"query": QUERY, "extensions": persisted()})

    assert body["errors"][0]["extensions"] == {"code": "PERSISTED_QUERY_NOT_SUPPORTED"}


@pytest.fixture
def only_listed(settings, tmp_path):
    manifest = tmp_path / "persisted-query-manifest.json"
    manifest.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{"id": QUERY_HASH, "body": QUERY, "name": "Count", "type": "query"}],
            }
        )
    )
    settings.GRAPHQL_PERSISTED_QUERIES = "only"
    settings.GRAPHQL_PERSISTED_QUERIES_MANIFEST = str(manifest)
    load_manifest.cache_clear()
    yield
    load_manifest.cache_clear()


def test_only_mode_runs_listed_operations_by_id_or_text(client, seeded, only_listed):
    _, by_id = post(client, {"extensions": persisted()})
    _, by_text = post(client, {"query": QUERY})

    assert by_id == by_text == {"data": {"properties": {"totalCount": 200}}}


def test_only_mode_refuses_everything_else_and_registers_nothing(client, seeded, only_listed):
    other = "{ properties { results { id } } }"
    other_hash = hashlib.sha256(other.encode()).hexdigest()

    _, free_text = post(client, {"query": other})
    _, attempt = post(client, {"query": other, "extensions": persisted(other_hash)})
    _, by_hash = post(client, {"extensions": persisted(other_hash)})

    assert free_text["errors"][0]["extensions"] == {"code": "PERSISTED_QUERY_NOT_IN_LIST"}
    assert attempt["errors"][0]["extensions"] == {"code": "PERSISTED_QUERY_NOT_IN_LIST"}
    assert by_hash["errors"][0]["extensions"] == {"code": "PERSISTED_QUERY_NOT_FOUND"}
    assert "data" not in free_text


def test_a_missing_or_malformed_manifest_is_named(tmp_path):
    (tmp_path / "bad.json").write_text('{"format": "something-else"}')
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="apollo-persisted-query-manifest"):
        load_manifest(str(tmp_path / "bad.json"))
    with pytest.raises(ImproperlyConfigured, match="Cannot read"):
        load_manifest(str(tmp_path / "missing.json"))


def test_check_names_a_bad_manifest_before_any_request(settings, tmp_path):
    from django.core import checks

    settings.GRAPHQL_PERSISTED_QUERIES = "only"
    settings.GRAPHQL_PERSISTED_QUERIES_MANIFEST = str(tmp_path / "missing.json")
    load_manifest.cache_clear()

    errors = [m for m in checks.run_checks() if m.id == "accounts.E001"]

    assert len(errors) == 1
    assert "Cannot read the persisted-query manifest" in errors[0].msg
    load_manifest.cache_clear()
