from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from django_project.accounts.models import ApiToken


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created with `manage.py api_tokens create` (the secret is shown once there);
    here they can be reviewed and revoked."""

    list_display = ("prefix", "name", "user", "status", "created_at", "last_used_at", "expires_at")
    list_filter = ("revoked_at",)
    search_fields = ("prefix", "name", "user__username")
    readonly_fields = ("user", "prefix", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: object) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())  # type: ignore[attr-defined]
        self.message_user(request, f"Revoked {count} token(s).")
