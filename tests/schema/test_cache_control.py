"""Cache hints: `Cache-Control` from what a response holds, `ETag` and 304 over GET, and the
`@cacheControl` directive gateways compose.

The wall clock that dates cache entries is a FakeClock, so every max-age is exact.
"""

from __future__ import annotations

import io
import json
from urllib.parse import urlencode

import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from graphql import parse

from django_project.properties.models import Property
from resolvers.registry import loader_classes
from schema import schema
from tests.clocks import FakeClock
from tests.conftest_emulators import calls

pytestmark = pytest.mark.django_db(transaction=True)

TAX = "query Tax($limit: Int!) { properties(pagination: {limit: $limit}) { results { parcelId taxAssessment { taxYear } } } }"  # noqa: E501
LOCAL_ONLY = "{ properties(pagination: {limit: 2}) { results { parcelId } } }"
UPDATE = """
mutation Update($id: ID!, $data: PropertyUpdateInput!) {
  updateProperty(id: $id, data: $data) { id bedrooms }
}
"""


@pytest.fixture
def clock(monkeypatch, settings) -> FakeClock:
    """Assessments fresh for 300 s, "no such assessment" for 60 s; local fields for a day."""
    found = FakeClock()
    monkeypatch.setattr("resolvers.loader.wall_clock", found)
    settings.TAX_ASSESSOR_CACHE = {"ttl": 300, "negative_ttl": 60, "stale_ttl": 86400}
    settings.GRAPHQL_LOCAL_MAX_AGE = 86400
    return found


async def seed(count: int) -> None:
    await sync_to_async(call_command)("seed_demo", count=count, stdout=io.StringIO())


async def post(client, query: str, variables: dict | None = None, **headers: str):
    return await client.post(
        "/graphql/",
        data=json.dumps({"query": query, "variables": variables or {}}),
        content_type="application/json",
        headers=headers,
    )


async def test_a_query_may_be_cached_for_what_remains_of_its_freshest_fields(
    async_client, emulators, clock
):
    await seed(3)

    fetched = await post(async_client, TAX, {"limit": 3})
    clock.now += 100
    warm = await post(async_client, TAX, {"limit": 3})

    # fetched just now: the TTL less the second a shared fetch may have settled before
    assert fetched["Cache-Control"] == "public, max-age=299"
    # read from the cache 100 s after it was written: 200 s remain
    assert warm["Cache-Control"] == "public, max-age=200"
    assert calls(emulators["tax_assessor"]) == 1
    assert "Accept" in warm["Vary"]
    assert "Authorization" in warm["Vary"]


async def test_a_cached_no_such_record_shortens_the_whole_response(async_client, emulators, clock):
    # the sixth parcel has no assessment at the county: trusted for 60 s only
    await seed(6)
    await post(async_client, TAX, {"limit": 6})
    clock.now += 30

    response = await post(async_client, TAX, {"limit": 6})

    assert response.json()["data"]["properties"]["results"][5]["taxAssessment"] is None
    assert response["Cache-Control"] == "public, max-age=30"


async def test_local_fields_cap_it_and_by_default_say_revalidate(
    async_client, emulators, clock, settings
):
    await seed(3)
    settings.GRAPHQL_LOCAL_MAX_AGE = 45
    capped = await post(async_client, TAX, {"limit": 3})
    local = await post(async_client, LOCAL_ONLY)
    settings.GRAPHQL_LOCAL_MAX_AGE = 0

    default = await post(async_client, LOCAL_ONLY)

    assert capped["Cache-Control"] == "public, max-age=45"
    assert local["Cache-Control"] == "public, max-age=45"
    assert default["Cache-Control"] == "public, no-cache"


async def test_a_stale_field_makes_the_response_no_store(async_client, emulators, clock):
    await seed(3)
    await post(async_client, TAX, {"limit": 3})
    clock.now += 400
    emulators["tax_assessor"].set_faults(error_rate=1)

    response = await post(async_client, TAX, {"limit": 3})

    assert response.json()["extensions"]["stale"]
    assert response["Cache-Control"] == "no-store"


async def test_an_error_makes_the_response_no_store(async_client, emulators, clock):
    await seed(3)
    emulators["tax_assessor"].set_faults(error_rate=1, error_status=500)

    failed = await post(async_client, TAX, {"limit": 3})
    invalid = await post(async_client, "{ properties { nope } }")
    refused = await async_client.post("/graphql/", data="{", content_type="application/json")

    assert failed.json()["errors"]
    assert failed.status_code == 200
    assert failed["Cache-Control"] == "no-store"
    assert invalid["Cache-Control"] == "no-store"
    assert refused.status_code == 400
    assert refused["Cache-Control"] == "no-store"


async def test_a_credential_or_a_session_makes_it_private(async_client, emulators, clock):
    await seed(3)

    def make_token() -> str:
        User.objects.create_user("reader", password="reader-pass-1234")
        out = io.StringIO()
        call_command(
            "api_tokens", "create", "--user", "reader", "--name", "t",
            stdout=out, stderr=io.StringIO(),
        )  # fmt: skip
        return out.getvalue().strip()

    token = await sync_to_async(make_token)()
    with_token = await post(async_client, TAX, {"limit": 3}, Authorization=f"Bearer {token}")
    user = await User.objects.aget(username="reader")
    await async_client.aforce_login(user)
    with_session = await post(async_client, TAX, {"limit": 3})

    assert with_token["Cache-Control"] == "private, max-age=299"
    assert with_session.status_code == 200
    assert with_session["Cache-Control"].startswith("private, max-age=")


async def test_a_mutation_is_no_store(async_client, emulators, clock):
    await seed(1)

    def make_editor() -> User:
        user = User.objects.create_user("editor2", password="editor-pass-1234")
        user.user_permissions.add(Permission.objects.get(codename="change_property"))
        return user

    await async_client.aforce_login(await sync_to_async(make_editor)())
    prop = await Property.objects.afirst()

    response = await post(async_client, UPDATE, {"id": str(prop.pk), "data": {"bedrooms": 5}})

    assert response.json()["data"]["updateProperty"]["bedrooms"] == 5
    assert response["Cache-Control"] == "no-store"


async def test_get_answers_carry_an_etag_and_a_match_is_304(async_client, emulators, clock):
    await seed(3)
    url = "/graphql/?" + urlencode({"query": TAX, "variables": json.dumps({"limit": 3})})

    first = await async_client.get(url, headers={"Accept": "application/json"})
    clock.now += 10
    again = await async_client.get(
        url, headers={"Accept": "application/json", "If-None-Match": first["ETag"]}
    )
    other = await async_client.get(
        url, headers={"Accept": "application/json", "If-None-Match": '"x"'}
    )

    assert first.status_code == 200
    assert first["ETag"].startswith('"')
    assert again.status_code == 304
    assert again.content == b""
    assert again["Cache-Control"] == "public, max-age=290"
    assert again["ETag"] == first["ETag"]
    assert other.status_code == 200
    assert other.json() == first.json()


async def test_post_and_no_store_answers_have_no_etag(async_client, emulators, clock):
    await seed(3)
    posted = await post(async_client, TAX, {"limit": 3})
    url = "/graphql/?" + urlencode({"query": "{ properties { nope } }"})

    invalid = await async_client.get(url, headers={"Accept": "application/json"})

    assert "ETag" not in posted
    assert invalid["Cache-Control"] == "no-store"
    assert "ETag" not in invalid


def test_each_external_field_declares_its_system_ttl_for_gateways(settings):
    document = parse(schema.as_str())
    directives = {}
    for definition in document.definitions:
        if getattr(definition, "name", None) and definition.name.value == "Property":
            for field in definition.fields:
                for directive in field.directives or ():
                    if directive.name.value == "cacheControl":
                        (argument,) = directive.arguments
                        directives[field.name.value] = int(argument.value.value)
    name_of = schema.config.name_converter.get_graphql_name
    by_field = {
        name_of(field): getattr(
            django_settings, f"{field.metadata['upstream'].service.upper()}_CACHE"
        )
        for field in schema.get_type_by_name("Property").fields
        if field.metadata.get("upstream")
    }
    assert set(directives) == set(by_field)
    assert len(by_field) >= len(loader_classes()) - 2
    for name, policy in by_field.items():
        assert directives[name] == min(policy["ttl"], policy["negative_ttl"]), name
    assert '@composeDirective(name: "@cacheControl")' in schema.as_str()
    assert '@link(url: "https://the-guild.dev/mesh/v1.0", import: ["@cacheControl"])' in (
        schema.as_str()
    )
