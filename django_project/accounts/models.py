"""API tokens: bearer credentials for servers and single-page apps, stored as digests only."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "pgt_"  # noqa: S105 - a marker for secret scanners, not a secret
#: Characters of the token kept in clear so people can tell their tokens apart.
SHOWN_CHARS = 12


def digest(token: str) -> str:
    """SHA-256, not a password hash: tokens carry 256 random bits, so a slow hash would add
    latency to every request without making a guess any likelier to succeed."""
    return hashlib.sha256(token.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A bearer token acting as its user. The token itself is shown once, at creation."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What uses the token, e.g. 'web app'.")
    prefix = models.CharField(max_length=SHOWN_CHARS, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name}, {self.user})"

    @classmethod
    def issue(
        cls, user: models.Model, name: str, expires_in: timedelta | None = None
    ) -> tuple[ApiToken, str]:
        """Create a token; returns the row and the only copy of the secret."""
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(
            user=user,
            name=name,
            prefix=secret[:SHOWN_CHARS],
            digest=digest(secret),
            expires_at=timezone.now() + expires_in if expires_in else None,
        )
        return token, secret

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"
