"""Bearer-token authentication for the GraphQL endpoint."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from django_project.accounts.models import TOKEN_PREFIX, ApiToken, digest

#: last_used_at is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=5)


class InvalidApiTokenError(Exception):
    """The Authorization header is present but does not identify an active token."""


async def authenticate_bearer(authorization: str) -> Any:
    """The active user an `Authorization: Bearer <token>` header stands for."""
    scheme, _, secret = authorization.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise InvalidApiTokenError("The Authorization header must be 'Bearer <API token>'.")
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        raise InvalidApiTokenError("Invalid API token.")
    token = await ApiToken.objects.select_related("user").filter(digest=digest(secret)).afirst()
    if token is None:
        raise InvalidApiTokenError("Invalid API token.")
    if token.status != "active":
        raise InvalidApiTokenError(f"This API token is {token.status}; ask for a new one.")
    if not token.user.is_active:
        raise InvalidApiTokenError("The account this API token belongs to is disabled.")
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        await ApiToken.objects.filter(pk=token.pk).aupdate(last_used_at=now)
    return token.user
