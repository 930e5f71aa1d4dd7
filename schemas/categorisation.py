"""How intake decided a complaint's category: carried on ComplaintReceived, ComplaintMerged and CaseOpened.

Outside systems label problems in their own taxonomies (a 12345 platform's multi-level catalogue, a numeric
code, a web user's pick) or not at all. Intake maps the label through the platform's taxonomy and classifies
the text; this record says which of those decided, how sure it is, what the platform sent, the words that
decided and the runners-up, so routing can send an uncertain case to the centre's triage and staff can see
why a case has the category it has.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from schemas.base import Contract
from schemas.reference import Category


class CategorySource(StrEnum):
    PLATFORM_LABEL = "platform_label"  # the platform sent a Caseline category code or its Chinese label
    MAPPING = "mapping"  # the platform's own label, code or path, mapped by its taxonomy file
    CLASSIFIER = "classifier"  # no usable label: the text classifier decided
    STAFF = "staff"  # the centre recategorised the case


class CategoryCandidate(Contract):
    category: Category
    score: float = Field(ge=0, le=1, description="The classifier's probability for this category")


class CategoryDecision(Contract):
    """The category and how it was decided (see docs/intake-classification.md)."""

    category: Category
    source: CategorySource
    confidence: float = Field(
        ge=0,
        le=1,
        description="How sure intake is of `category`: 1.0 for a label the taxonomy maps (unless contradicted), "
        "the classifier's probability otherwise",
    )
    platform: str | None = Field(
        default=None, description="Whose taxonomy read the label, e.g. 12345-default"
    )
    taxonomy_version: str | None = None
    platform_label: str | None = Field(
        default=None, description="The platform's label, code or path exactly as sent (None: no label)"
    )
    platform_code: str | None = Field(
        default=None, description="The platform's category code, when sent apart"
    )
    matched: str | None = Field(
        default=None, description="The taxonomy entry that matched: a label, a code or a path segment"
    )
    evidence: list[str] = Field(
        default_factory=list, description="The words of the text (or the label) that decided, strongest first"
    )
    candidates: list[CategoryCandidate] = Field(
        default_factory=list, description="The classifier's top three, best first"
    )
    needs_triage: bool = Field(
        default=False,
        description="Too uncertain (or label and text disagree): the centre's triage decides the category",
    )
    contradiction: bool = Field(
        default=False, description="The label mapped, but the text is confidently of another category"
    )
    classifier_version: str | None = Field(
        default=None, description="Digest of the training corpus and model settings that scored the text"
    )
