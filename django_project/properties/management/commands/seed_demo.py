"""`python manage.py seed_demo --count N`: load the deterministic demo data set."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from django_project.properties.demo_data import (
    DEFAULT_SEED,
    MAX_COUNT,
    DemoProperty,
    demo_properties,
)
from django_project.properties.models import Property

BATCH_SIZE = 500


class Command(BaseCommand):
    help = (
        "Create or refresh N realistic demo properties. Deterministic for a given --seed and "
        "idempotent: running it again updates the same rows instead of adding more."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=200, help="How many (default 200).")
        parser.add_argument(
            "--seed", type=int, default=DEFAULT_SEED, help=f"Data seed (default {DEFAULT_SEED})."
        )

    def handle(self, *args: Any, count: int, seed: int, **options: Any) -> None:
        if not 0 < count <= MAX_COUNT:
            raise CommandError(f"--count must be between 1 and {MAX_COUNT}, got {count}.")
        rows = []
        for item in demo_properties(count, seed):
            row = Property(**dataclasses.asdict(item))
            try:
                row.full_clean(validate_unique=False)
            except ValidationError as exc:  # a generator bug, not user input: fail loudly
                raise CommandError(f"demo row {item.parcel_id} is invalid: {exc}") from exc
            rows.append(row)
        update_fields = [f.name for f in dataclasses.fields(DemoProperty) if f.name != "parcel_id"]
        existing = Property.objects.filter(parcel_id__in=[r.parcel_id for r in rows]).count()
        with transaction.atomic():
            Property.objects.bulk_create(
                rows,
                batch_size=BATCH_SIZE,
                update_conflicts=True,
                unique_fields=["parcel_id"],
                update_fields=[*update_fields, "updated_at"],
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {count} demo properties (seed {seed}): {count - existing} created, "
                f"{existing} refreshed. {Property.objects.count()} properties in the database."
            )
        )
