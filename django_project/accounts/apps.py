from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


def check_persisted_query_manifest(**_: object) -> list[checks.CheckMessage]:
    """With GRAPHQL_PERSISTED_QUERIES=only a bad manifest would refuse every request; say so at
    `manage.py check` (which `make serve` runs) instead."""
    if settings.GRAPHQL_PERSISTED_QUERIES != "only":
        return []
    from schema.persisted_queries import load_manifest

    try:
        manifest = load_manifest(settings.GRAPHQL_PERSISTED_QUERIES_MANIFEST)
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="accounts.E001")]
    if not manifest.by_id:
        return [
            checks.Warning("The persisted-query manifest lists no operations.", id="accounts.W001")
        ]
    return []


class AccountsConfig(AppConfig):
    """API access: bearer tokens, and the persisted-query allow-list's start-up check."""

    name = "django_project.accounts"
    label = "accounts"
    verbose_name = "API access"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        checks.register(check_persisted_query_manifest)
