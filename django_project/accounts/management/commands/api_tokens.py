"""Create, list and revoke API tokens.

manage.py api_tokens create --user alice --name "web app" [--expires-in-days 90]
manage.py api_tokens list [--user alice]
manage.py api_tokens revoke pgt_AbC12345
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from django.utils import timezone

from django_project.accounts.models import ApiToken


class Command(BaseCommand):
    help = "Create, list and revoke bearer API tokens for the GraphQL endpoint."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="Issue a token; prints it once.")
        create.add_argument("--user", required=True, help="Username the token acts as.")
        create.add_argument("--name", required=True, help="What will use the token.")
        create.add_argument("--expires-in-days", type=int, default=None)
        listing = actions.add_parser("list", help="Show tokens (never their secrets).")
        listing.add_argument("--user", default=None)
        revoke = actions.add_parser("revoke", help="Revoke a token by id or shown prefix.")
        revoke.add_argument("token", help="The id or the prefix `list` shows (pgt_...).")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        getattr(self, f"_{action}")(**options)

    def _create(self, user: str, name: str, expires_in_days: int | None, **_: Any) -> None:
        if expires_in_days is not None and expires_in_days < 1:
            raise CommandError("--expires-in-days must be at least 1.")
        try:
            owner = get_user_model().objects.get(username=user)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {user!r}.") from None
        if not owner.is_active:
            raise CommandError(f"User {user!r} is disabled.")
        expires = timedelta(days=expires_in_days) if expires_in_days else None
        token, secret = ApiToken.issue(owner, name, expires)
        self.stderr.write(
            f"Token {token.pk} for {owner} ({name}). Store it now: it is not kept and "
            "cannot be shown again. Send it as `Authorization: Bearer <token>`."
        )
        self.stdout.write(secret)

    def _list(self, user: str | None, **_: Any) -> None:
        tokens = ApiToken.objects.select_related("user")
        if user:
            tokens = tokens.filter(user__username=user)
        self.stdout.write(f"{'id':>5}  {'prefix':<12}  {'status':<8}  {'user':<16}  name")
        for token in tokens:
            used = token.last_used_at.isoformat(timespec="minutes") if token.last_used_at else "-"
            self.stdout.write(
                f"{token.pk:>5}  {token.prefix:<12}  {token.status:<8}  "
                f"{token.user.get_username():<16}  {token.name} (last used {used})"
            )

    def _revoke(self, token: str, **_: Any) -> None:
        match = Q(prefix=token) | (Q(pk=int(token)) if token.isdigit() else Q(pk__in=[]))
        found = list(ApiToken.objects.filter(match))
        if not found:
            raise CommandError(f"No token with id or prefix {token!r}.")
        if len(found) > 1:
            raise CommandError(f"{len(found)} tokens match {token!r}; revoke by id.")
        if found[0].revoked_at is None:
            found[0].revoked_at = timezone.now()
            found[0].save(update_fields=["revoked_at"])
        self.stdout.write(f"Revoked token {found[0].pk} ({found[0].prefix}, {found[0].name}).")
