"""GraphQL over HTTP: media types, status codes and methods, as the specification gives them.

application/graphql-response+json: a request error (the document cannot run) is 400 with no
`data`; once execution starts the answer is 200. application/json, for older clients: every
well-formed request is 200. Both: unparsable bodies 400, GET mutations 405, other methods
405, bodies in other media types 415, Accept headers we cannot satisfy 406.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.django_db

GRAPHQL_RESPONSE = "application/graphql-response+json"
BOTH = f"{GRAPHQL_RESPONSE}, application/json;q=0.9"  # what Apollo Client and urql send


def post(client, body, *, accept: str | None = None, content_type: str = "application/json"):
    headers = {"HTTP_ACCEPT": accept} if accept is not None else {}
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post("/graphql/", data=data, content_type=content_type, **headers)


def media_type(response) -> str:
    return response["Content-Type"].split(";")[0]


def test_graphql_response_json_when_asked(client, seeded):
    response = post(client, {"query": "{ properties { totalCount } }"}, accept=BOTH)

    assert response.status_code == 200
    assert media_type(response) == GRAPHQL_RESPONSE
    assert response.json() == {"data": {"properties": {"totalCount": 200}}}


@pytest.mark.parametrize("accept", [None, "", "*/*", "application/json", "application/*"])
def test_application_json_for_clients_that_do_not_ask(client, accept):
    response = post(client, {"query": "{ __typename }"}, accept=accept)

    assert response.status_code == 200
    assert media_type(response) == "application/json"


def test_the_client_preference_decides(client):
    response = post(
        client,
        {"query": "{ __typename }"},
        accept=f"application/json, {GRAPHQL_RESPONSE};q=0.5",
    )

    assert media_type(response) == "application/json"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{ properties { ", "Syntax Error"),
        ("{ nope }", "Cannot query field 'nope' on type 'Query'."),
        ("query Q($id: ID!) { property(id: $id) { id } }", "Variable '$id'"),
    ],
    ids=["unparsable", "invalid", "missing-variable"],
)
def test_request_errors_are_400_without_data_in_graphql_response_json(client, document, message):
    response = post(client, {"query": document}, accept=BOTH)

    assert response.status_code == 400
    assert media_type(response) == GRAPHQL_RESPONSE
    body = response.json()
    assert "data" not in body
    assert message in body["errors"][0]["message"]


def test_several_operations_need_an_operation_name(client):
    document = "query A { __typename } query B { __typename }"

    refused = post(client, {"query": document}, accept=BOTH)
    chosen = post(client, {"query": document, "operationName": "B"}, accept=BOTH)

    assert refused.status_code == 400
    assert refused.json() == {
        "errors": [
            {
                "message": "Must provide operationName: the document has 2 operations.",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }
    assert chosen.json() == {"data": {"__typename": "Query"}}


def test_an_unknown_operation_name_is_400(client):
    response = post(
        client,
        {"query": "query A { __typename } query B { __typename }", "operationName": "C"},
        accept=BOTH,
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == 'Unknown operation named "C".'


def test_request_errors_are_200_in_application_json(client):
    response = post(client, {"query": "{ nope }"}, accept="application/json")

    assert response.status_code == 200
    assert "data" not in response.json()
    assert response.json()["errors"][0]["message"].startswith("Cannot query field")


def test_field_errors_keep_200_and_data(client, seeded):
    response = post(client, {"query": '{ property(id: "abc") { id } }'}, accept=BOTH)

    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"property": None}
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["path"] == ["property"]


@pytest.mark.parametrize("accept", [BOTH, "application/json"])
def test_unparsable_json_is_400(client, accept):
    response = post(client, '{"query": ', accept=accept)

    assert response.status_code == 400
    assert media_type(response) == accept.split(",")[0]
    assert response.json()["errors"][0] == {
        "message": "Unable to parse request body as JSON",
        "extensions": {"code": "BAD_REQUEST"},
    }


def test_a_request_without_a_query_is_400(client):
    response = post(client, {"variables": {}}, accept=BOTH)

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "No GraphQL query found in the request"


def test_queries_over_get(client, seeded):
    response = client.get(
        "/graphql/", {"query": "{ properties { totalCount } }"}, HTTP_ACCEPT=GRAPHQL_RESPONSE
    )

    assert response.status_code == 200
    assert media_type(response) == GRAPHQL_RESPONSE
    assert response.json()["data"]["properties"]["totalCount"] == 200


def test_other_methods_are_405_with_allow(client):
    response = client.put("/graphql/", data="{}", content_type="application/json")

    assert response.status_code == 405
    assert response["Allow"] == "GET, POST"
    assert response.json()["errors"][0]["extensions"] == {"code": "METHOD_NOT_ALLOWED"}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_other_body_media_types_are_415(client, content_type):
    response = post(client, "query={__typename}", content_type=content_type)

    assert response.status_code == 415
    assert response.json()["errors"][0]["extensions"] == {"code": "UNSUPPORTED_MEDIA_TYPE"}


def test_an_accept_header_we_cannot_satisfy_is_406(client):
    response = post(client, {"query": "{ __typename }"}, accept="text/csv")

    assert response.status_code == 406
    assert media_type(response) == "application/json"
    assert response.json()["errors"][0]["extensions"] == {"code": "NOT_ACCEPTABLE"}


@pytest.mark.parametrize("body", ["null", "42", "true", '"{ __typename }"'])
def test_a_body_that_is_json_but_not_an_object_is_400(client, body):
    response = post(client, body, accept=BOTH)

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert error["message"].startswith("The request body must be a JSON object")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'\xff\xfe{"query": "{ __typename }"}', "The request body is not UTF-8 encoded JSON."),
        (b"[" * 5000 + b"]" * 5000, "The request's JSON nests deeper than 64 levels."),
        (
            b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * 100 + b"]" * 100 + b"}}",
            "The request's JSON nests deeper than 64 levels.",
        ),
        (
            b'{"query": "{ __typename }", "variables": {"city": "\\ud800x"}}',
            "The request's JSON holds a string with an unpaired surrogate.",
        ),
    ],
)
def test_json_we_cannot_use_is_a_clear_400(client, body, message):
    response = client.post("/graphql/", data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"message": message, "extensions": {"code": "BAD_REQUEST"}}
    ]


@pytest.mark.parametrize("name", [5, {}, ["A"], True])
def test_an_operation_name_that_is_not_a_string_is_400(client, name):
    response = post(client, {"query": "query A { __typename }", "operationName": name})

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "message": "The request's `operationName` must be a string or null.",
            "extensions": {"code": "BAD_REQUEST"},
        }
    ]


@pytest.mark.parametrize(
    ("document", "code"),
    [
        ("{ __typename", "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
        ('{ properties(pagination: {limit: "x"}) { totalCount } }', "BAD_USER_INPUT"),
    ],
)
def test_syntax_validation_and_value_errors_carry_a_code(client, document, code):
    response = post(client, {"query": document}, accept=BOTH)

    assert response.status_code == 400
    assert {e["extensions"]["code"] for e in response.json()["errors"]} == {code}


def test_a_response_orjson_refuses_is_encoded_by_the_standard_library():
    # a lone surrogate can reach a response (echoed input); orjson refuses it, json escapes it
    from django_project.views import GraphQLView
    from schema import schema

    view = GraphQLView(schema=schema)
    encoded = view.encode_json({"data": {"name": "\ud800x"}})

    assert json.loads(encoded) == {"data": {"name": "\ud800x"}}
    assert view.encode_json({"data": {"n": 1}}) == b'{"data":{"n":1}}'  # orjson
