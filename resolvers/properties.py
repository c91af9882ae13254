"""Property rows by key, batched per request like every other field.

Everything that names properties by key goes through one DataLoader per request: federation's
`_entities(representations: [...])` (by `id` or `parcelId`), the root fields `property(id)` and
`propertyByParcel(parcelId)` however many aliases ask, and the lookups `propertiesByIds` and
`propertiesByParcelIds` that stitching gateways batch through. N keys cost one database query
per key kind used, whatever N is, and because every row arrives in the same tick, their
external fields batch together too (one upstream call per system). strawberry-django's
generated resolve_reference, and one `afirst()` per root field, ran a query each and let the
external fields leave in as many batches as the rows arrived.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asgiref.sync import sync_to_async
from graphql import GraphQLError
from strawberry.dataloader import DataLoader

from django_project.properties.models import Property
from django_project.properties.validators import PARCEL_ID_RE, normalize_parcel_id


def _bad_key(representation: Mapping[str, Any]) -> GraphQLError:
    return GraphQLError(
        "A Property representation needs an `id` (a positive integer) or a `parcelId` "
        f"(14 digits); got keys {sorted(representation)}.",
        extensions={"code": "BAD_USER_INPUT"},
    )


class PropertyByKeyLoader:
    """One loader for both key kinds, so every property a request names by key resolves in the
    same tick and their external fields batch together (one upstream call per system)."""

    def __init__(self) -> None:
        self.loader: DataLoader[tuple[str, Any], Property | None] = DataLoader(load_fn=self._load)

    async def by_id(self, pk: int) -> Property | None:
        return await self.loader.load(("pk", pk))

    async def by_parcel(self, parcel_id: str) -> Property | None:
        """`parcel_id` normalised (14 digits)."""
        return await self.loader.load(("parcel_id", parcel_id))

    async def load(self, representation: Mapping[str, Any]) -> Property | None:
        """The Property a representation names, or None when there is none.

        Raises:
            GraphQLError: BAD_USER_INPUT when the representation carries no usable key.
        """
        raw_id = str(representation.get("id", "")).strip()
        if raw_id:
            if not (raw_id.isascii() and raw_id.isdigit() and 0 < len(raw_id) <= 18):
                raise _bad_key(representation)
            return await self.loader.load(("pk", int(raw_id)))
        parcel = normalize_parcel_id(str(representation.get("parcelId", "")))
        if not PARCEL_ID_RE.match(parcel):
            raise _bad_key(representation)
        return await self.loader.load(("parcel_id", parcel))

    @staticmethod
    async def _load(keys: list[tuple[str, Any]]) -> list[Property | None]:
        found: dict[tuple[str, Any], Property] = {}
        for kind, rows in (await sync_to_async(_rows_by_kind)(keys)).items():
            for prop in rows:
                found[(kind, getattr(prop, kind))] = prop
        return [found.get(key) for key in keys]


def _rows_by_kind(keys: list[tuple[str, Any]]) -> dict[str, list[Property]]:
    """One query per key kind, in one trip to the database thread (`async for` over a
    queryset hops to the thread and back once per chunk and once more to learn it ended)."""
    by_kind: dict[str, list[Property]] = {}
    for kind in ("pk", "parcel_id"):
        values = [value for k, value in keys if k == kind]
        if values:
            by_kind[kind] = list(Property.objects.filter(**{f"{kind}__in": values}))
    return by_kind
