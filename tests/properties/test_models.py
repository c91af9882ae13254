"""Model rules for Property, enforced by full_clean (the admin, the API and commands use it)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from django_project.properties.models import Property

pytestmark = pytest.mark.django_db


def make(**overrides) -> Property:
    fields = {
        "parcel_id": "17-04-221-033-0000",
        "street_address": "1 Main St",
        "city": "Chicago",
        "state": "il",
        "postal_code": "60614",
        "bedrooms": 3,
        "bathrooms": Decimal("1.5"),
        "year_built": 1925,
        "list_price": Decimal("450000"),
    }
    return Property(**{**fields, **overrides})


def errors_of(prop: Property) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        prop.full_clean()
    return {field: [e.code for e in errs] for field, errs in caught.value.error_dict.items()}


def test_valid_property_is_normalised():
    prop = make()

    prop.full_clean()

    assert prop.parcel_id == "17042210330000"
    assert prop.state == "IL"
    assert prop.full_address == "1 Main St, Chicago, IL 60614"


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"parcel_id": "1704221033"}, "parcel_id", "invalid_parcel_id"),
        ({"parcel_id": "17-04-221-033-000X"}, "parcel_id", "invalid_parcel_id"),
        ({"bedrooms": -1}, "bedrooms", "min_value"),
        ({"bathrooms": Decimal("-0.5")}, "bathrooms", "min_value"),
        ({"square_feet": -10}, "square_feet", "min_value"),
        ({"year_built": 1500}, "year_built", "implausible_year"),
        ({"year_built": 2999}, "year_built", "implausible_year"),
        ({"list_price": Decimal("-1")}, "list_price", "min_value"),
        ({"postal_code": "6061"}, "postal_code", "invalid"),
        ({"status": "for_sale"}, "status", "invalid_choice"),
        ({"property_type": "castle"}, "property_type", "invalid_choice"),
        ({"salesforce_account_id": "not-an-id"}, "salesforce_account_id", "invalid"),
    ],
)
def test_invalid_values_are_refused(overrides, field, code):
    assert code in errors_of(make(**overrides))[field]


def test_parcel_id_is_unique():
    make().save()

    assert "unique" in errors_of(make(parcel_id="17042210330000"))["parcel_id"]
    with pytest.raises(IntegrityError), transaction.atomic():
        make(parcel_id="17042210330000").save()


def test_database_refuses_negative_values_that_skip_validation():
    with pytest.raises(IntegrityError), transaction.atomic():
        make(parcel_id="17042210330000", bathrooms=Decimal("-1")).save()
