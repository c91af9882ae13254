"""seed_demo: deterministic, idempotent, realistic."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from django_project.properties.models import Property

pytestmark = pytest.mark.django_db

COLUMNS = (
    "parcel_id",
    "street_address",
    "city",
    "state",
    "postal_code",
    "property_type",
    "bedrooms",
    "bathrooms",
    "square_feet",
    "year_built",
    "list_price",
    "status",
    "filemaker_record_id",
    "salesforce_account_id",
)


def rows() -> list[tuple]:
    return list(Property.objects.order_by("parcel_id").values_list(*COLUMNS))


def seed(**options) -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def test_default_count_is_200_and_rows_are_valid():
    output = seed()

    assert Property.objects.count() == 200
    assert "200 created, 0 refreshed" in output
    for prop in Property.objects.all():
        prop.full_clean()


def test_running_twice_changes_nothing():
    seed(count=50)
    first = rows()

    output = seed(count=50)

    assert rows() == first
    assert "0 created, 50 refreshed" in output


def test_growing_the_set_keeps_existing_rows():
    seed(count=30)
    small = rows()

    seed(count=60)

    assert Property.objects.count() == 60
    assert set(small) <= set(rows())


def test_same_seed_same_data_other_seed_other_data():
    seed(count=20, seed=7)
    seven = rows()
    Property.objects.all().delete()
    seed(count=20, seed=7)
    assert rows() == seven

    Property.objects.all().delete()
    seed(count=20, seed=8)
    assert rows() != seven


def test_data_is_varied_like_a_real_portfolio():
    seed(count=200)

    assert Property.objects.values("city").distinct().count() >= 8
    assert Property.objects.values("status").distinct().count() == 5
    assert Property.objects.values("property_type").distinct().count() == 6
    linked = Property.objects.exclude(salesforce_account_id=None).count()
    assert 150 <= linked < 200  # most, not all, owners are in Salesforce
    assert Property.objects.filter(list_price=None).count() > 0


def test_count_out_of_range_is_refused():
    with pytest.raises(CommandError, match="--count must be between 1"):
        seed(count=0)
    assert Property.objects.count() == 0
