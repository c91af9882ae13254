from django.contrib import admin

from django_project.properties.models import Property


@admin.register(Property)
class PropertyAdmin(admin.ModelAdmin):
    list_display = (
        "parcel_id",
        "street_address",
        "city",
        "property_type",
        "status",
        "list_price",
        "bedrooms",
        "updated_at",
    )
    list_filter = ("status", "property_type", "city", "state")
    search_fields = ("parcel_id", "street_address", "city", "postal_code", "salesforce_account_id")
    readonly_fields = ("created_at", "updated_at")
    ordering = ("-updated_at",)
    list_per_page = 50
    fieldsets = (
        (None, {"fields": ("parcel_id", "status", "property_type", "list_price")}),
        ("Address", {"fields": ("street_address", "city", "state", "postal_code")}),
        ("Details", {"fields": ("bedrooms", "bathrooms", "square_feet", "year_built")}),
        ("External systems", {"fields": ("filemaker_record_id", "salesforce_account_id")}),
        ("History", {"fields": ("created_at", "updated_at")}),
    )
