"""`python manage.py export_stitching_schema [--path schema.stitching.graphql]`: write the SDL a
schema-stitching gateway reads (schema/stitching.py), as `make schema` does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from schema.stitching import stitching_sdl


class Command(BaseCommand):
    help = (
        "Write the schema with graphql-tools' stitching directives (also served at "
        "GET /graphql/stitching.graphql) to a file, or to standard output."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--path", help="File to write (default: standard output).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["path"]:
            Path(options["path"]).write_text(stitching_sdl(), encoding="utf-8")
        else:
            self.stdout.write(stitching_sdl(), ending="")
