"""Reading properties through /graphql/: filters, ordering, pagination, lookups and bad input."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Q

from django_project.properties.models import Property

pytestmark = pytest.mark.django_db

PROPERTIES = """
query Properties($filters: PropertyFilter, $ordering: [PropertyOrder!]!,
                 $pagination: OffsetPaginationInput) {
  properties(filters: $filters, ordering: $ordering, pagination: $pagination) {
    totalCount
    pageInfo { offset limit }
    results { id parcelId city listPrice status propertyType bedrooms }
  }
}
"""

PROPERTY = """
query One($id: ID!) { property(id: $id) { id parcelId streetAddress city state postalCode } }
"""

BY_PARCEL = """
query ByParcel($parcelId: String!) { propertyByParcel(parcelId: $parcelId) { id parcelId } }
"""


def ids(body: dict) -> list[int]:
    return [int(r["id"]) for r in body["data"]["properties"]["results"]]


def test_filters_combine_city_status_type_and_price_range(graphql, seeded):
    # given
    filters = {
        "city": {"iExact": "chicago"},
        "status": {"inList": ["ACTIVE", "PENDING"]},
        "propertyType": {"exact": "SINGLE_FAMILY"},
        "listPrice": {"range": {"start": "400000", "end": "900000"}},
    }
    expected = Property.objects.filter(
        city="Chicago",
        status__in=["active", "pending"],
        property_type="single_family",
        list_price__gte=Decimal(400000),
        list_price__lte=Decimal(900000),
    ).order_by("pk")

    # when
    body = graphql(PROPERTIES, {"filters": filters, "ordering": [], "pagination": {"limit": 100}})

    # then
    assert "errors" not in body
    assert body["data"]["properties"]["totalCount"] == expected.count() > 0
    assert ids(body) == [p.pk for p in expected]
    for row in body["data"]["properties"]["results"]:
        assert row["city"] == "Chicago"
        assert row["propertyType"] == "SINGLE_FAMILY"
        assert row["status"] in {"ACTIVE", "PENDING"}
        assert Decimal(400000) <= Decimal(row["listPrice"]) <= Decimal(900000)


def test_price_bounds_and_bedrooms(graphql, seeded):
    filters = {"listPrice": {"gte": "250000"}, "bedrooms": {"gte": 3}}
    expected = Property.objects.filter(list_price__gte=250000, bedrooms__gte=3)

    body = graphql(PROPERTIES, {"filters": filters, "ordering": [], "pagination": {"limit": 5}})

    assert body["data"]["properties"]["totalCount"] == expected.count() > 5
    assert len(ids(body)) == 5


def test_or_filter(graphql, seeded):
    filters = {"city": {"exact": "Evanston"}, "OR": {"city": {"exact": "Skokie"}}}
    expected = Property.objects.filter(Q(city="Evanston") | Q(city="Skokie")).count()

    body = graphql(PROPERTIES, {"filters": filters, "ordering": [], "pagination": {"limit": 100}})

    assert body["data"]["properties"]["totalCount"] == expected > 0
    assert {r["city"] for r in body["data"]["properties"]["results"]} == {"Evanston", "Skokie"}


def test_ordering_by_price_descending_with_id_tie_break(graphql, seeded):
    body = graphql(
        PROPERTIES,
        {
            "filters": {"listPrice": {"isNull": False}},
            "ordering": [{"listPrice": "DESC"}],
            "pagination": {"limit": 100},
        },
    )

    expected = Property.objects.exclude(list_price=None).order_by("-list_price", "pk")[:100]
    assert ids(body) == [p.pk for p in expected]


def test_pages_partition_the_result_without_overlap(graphql, seeded):
    # given: an ordering with many ties (bedrooms), which would shuffle rows between pages
    seen: list[int] = []

    # when
    for offset in range(0, 200, 30):
        body = graphql(
            PROPERTIES,
            {"ordering": [{"bedrooms": "ASC"}], "pagination": {"offset": offset, "limit": 30}},
        )
        assert body["data"]["properties"]["pageInfo"] == {"offset": offset, "limit": 30}
        seen.extend(ids(body))

    # then
    assert len(seen) == len(set(seen)) == 200
    assert seen == list(Property.objects.order_by("bedrooms", "pk").values_list("pk", flat=True))


def test_default_page_is_twenty_rows_by_id(graphql, seeded):
    body = graphql(PROPERTIES, {"ordering": []})

    assert body["data"]["properties"]["totalCount"] == 200
    assert ids(body) == list(Property.objects.order_by("pk").values_list("pk", flat=True)[:20])


@pytest.mark.parametrize(
    ("pagination", "message"),
    [
        ({"limit": 101}, "pagination.limit must be between 1 and 100, got 101."),
        ({"limit": 0}, "pagination.limit must be between 1 and 100, got 0."),
        ({"limit": -1}, "pagination.limit must be between 1 and 100, got -1."),
        ({"offset": -5, "limit": 10}, "pagination.offset must be 0 or more, got -5."),
    ],
)
def test_page_size_is_capped_with_a_clear_error(graphql, seeded, pagination, message):
    body = graphql(PROPERTIES, {"ordering": [], "pagination": pagination})

    assert body["status"] == 200
    assert body["data"] is None
    assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
        (message, "BAD_USER_INPUT")
    ]


def test_regular_expressions_are_not_offered(graphql, seeded):
    body = graphql(PROPERTIES, {"filters": {"city": {"regex": "(a+)+$"}}, "ordering": []})

    assert body.get("data") is None
    assert "'TextFilterLookup' not to include unknown field 'regex'" in body["errors"][0]["message"]


def test_property_by_id(graphql, seeded):
    prop = Property.objects.order_by("pk")[7]

    body = graphql(PROPERTY, {"id": str(prop.pk)})

    assert body == {
        "status": 200,
        "data": {
            "property": {
                "id": str(prop.pk),
                "parcelId": prop.parcel_id,
                "streetAddress": prop.street_address,
                "city": prop.city,
                "state": "IL",
                "postalCode": prop.postal_code,
            }
        },
    }


def test_unknown_property_is_null_without_error(graphql, seeded):
    body = graphql(PROPERTY, {"id": "987654"})

    assert body == {"status": 200, "data": {"property": None}}


@pytest.mark.parametrize("bad_id", ["abc", "-3", "0", "1.5", "", "१२", "9" * 40])
def test_bad_property_id_is_a_clear_error(graphql, seeded, bad_id):
    body = graphql(PROPERTY, {"id": bad_id})

    assert body["data"] == {"property": None}
    (error,) = body["errors"]
    assert error["path"] == ["property"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert error["message"].startswith("Invalid Property id")
    assert "expected a positive integer" in error["message"]


def test_property_by_parcel_accepts_dashes(graphql, seeded):
    prop = Property.objects.order_by("pk").first()
    pin = prop.parcel_id
    dashed = f"{pin[:2]}-{pin[2:4]}-{pin[4:7]}-{pin[7:10]}-{pin[10:]}"

    body = graphql(BY_PARCEL, {"parcelId": dashed})

    assert body["data"] == {"propertyByParcel": {"id": str(prop.pk), "parcelId": pin}}


def test_unknown_parcel_is_null_and_malformed_parcel_is_an_error(graphql, seeded):
    unknown = graphql(BY_PARCEL, {"parcelId": "99999999999999"})
    malformed = graphql(BY_PARCEL, {"parcelId": "12-34"})

    assert unknown == {"status": 200, "data": {"propertyByParcel": None}}
    assert malformed["data"] == {"propertyByParcel": None}
    assert malformed["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
    assert "14-digit" in malformed["errors"][0]["message"]


def test_wrong_argument_type_is_a_validation_error(graphql, seeded):
    body = graphql('{ properties(pagination: {limit: "ten"}) { totalCount } }')

    assert body["status"] == 200
    assert body.get("data") is None
    assert "Int cannot represent non-integer value" in body["errors"][0]["message"]


def test_malformed_document_and_body_are_refused_cleanly(client):
    syntax = client.post(
        "/graphql/", data='{"query": "{ properties { "}', content_type="application/json"
    )
    not_json = client.post("/graphql/", data="{nope", content_type="application/json")

    no_query = client.post("/graphql/", data='{"variables": {}}', content_type="application/json")

    assert syntax.status_code == 200
    assert syntax.json()["errors"][0]["message"].startswith("Syntax Error")
    assert not_json.status_code == 400
    assert not_json.json() == {
        "errors": [
            {
                "message": "Unable to parse request body as JSON",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }
    assert no_query.status_code == 400
    assert no_query.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}


def test_unknown_operation_name_is_a_json_error(client):
    response = client.post(
        "/graphql/",
        data='{"query": "query A { __typename }", "operationName": "B"}',
        content_type="application/json",
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == 'Unknown operation named "B".'


PRICE_ABOVE = (
    "query Above($p: Decimal!) { properties(filters: {listPrice: {gt: $p}}) { totalCount } }"
)


@pytest.mark.parametrize("price", ["NaN", "Infinity", "-Infinity", "1e999999", "sNaN", "12,5"])
def test_a_price_that_is_not_a_finite_number_is_bad_user_input(graphql, seeded, price):
    body = graphql(PRICE_ABOVE, {"p": price})

    assert body.get("data") is None
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "cannot represent a Decimal" in error["message"]


def test_a_price_literal_that_is_not_finite_is_bad_user_input(graphql, seeded):
    body = graphql(
        '{ properties(filters: {listPrice: {range: {start: "-Infinity", end: "NaN"}}}) '
        "{ totalCount } }"
    )

    assert body.get("data") is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"] * 2


def test_a_finite_price_still_filters(graphql, seeded):
    body = graphql(PRICE_ABOVE, {"p": "500000.50"})

    expected = Property.objects.filter(list_price__gt=Decimal("500000.50")).count()
    assert body["data"]["properties"]["totalCount"] == expected


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (
            {"city": {"iContains": "a%" * 30000}},
            "filters.city.iContains is 60000 characters long; filter text is at most 200",
        ),
        (
            {"postalCode": {"inList": [str(n) for n in range(501)]}},
            "filters.postalCode.inList has 501 items; filter lists hold at most 500",
        ),
    ],
)
def test_filter_values_no_property_could_match_are_refused(graphql, seeded, filters, message):
    body = graphql(PROPERTIES, {"filters": filters, "ordering": []})

    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["message"].startswith(message)


def test_columns_are_read_from_the_row_and_an_unloaded_one_through_strawberry_django(seeded):
    """schema/direct.py: graphql-core reads a selected column from the row; a column the
    row did not load goes to strawberry-django, which loads it."""
    from schema import schema

    fields = schema._schema.type_map["Property"].fields
    row = Property.objects.only("id").order_by("id").first()
    city = Property.objects.values_list("city", flat=True).get(pk=row.pk)

    assert {fields[name].resolve.__name__ for name in ("id", "parcelId", "city")} == {"column"}
    assert fields["id"].resolve(row, None) == row.pk
    assert "city" not in row.__dict__
    assert fields["city"].resolve(row, None) == city
