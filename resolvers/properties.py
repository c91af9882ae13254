"""Federation entities: representations -> Property rows, batched like every other field.

A gateway sends `_entities(representations: [...])` with one entry per Property it needs, keyed
by `id` or by `parcelId`. One DataLoader takes both, so N representations cost one database
query per key kind used, whatever N is (strawberry-django's generated resolve_reference runs
one query per representation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    """One loader for both key kinds, so every entity of an `_entities` call resolves in the
    same tick and their external fields batch together (one upstream call per system)."""

    def __init__(self) -> None:
        self.loader: DataLoader[tuple[str, Any], Property | None] = DataLoader(load_fn=self._load)

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
        for kind in ("pk", "parcel_id"):
            values = [value for k, value in keys if k == kind]
            if values:
                async for prop in Property.objects.filter(**{f"{kind}__in": values}):
                    found[(kind, getattr(prop, kind))] = prop
        return [found.get(key) for key in keys]
