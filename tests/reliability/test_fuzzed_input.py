"""Random GraphQL documents, variables, bodies and query strings against the endpoint: never a
500, never a hang, always JSON whose every error carries a code."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from django_project.views import GRAPHQL_RESPONSE_JSON

pytestmark = [pytest.mark.reliability, pytest.mark.django_db]

NAMES = [
    "properties",
    "property",
    "propertyByParcel",
    "results",
    "totalCount",
    "id",
    "parcelId",
    "listing",
    "owner",
    "taxAssessment",
    "location",
    "updateProperty",
    "__typename",
    "__schema",
    "types",
    "name",
    "pagination",
    "limit",
    "offset",
    "filters",
    "city",
    "exact",
    "data",
]
TOKENS = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from(
        [
            "{",
            "}",
            "(",
            ")",
            ":",
            "...",
            "$v",
            "!",
            "[",
            "]",
            "=",
            "@skip",
            "on",
            ",",
            "query",
            "mutation",
            "fragment",
            "subscription",
            "#",
        ]
    ),
    st.integers(min_value=-(2**40), max_value=2**40).map(str),
    st.text(max_size=12).map(json.dumps),
)
DOCUMENTS = st.lists(TOKENS, max_size=60).map(" ".join) | st.text(max_size=200)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    document=DOCUMENTS,
    variables=st.one_of(
        st.none(), JSON_VALUES, st.dictionaries(st.sampled_from(["v", "id", "limit"]), JSON_VALUES)
    ),
    operation_name=st.one_of(st.none(), st.text(max_size=10)),
    via_get=st.booleans(),
)
def test_random_documents_never_cause_a_server_error(document, variables, operation_name, via_get):
    client = Client()
    payload = {"query": document, "variables": variables, "operationName": operation_name}
    if via_get:
        response = client.get("/graphql/", {"query": document}, HTTP_ACCEPT="application/json")
    else:
        response = client.post(
            "/graphql/", data=json.dumps(payload), content_type="application/json"
        )

    assert response.status_code < 500
    body = response.json()
    assert "errors" in body or "data" in body
    assert "Traceback" not in response.content.decode()


#: Any JSON value, strings with unpaired surrogates and NaN included (Python's json accepts
#: NaN and Infinity, and escapes surrogates as \udXXXX).
TEXT = st.text(max_size=20) | st.text(
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3
)
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)
REQUEST_OBJECTS = st.fixed_dictionaries(
    {},
    optional={
        "query": DOCUMENTS | ANY_JSON,
        "variables": ANY_JSON,
        "operationName": ANY_JSON,
        "extensions": ANY_JSON
        | st.just({"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}),
    },
)
BODIES = (
    st.binary(max_size=300)
    | ANY_JSON.map(lambda value: json.dumps(value).encode())
    | REQUEST_OBJECTS.map(lambda value: json.dumps(value).encode())
    | st.integers(min_value=60, max_value=3000).map(lambda n: b"[" * n + b"]" * n)
)


def assert_coded_json(response) -> None:
    """No 5xx, a JSON body, and every error in it carries extensions.code."""
    assert response.status_code < 500, response.content[:300]
    assert response["Content-Type"].startswith(("application/json", "application/graphql"))
    body = response.json()
    assert isinstance(body, dict)
    assert "errors" in body or "data" in body
    for error in body.get("errors", []):
        assert isinstance(error.get("extensions", {}).get("code"), str), error
    assert "Traceback" not in response.content.decode()


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=BODIES, accept=st.sampled_from(["application/json", GRAPHQL_RESPONSE_JSON]))
def test_any_body_gets_a_coded_json_answer(body, accept):
    response = Client().post(
        "/graphql/", data=body, content_type="application/json", HTTP_ACCEPT=accept
    )

    assert_coded_json(response)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    params=st.dictionaries(
        st.sampled_from(["query", "variables", "operationName", "extensions"]),
        st.text(max_size=60) | ANY_JSON.map(json.dumps) | DOCUMENTS,
        max_size=4,
    )
)
def test_any_query_string_gets_a_coded_json_answer(params):
    response = Client().get("/graphql/", params, HTTP_ACCEPT="application/json")

    assert_coded_json(response)
