"""County assessments for properties: TaxAssessmentByParcelLoader, and the client it uses."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings

from clients.pool import HttpPool
from clients.tax_assessor import Assessment, TaxAssessorClient, TaxAssessorConfig
from resolvers.loader import ExternalLoader


def build_client(http: HttpPool) -> TaxAssessorClient:
    return TaxAssessorClient(TaxAssessorConfig(**settings.TAX_ASSESSOR), http=http)


class TaxAssessmentByParcelLoader(ExternalLoader[str, Assessment]):
    service = "tax_assessor"
    namespace = "tax:v1"
    value_type = Assessment
    client: TaxAssessorClient

    async def fetch(self, keys: list[str]) -> Mapping[str, Assessment]:
        return await self.client.get_assessments(parcel_ids=keys)
