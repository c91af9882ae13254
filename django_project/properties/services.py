"""Write paths for properties, outside the GraphQL layer so commands and the admin can share."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from django_project.properties.models import Property

#: Fields a client may change; identifiers, links to external systems and timestamps are not.
EDITABLE_FIELDS = frozenset(
    {
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
    }
)


def update_property(pk: int, changes: dict[str, Any]) -> Property:
    """Apply `changes` atomically after full model validation; nothing is written when invalid.

    Raises:
        Property.DoesNotExist: no property has this primary key.
        django.core.exceptions.ValidationError: a change breaks a model rule; nothing changed.
    """
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    with transaction.atomic():
        prop = Property.objects.select_for_update().get(pk=pk)
        for field, value in changes.items():
            setattr(prop, field, value)
        prop.full_clean()
        if changes:
            prop.save(update_fields=[*changes, "updated_at"])
    # Re-read so callers see stored values (515000 comes back as 515000.00, as on every read).
    prop.refresh_from_db()
    return prop
