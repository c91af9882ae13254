"""County assessments for properties: TaxAssessmentByParcelLoader, and the client it uses."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings

from clients.pool import PoolFactory
from clients.tax_assessor import Assessment, TaxAssessorClient, TaxAssessorConfig
from resolvers.loader import ExternalLoader


def build_client(new_pool: PoolFactory) -> TaxAssessorClient:
    config = TaxAssessorConfig(**settings.TAX_ASSESSOR)
    return TaxAssessorClient(config, http=new_pool(max_connections=config.max_connections))


class TaxAssessmentByParcelLoader(ExternalLoader[str, Assessment]):
    service = "tax_assessor"
    namespace = "tax:v1"
    value_type = Assessment
    client: TaxAssessorClient

    async def fetch(self, keys: list[str]) -> Mapping[str, Assessment]:
        return await self.client.get_assessments(parcel_ids=keys)
