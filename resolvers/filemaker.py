"""FileMaker listings for properties: ListingByParcelLoader, and the client it uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clients.errors import ExternalServiceError, NotFound
from clients.filemaker import FileMakerClient, FileMakerConfig, Listing
from resolvers.errors import graphql_error
from resolvers.loader import ExternalLoader
from resolvers.registry import http_integration


class ListingByParcelLoader(ExternalLoader[str, Listing]):
    service = "filemaker"
    namespace = "listing:v1"
    value_type = Listing
    client: FileMakerClient

    async def fetch(self, keys: list[str]) -> Mapping[str, Listing]:
        return await self.client.find_listings(parcel_ids=keys)

    async def update(
        self, *, parcel_id: str, record_id: str | None, mod_id: str, changes: Mapping[str, Any]
    ) -> Listing:
        """Write listing fields with FileMaker's modId lock; return the listing as stored now.

        Never retried once sent (a lost answer is reported, not resent). The cached listing
        is dropped first so no reader sees the old one as fresh after the write.

        Raises:
            GraphQLError: coded as in resolvers/errors.py (EXTERNAL_SERVICE_CONFLICT when the
                listing changed since `mod_id` was read; NOT_FOUND when there is no listing).
        """
        try:
            if record_id is None:
                found = await self.client.find_listings(parcel_ids=[parcel_id])
                if parcel_id not in found:
                    raise NotFound(self.service, "update_listing", "no listing for this parcel")
                record_id = found[parcel_id].record_id
            await self.client.update_listing(record_id=record_id, mod_id=mod_id, changes=changes)
        except ExternalServiceError as exc:
            raise graphql_error(exc) from exc
        await self.invalidate(parcel_id)
        try:
            listing = await self.client.get_listing(record_id=record_id)
        except ExternalServiceError as exc:
            error = graphql_error(exc)
            error.message = "The listing was saved, but reading it back failed; reload it."
            raise error from exc
        self.loader.prime(parcel_id, listing, force=True)
        return listing


INTEGRATION = http_integration(
    service="filemaker",
    display_name="FileMaker",
    config_class=FileMakerConfig,
    client_class=FileMakerClient,
    loaders={"listing_by_parcel": ListingByParcelLoader},
)
