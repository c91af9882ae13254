"""`python manage.py seed_legacy_permits`: the legacy permits database's schema and rows for the
demo parcels (the same seed as `seed_demo`), in whichever database the URL names."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError

from django_project.properties.models import Property
from emulators.legacy_permits import seed


def writable_url(url: str) -> str:
    """The synchronous, writable form of a client URL: the SQLite file without `mode=ro`;
    for MariaDB the same server and database through PyMySQL (give an account that may
    write with --url)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = (parsed.database or "").removeprefix("file:")
        return f"sqlite:///{path}"
    return parsed.set(drivername="mysql+pymysql").render_as_string(hide_password=False)


class Command(BaseCommand):
    help = (
        "Create the legacy permits database's schema (tables, the status lookup table, the "
        "views the product reads) and its rows for the demo parcels, replacing what is there. "
        "Without --url: the SQLite file LEGACY_PERMITS_URL names (the demo's stand-in)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--url",
            help="SQLAlchemy URL of an account that may create tables "
            "(mysql+pymysql://root@127.0.0.1:3306/permits, or sqlite:///path).",
        )
        parser.add_argument(
            "--count",
            type=int,
            help="Demo parcels to write permits for (default: the properties seeded here).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["url"] or writable_url(settings.LEGACY_PERMITS["url"])
        count = options["count"] or Property.objects.count() or 200
        if count < 1:
            raise CommandError("--count must be at least 1.")
        try:
            written = seed(url, count)
        except SQLAlchemyError as exc:
            raise CommandError(
                f"Could not write the legacy schema ({type(exc).__name__}); may the account "
                "in --url create tables?"
            ) from exc
        shown = ", ".join(f"{n} {table}" for table, n in written.items())
        self.stdout.write(f"Seeded the legacy permits database for {count} parcels: {shown}.")
