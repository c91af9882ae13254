"""`python manage.py warm_cache`: prefetch every property's external fields into the cache."""

from __future__ import annotations

import asyncio
import collections
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from django_project.properties.models import Property, PropertyStatus
from resolvers import registry
from resolvers.context import Loaders
from resolvers.upstreams import close_upstreams

RESULTS = ("fetched", "hit", "missing", "negative_hit", "stale", "failed")


def row_label(loader_class: type[Any]) -> str:
    """The report's row for a loader: its system, and the kind of record when the system has
    several (`legacy_permits (permits)`), so each row counts one key per property."""
    service = loader_class.service
    siblings = [cls for cls in registry.loader_classes().values() if cls.service == service]
    if len(siblings) == 1:
        return str(service)
    return f"{service} ({loader_class.namespace.split(':')[0]})"


class Command(BaseCommand):
    help = (
        "Fetch the external fields of all or some properties (every system in "
        "EXTERNAL_SYSTEMS) through the same loaders the API uses, one batch at a time (one "
        "upstream call per system per batch), and report per system what was fetched, already "
        "cached, missing upstream, or failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--city", help="Only properties in this city (case-insensitive).")
        parser.add_argument(
            "--status", choices=PropertyStatus.values, help="Only properties with this status."
        )
        parser.add_argument(
            "--batch-size", type=int, default=100, help="Properties per batch (default 100)."
        )
        parser.add_argument(
            "--pause",
            type=float,
            default=0.0,
            help="Seconds to wait between batches, to stay under upstream rate limits.",
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1 <= options["batch_size"] <= 1000:
            raise CommandError("--batch-size must be between 1 and 1000.")
        if options["pause"] < 0:
            raise CommandError("--pause cannot be negative.")
        rows = Property.objects.order_by("pk")
        if options["city"]:
            rows = rows.filter(city__iexact=options["city"])
        if options["status"]:
            rows = rows.filter(status=options["status"])
        loader_classes = list(registry.loader_classes().values())
        fields = {name for cls in loader_classes for name in cls.key_fields}
        keys = [
            {cls: cls.key_for(row) for cls in loader_classes} for row in rows.only(*sorted(fields))
        ]
        if settings.CACHE_CONFIG["backend"] == "memory":
            self.stderr.write(
                "Note: CACHE_URL is memory://, which lives inside one process; warming it "
                "helps only this process. Use Redis to warm the cache the server reads."
            )
        totals = asyncio.run(self._warm(keys, options))
        self._report(len(keys), totals)
        if any(t["failed"] for t in totals.values()):
            raise CommandError("Some fields could not be fetched; see the failed column.")

    async def _warm(
        self, keys: list[dict[Any, Any]], options: dict[str, Any]
    ) -> dict[str, collections.Counter[str]]:
        totals: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        size = options["batch_size"]
        try:
            with tqdm(
                total=len(keys),
                unit="property",
                disable=options["no_progress"],
                file=self.stderr,
            ) as bar:
                for start in range(0, len(keys), size):
                    batch = keys[start : start + size]
                    loaders = Loaders()
                    # Failures are counted in each loader's tally, not raised.
                    await asyncio.gather(
                        *(
                            loaders.get(cls).load(key)
                            for row_keys in batch
                            for cls, key in row_keys.items()
                        ),
                        return_exceptions=True,
                    )
                    for loader in loaders.built.values():
                        totals[row_label(type(loader))].update(loader.tally)
                    bar.update(len(batch))
                    if options["pause"] and start + size < len(keys):
                        await asyncio.sleep(options["pause"])
        finally:
            await close_upstreams()
        return totals

    def _report(self, count: int, totals: dict[str, collections.Counter[str]]) -> None:
        self.stdout.write(f"Warmed {count} properties.")
        width = max([14, *(len(label) + 2 for label in totals)])
        header = f"{'system':<{width}}" + "".join(f"{name:>14}" for name in RESULTS)
        self.stdout.write(header)
        for label, tally in sorted(totals.items()):
            self.stdout.write(f"{label:<{width}}" + "".join(f"{tally[n]:>14}" for n in RESULTS))
