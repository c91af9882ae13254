"""Tax assessments for properties (the loader arrives with the resolvers issue)."""

from __future__ import annotations

from django.conf import settings

from clients.pool import HttpPool
from clients.tax_assessor import TaxAssessorClient, TaxAssessorConfig


def build_client(http: HttpPool) -> TaxAssessorClient:
    return TaxAssessorClient(TaxAssessorConfig(**settings.TAX_ASSESSOR), http=http)
