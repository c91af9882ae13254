"""Our FileMaker solution's listing records, on the generic Data API client.

The `Listings` layout holds one record per listed property: `Parcel ID` (the key we look
records up by), agent, status, showing notes, price and FileMaker's `Modified` timestamp.
Text fields come back as strings (prices may carry `$` and thousands separators; timestamps
follow the server's locale), so they are parsed here, once. A record that does not parse is
BadResponse naming its record id. See clients/filemaker_data_api.py for sessions, finds, errors
and limits.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from clients.core import chunked
from clients.errors import BadResponse
from clients.filemaker_data_api import (
    SERVICE,
    DataApiClient,
    FileMakerConfig,
    FileMakerRecord,
    FoundSet,
    exact_match,
)

#: Field names on the listing layout.
PARCEL_FIELD = "Parcel ID"
LISTING_FIELDS = {
    "agent_name": "Agent Name",
    "agent_email": "Agent Email",
    "listing_status": "Listing Status",
    "showing_notes": "Showing Notes",
    "list_price": "List Price",
    "modified_at": "Modified",
}


@dataclass(frozen=True)
class Listing:
    """A listing record, typed."""

    record_id: str
    mod_id: str
    parcel_id: str
    agent_name: str | None
    agent_email: str | None
    listing_status: str | None
    showing_notes: str | None
    list_price: Decimal | None
    modified_at: datetime | None


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value).replace(",", "").replace("$", ""))
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {type(value).__name__}") from exc


_ISO_TIMESTAMP = re.compile(r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})")
_US_TIMESTAMP = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})")


def _timestamp(value: Any) -> datetime | None:
    """FileMaker timestamps: ISO with dateformats=2, else US `MM/DD/YYYY HH:MM:SS`."""
    if value in (None, ""):
        return None
    text = str(value)
    # by hand rather than strptime (about ten times the cost, once per listing)
    iso = _ISO_TIMESTAMP.fullmatch(text)
    us = None if iso else _US_TIMESTAMP.fullmatch(text)
    found = iso.groups() if iso else None
    if us:
        month, day, year, hour, minute, second = us.groups()
        found = (year, month, day, hour, minute, second)
    if found is None:
        raise ValueError("unrecognised timestamp")
    year, month, day, hour, minute, second = (int(part) for part in found)
    return datetime(year, month, day, hour, minute, second)  # noqa: DTZ001 - FileMaker has no zone


def listing_from_record(record: FileMakerRecord) -> Listing:
    data = record.field_data
    return Listing(
        record_id=record.record_id,
        mod_id=record.mod_id,
        parcel_id=str(data[PARCEL_FIELD]),
        agent_name=_text(data.get(LISTING_FIELDS["agent_name"])),
        agent_email=_text(data.get(LISTING_FIELDS["agent_email"])),
        listing_status=_text(data.get(LISTING_FIELDS["listing_status"])),
        showing_notes=_text(data.get(LISTING_FIELDS["showing_notes"])),
        list_price=_decimal(data.get(LISTING_FIELDS["list_price"])),
        modified_at=_timestamp(data.get(LISTING_FIELDS["modified_at"])),
    )


class FileMakerClient(DataApiClient):
    """Listings by parcel id, by record id, and modId-locked listing edits."""

    async def find_listings(self, *, parcel_ids: Sequence[str]) -> dict[str, Listing]:
        """Listings by parcel id, one `_find` per `batch_size` ids; absent ids are left out.

        Raises:
            ExternalServiceError: the first chunk that failed.
        """
        unique = list(dict.fromkeys(parcel_ids))
        chunks = list(chunked(unique, self.config.batch_size))
        found_sets = await asyncio.gather(
            *(
                self.find_records(
                    queries=[{PARCEL_FIELD: exact_match(pid)} for pid in chunk],
                    limit=len(chunk) * 2,
                )
                for chunk in chunks
            )
        )
        listings: dict[str, Listing] = {}
        for found in found_sets:
            for record in found.records:
                try:
                    listing = listing_from_record(record)
                except (KeyError, ValueError) as exc:
                    raise BadResponse(
                        SERVICE, "find_listings", f"record {record.record_id} has bad fields"
                    ) from exc
                listings.setdefault(listing.parcel_id, listing)
        return listings

    async def get_listing(self, *, record_id: str) -> Listing:
        """One listing by record id.

        Raises:
            NotFound: no such record.
            BadResponse: the record lacks the listing fields.
            ExternalServiceError: any other failure.
        """
        record = await self.get_record(record_id=record_id)
        try:
            return listing_from_record(record)
        except (KeyError, ValueError) as exc:
            raise BadResponse(SERVICE, "get_listing", f"record {record_id} has bad fields") from exc

    async def update_listing(
        self, *, record_id: str, mod_id: str, changes: Mapping[str, Any]
    ) -> str:
        """Change listing fields by their names on `Listing` (agent_name, ...); returns the
        new modId. The same rules as `update_record`: modId-locked, never resent.

        Raises:
            ValueError: a name that is not an editable listing field.
            Conflict: the record changed since `mod_id` was read.
            ExternalServiceError: any other failure.
        """
        editable = {k: v for k, v in LISTING_FIELDS.items() if k != "modified_at"}
        unknown = set(changes) - set(editable)
        if unknown:
            raise ValueError(f"not editable listing fields: {sorted(unknown)}")
        field_data = {editable[k]: "" if v is None else str(v) for k, v in changes.items()}
        return await self.update_record(record_id=record_id, field_data=field_data, mod_id=mod_id)


__all__ = [
    "FileMakerClient",
    "FileMakerConfig",
    "FileMakerRecord",
    "FoundSet",
    "Listing",
    "exact_match",
    "listing_from_record",
]
