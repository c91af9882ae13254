"""County assessments for properties: TaxAssessmentByParcelLoader, and the client it uses."""

from __future__ import annotations

from collections.abc import Mapping

from clients.tax_assessor import Assessment, TaxAssessorClient, TaxAssessorConfig
from resolvers.loader import ExternalLoader
from resolvers.registry import http_integration


class TaxAssessmentByParcelLoader(ExternalLoader[str, Assessment]):
    service = "tax_assessor"
    namespace = "tax:v1"
    value_type = Assessment
    client: TaxAssessorClient

    async def fetch(self, keys: list[str]) -> Mapping[str, Assessment]:
        return await self.client.get_assessments(parcel_ids=keys)


INTEGRATION = http_integration(
    service="tax_assessor",
    display_name="The tax assessor",
    config_class=TaxAssessorConfig,
    client_class=TaxAssessorClient,
    loaders={"tax_by_parcel": TaxAssessmentByParcelLoader},
)
