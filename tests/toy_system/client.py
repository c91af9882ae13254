"""clients/toy.py: a client for the toy system's one endpoint, GET /things?ids=a,b."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from clients.core import chunked
from clients.http import HttpClient, HttpConfig


@dataclass(frozen=True, kw_only=True)
class ToyConfig(HttpConfig):
    api_key: str = field(repr=False)


@dataclass(frozen=True)
class Thing:
    parcel_id: str
    name: str


class ToyClient(HttpClient):
    service = "toy"
    config: ToyConfig

    async def _auth_headers(self, attempt: int) -> dict[str, str]:
        return {"X-Api-Key": self.config.api_key}

    async def things(self, *, parcel_ids: Sequence[str]) -> dict[str, Thing]:
        """Things by parcel id, one request per `keys_per_call` ids (its batch size)."""

        def parse(response: httpx.Response) -> dict[str, Thing]:
            return {t["id"]: Thing(t["id"], t["name"]) for t in response.json()["things"]}

        found: dict[str, Thing] = {}
        for chunk in chunked(list(parcel_ids), self.keys_per_call):
            found.update(
                await self._call(
                    "GET",
                    f"{self.config.base_url}/things",
                    operation="things",
                    params={"ids": ",".join(chunk)},
                    parse=parse,
                )
            )
        return found
