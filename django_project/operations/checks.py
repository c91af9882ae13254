"""System checks about how the API is operated (`manage.py check`, which `make serve` runs)."""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


def check_persisted_query_manifest(**_: object) -> list[checks.CheckMessage]:
    """With GRAPHQL_PERSISTED_QUERIES=only a bad manifest would refuse every request; say so at
    `manage.py check` (which `make serve` runs) instead."""
    if settings.GRAPHQL_PERSISTED_QUERIES != "only":
        return []
    from schema.persisted_queries import load_manifest  # the schema needs the apps ready

    try:
        manifest = load_manifest(settings.GRAPHQL_PERSISTED_QUERIES_MANIFEST)
    except ImproperlyConfigured as exc:
        # The ids keep the app they were first registered under: SILENCED_SYSTEM_CHECKS and
        # people's notes name them so.
        return [checks.Error(str(exc), id="accounts.E001")]
    if not manifest.by_id:
        return [
            checks.Warning("The persisted-query manifest lists no operations.", id="accounts.W001")
        ]
    return []
