"""Random GraphQL documents and variables against the endpoint: never a 500, never a hang."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
