"""County assessments for properties: TaxAssessmentByParcelLoader, and the client it uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings

from clients.pool import HttpPool
from clients.tax_assessor import Assessment, TaxAssessorClient, TaxAssessorConfig
from resolvers.cache import from_json, to_json
from resolvers.loader import ExternalLoader


def build_client(http: HttpPool) -> TaxAssessorClient:
    return TaxAssessorClient(TaxAssessorConfig(**settings.TAX_ASSESSOR), http=http)


class TaxAssessmentByParcelLoader(ExternalLoader[str, Assessment]):
    service = "tax_assessor"
    namespace = "tax:v1"
    client: TaxAssessorClient

    async def fetch(self, keys: list[str]) -> Mapping[str, Assessment]:
        return await self.client.get_assessments(parcel_ids=keys)

    def encode(self, value: Assessment) -> Any:
        return to_json(value)

    def decode(self, data: Any) -> Assessment:
        return from_json(Assessment, data)
