"""The properties our business keeps. External systems add to them; this table is the anchor."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.validators import (
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
)
from django.db import models

from django_project.properties.validators import (
    normalize_parcel_id,
    validate_parcel_id,
    validate_year_built,
)


class PropertyType(models.TextChoices):
    SINGLE_FAMILY = "single_family", "Single-family home"
    CONDO = "condo", "Condominium"
    TOWNHOUSE = "townhouse", "Townhouse"
    MULTI_FAMILY = "multi_family", "Multi-family (2-6 units)"
    LAND = "land", "Vacant land"
    COMMERCIAL = "commercial", "Commercial"


class PropertyStatus(models.TextChoices):
    COMING_SOON = "coming_soon", "Coming soon"
    ACTIVE = "active", "Active"
    PENDING = "pending", "Under contract"
    SOLD = "sold", "Sold"
    OFF_MARKET = "off_market", "Off market"


class Property(models.Model):
    """A real-estate property we list or manage, identified across systems by its parcel id."""

    parcel_id = models.CharField(
        max_length=14,
        unique=True,
        validators=[validate_parcel_id],
        help_text="County parcel identifier (14-digit PIN, no dashes); the key the tax assessor "
        "and FileMaker use.",
    )
    street_address = models.CharField(
        max_length=200, help_text="Street number and name, with unit if any."
    )
    city = models.CharField(max_length=100, db_index=True, help_text="City or village.")
    state = models.CharField(
        max_length=2,
        validators=[RegexValidator(r"^[A-Z]{2}$", "Use the two-letter USPS state code.")],
        help_text="Two-letter USPS state code.",
    )
    postal_code = models.CharField(
        max_length=10,
        validators=[RegexValidator(r"^\d{5}(-\d{4})?$", "Use a ZIP or ZIP+4 code.")],
        help_text="ZIP or ZIP+4 code.",
    )
    property_type = models.CharField(
        max_length=20,
        choices=PropertyType.choices,
        default=PropertyType.SINGLE_FAMILY,
        help_text="Kind of property.",
    )
    bedrooms = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(100)],
        help_text="Number of bedrooms (0 for land and studios).",
    )
    bathrooms = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
        help_text="Number of bathrooms; a half bath counts 0.5.",
    )
    square_feet = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MaxValueValidator(10_000_000)],
        help_text="Finished living area in square feet; null when unknown.",
    )
    year_built = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[validate_year_built],
        help_text="Year construction finished; null when unknown.",
    )
    list_price = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Asking price in US dollars; null when not listed.",
    )
    status = models.CharField(
        max_length=20,
        choices=PropertyStatus.choices,
        default=PropertyStatus.COMING_SOON,
        db_index=True,
        help_text="Where the property is in the sales cycle.",
    )
    filemaker_record_id = models.CharField(
        max_length=32,
        null=True,
        blank=True,
        validators=[RegexValidator(r"^\d+$", "FileMaker record ids are numeric strings.")],
        help_text="Record id of the listing in the FileMaker solution, when linked.",
    )
    salesforce_account_id = models.CharField(
        max_length=18,
        null=True,
        blank=True,
        validators=[
            RegexValidator(
                r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$",
                "Salesforce ids are 15 or 18 letters and digits.",
            )
        ],
        help_text="Id of the owner's Account in Salesforce, when linked.",
    )
    created_at = models.DateTimeField(auto_now_add=True, help_text="When the row was created.")
    updated_at = models.DateTimeField(auto_now=True, help_text="When the row last changed.")

    class Meta:
        verbose_name_plural = "properties"
        ordering = ("id",)
        indexes = (models.Index(fields=("status", "list_price"), name="property_status_price_idx"),)
        constraints = (
            models.CheckConstraint(
                condition=models.Q(bathrooms__gte=0), name="property_bathrooms_non_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(list_price__isnull=True) | models.Q(list_price__gte=0),
                name="property_list_price_non_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=PropertyStatus.values), name="property_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(property_type__in=PropertyType.values),
                name="property_type_valid",
            ),
        )

    def __str__(self) -> str:
        return f"{self.street_address}, {self.city} ({self.parcel_id})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The canonical PIN is what other systems are queried by, even for callers that
        # skipped full_clean().
        self.parcel_id = normalize_parcel_id(self.parcel_id)
        super().save(*args, **kwargs)

    def clean_fields(self, exclude: set[str] | None = None) -> None:
        self.parcel_id = normalize_parcel_id(self.parcel_id)
        if self.state:
            self.state = self.state.strip().upper()
        super().clean_fields(exclude=exclude)

    @property
    def address_key(self) -> tuple[str, str, str, str]:
        """The address as the geocoder takes it: street, city, state, postal code."""
        return (self.street_address, self.city, self.state, self.postal_code)

    @property
    def full_address(self) -> str:
        """One-line address, the form geocoders take."""
        return f"{self.street_address}, {self.city}, {self.state} {self.postal_code}"
