"""Apollo federated tracing (ftv1): an inline trace only when the router asks for one, decoded
here with protobuf against the field numbers of Apollo's `reports.proto` Trace message.

The gateway decoding it with Apollo's own protobuf classes:
tests/schema/test_federation_gateway.py.
"""

from __future__ import annotations

import base64
import functools
import io
import json
from types import SimpleNamespace
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2

from schema import schema
from schema.errors import MASKED_MESSAGE
from schema.tracing import FederatedTracing

pytestmark = pytest.mark.django_db(transaction=True)

PAGE = """
query Page { properties(pagination: {limit: 2}) { results { parcelId taxAssessment { taxYear } } } }
"""
FTV1 = {"apollo-federation-include-trace": "ftv1"}

# (name, number, type, label, message type) for the part of reports.proto an ftv1 trace uses
_F = descriptor_pb2.FieldDescriptorProto
_MESSAGES = {
    "Location": [("line", 1, _F.TYPE_UINT32, _F.LABEL_OPTIONAL, None),
                 ("column", 2, _F.TYPE_UINT32, _F.LABEL_OPTIONAL, None)],
    "Error": [("message", 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL, None),
              ("location", 2, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".ftv1test.Location"),
              ("json", 4, _F.TYPE_STRING, _F.LABEL_OPTIONAL, None)],
    "Node": [("response_name", 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL, None),
             ("index", 2, _F.TYPE_UINT32, _F.LABEL_OPTIONAL, None),
             ("type", 3, _F.TYPE_STRING, _F.LABEL_OPTIONAL, None),
             ("start_time", 8, _F.TYPE_UINT64, _F.LABEL_OPTIONAL, None),
             ("end_time", 9, _F.TYPE_UINT64, _F.LABEL_OPTIONAL, None),
             ("error", 11, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".ftv1test.Error"),
             ("child", 12, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".ftv1test.Node"),
             ("parent_type", 13, _F.TYPE_STRING, _F.LABEL_OPTIONAL, None)],
    "Trace": [("end_time", 3, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, ".google.protobuf.Timestamp"),
              ("start_time", 4, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, ".google.protobuf.Timestamp"),
              ("duration_ns", 11, _F.TYPE_UINT64, _F.LABEL_OPTIONAL, None),
              ("root", 14, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, ".ftv1test.Node")],
}  # fmt: skip


@functools.cache
def trace_message() -> Any:
    """The Trace message class, built from a descriptor (no generated code needed)."""
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    file = descriptor_pb2.FileDescriptorProto(
        name="ftv1test.proto", package="ftv1test", syntax="proto3"
    )
    file.dependency.append("google/protobuf/timestamp.proto")
    for message_name, fields in _MESSAGES.items():
        message = file.message_type.add(name=message_name)
        for name, number, kind, label, type_name in fields:
            field = message.field.add(name=name, number=number, type=kind, label=label)
            if type_name:
                field.type_name = type_name
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("ftv1test.Trace"))


def decode(ftv1: str) -> Any:
    trace = trace_message()()
    trace.ParseFromString(base64.b64decode(ftv1))
    return trace


def child(node: Any, name: str | int) -> Any:
    key = "response_name" if isinstance(name, str) else "index"
    (found,) = [c for c in node.child if getattr(c, key) == name]
    return found


async def post(client, query: str, **headers: str) -> dict[str, Any]:
    response = await client.post(
        "/graphql/",
        data=json.dumps({"query": query}),
        content_type="application/json",
        headers=headers,
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_a_router_asking_for_ftv1_gets_our_fields_with_their_timings(async_client, emulators):
    await sync_to_async(call_command)("seed_demo", count=2, stdout=io.StringIO())

    body = await post(async_client, PAGE, **FTV1)

    trace = decode(body["extensions"]["ftv1"])
    assert trace.duration_ns > 0
    assert trace.start_time.seconds > 0
    assert trace.end_time.ToNanoseconds() >= trace.start_time.ToNanoseconds()
    results = child(child(trace.root, "properties"), "results")
    for index in (0, 1):
        row = child(results, index)
        assessment = child(row, "taxAssessment")
        assert assessment.type == "TaxAssessment"
        assert assessment.parent_type == "Property"
        assert 0 < assessment.start_time <= assessment.end_time <= trace.duration_ns
    assert body["data"]["properties"]["results"][0]["taxAssessment"]["taxYear"] == 2024


async def test_a_failed_field_carries_its_coded_message_in_the_trace(async_client, emulators):
    await sync_to_async(call_command)("seed_demo", count=2, stdout=io.StringIO())
    emulators["tax_assessor"].set_faults(error_rate=1, error_status=500)

    body = await post(async_client, PAGE, **FTV1)

    results = child(child(decode(body["extensions"]["ftv1"]).root, "properties"), "results")
    (error,) = child(child(results, 0), "taxAssessment").error
    assert error.message == body["errors"][0]["message"]
    assert json.loads(error.json)["path"] == ["properties", "results", 0, "taxAssessment"]


async def test_no_header_or_a_refusing_setting_means_no_trace(async_client, emulators, settings):
    await sync_to_async(call_command)("seed_demo", count=2, stdout=io.StringIO())

    plain = await post(async_client, PAGE)
    wrong = await post(async_client, PAGE, **{"apollo-federation-include-trace": "ftv2"})
    settings.GRAPHQL_FEDERATED_TRACING = False
    refused = await post(async_client, PAGE, **FTV1)

    for body in (plain, wrong, refused):
        assert "ftv1" not in body.get("extensions", {})
        assert body["data"]["properties"]["results"][1]["taxAssessment"]["taxYear"] == 2024


def test_without_the_header_no_field_is_wrapped():
    # the middleware strawberry builds per request holds no resolve hook at all
    extensions = schema.get_extensions()
    for extension in extensions:
        extension.execution_context = SimpleNamespace(
            context=SimpleNamespace(request=SimpleNamespace(headers={}))
        )
    manager = schema._get_middleware_manager(extensions)
    assert not manager.middlewares
    assert any(isinstance(e, FederatedTracing) for e in extensions)


def test_unexpected_exceptions_are_masked_in_the_trace():
    extension = FederatedTracing()
    info = SimpleNamespace(field_nodes=[], path=None)

    error = extension._make_error(RuntimeError("password=hunter2 at db.internal"), info)

    assert error.message == MASKED_MESSAGE
    assert "hunter2" not in error.json_error
