"""The county tax assessor's part of the schema: the assessment and Property.taxAssessment."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum

import strawberry

from resolvers.tax_assessor import TaxAssessmentByParcelLoader
from schema.external import external_field


@strawberry.enum(description="How final an assessment is, from first notice to appeal outcome.")
class AssessmentStage(Enum):
    MAILED = "mailed"
    CERTIFIED = "certified"
    BOARD_OF_REVIEW = "board"


@strawberry.type(
    description="The county's latest assessment of the parcel (assessed values: about 10% of "
    "market value for Cook County homes). No tax amounts: the assessor does not publish them."
)
class TaxAssessment:
    tax_year: int = strawberry.field(description="Assessment year.")
    stage: AssessmentStage = strawberry.field(
        description="MAILED (assessor's first notice), CERTIFIED (after assessor appeals) or "
        "BOARD_OF_REVIEW (final)."
    )
    land_value: Decimal | None = strawberry.field(description="Assessed value of the land.")
    building_value: Decimal | None = strawberry.field(
        description="Assessed value of the buildings."
    )
    total_value: Decimal | None = strawberry.field(description="Total assessed value.")
    property_class: str | None = strawberry.field(description="County property class code.")
    township: str | None = strawberry.field(description="Assessment township.")


@strawberry.type
class PropertyFields:
    """Property's fields owned by the county tax assessor."""

    tax_assessment: TaxAssessment | None = external_field(
        TaxAssessmentByParcelLoader,
        TaxAssessment,
        description="The county's latest assessment; null when the county has none, or with "
        "an error when the assessor's service fails.",
    )
