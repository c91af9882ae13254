from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """API access: bearer tokens."""

    name = "django_project.accounts"
    label = "accounts"
    verbose_name = "API access"
    default_auto_field = "django.db.models.BigAutoField"
