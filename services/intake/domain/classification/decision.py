"""The rule that combines the platform's label and the text classifier into one CategoryDecision.

- The label maps (a Caseline label, or the platform's taxonomy): its category, confidence 1.0, unless the
  text is confidently of another category (the classifier gives its own top category at least
  `contradiction_confidence`): then the label's category is kept — a person chose it — but the decision is
  flagged as a contradiction and goes to the centre's triage with the candidates, the text's category first.
- No label, or one the taxonomy does not know: the classifier decides from the text (and the label's
  meaningful words); below `min_confidence` the complaint goes to the centre's triage with the top three.
- No label that maps and no text: nothing says what the problem is, so there is no decision (a refusal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.categorisation import CategoryCandidate, CategoryDecision, CategorySource
from services.intake.domain.classification.classifier import Prediction
from services.intake.domain.classification.taxonomy import LabelMatch, Taxonomy


@dataclass(frozen=True)
class ClassificationPolicy:
    min_confidence: float = 0.45  # below it, the classifier's guess goes to triage
    contradiction_confidence: float = 0.8  # the text this sure of another category contradicts the label


@dataclass(frozen=True)
class CategoryQuestion:
    """What a complaint says about its category: the label as sent, and the text."""

    label: str
    description: str
    code: str = ""  # the taxonomy's code, when the platform sends it apart from the label

    def classifier_text(self, taxonomy: Taxonomy, match: LabelMatch | None) -> str:
        """The description; for a label the taxonomy does not know, its meaningful words too."""
        if match is not None or not self.label.strip():
            return self.description
        return " ".join([*taxonomy.meaningful_levels(self.label), self.description])


def decide_category(
    question: CategoryQuestion,
    taxonomy: Taxonomy,
    match: LabelMatch | None,
    prediction: Prediction | None,
    policy: ClassificationPolicy,
    classifier_version: str | None = None,
) -> CategoryDecision | None:
    """The decision, or None when neither the label nor the text says what the problem is."""
    common: dict[str, Any] = {
        "platform": taxonomy.platform,
        "taxonomy_version": taxonomy.version,
        "platform_label": question.label.strip() or None,
        "platform_code": question.code.strip() or None,
        "classifier_version": classifier_version if prediction is not None else None,
    }
    if match is not None:
        return _labelled(match, prediction, policy, common)
    if prediction is None:
        return None
    return CategoryDecision(
        category=prediction.category,
        source=CategorySource.CLASSIFIER,
        confidence=round(prediction.confidence, 4),
        evidence=list(prediction.evidence),
        candidates=prediction.candidates(),
        needs_triage=prediction.confidence < policy.min_confidence,
        **common,
    )


def _labelled(
    match: LabelMatch, prediction: Prediction | None, policy: ClassificationPolicy, common: dict[str, Any]
) -> CategoryDecision:
    contradiction = (
        prediction is not None
        and prediction.category is not match.category
        and prediction.confidence >= policy.contradiction_confidence
    )
    # A label that stands needs no runners-up (and every record carries its decision: keep it small).
    candidates = prediction.candidates() if prediction is not None and contradiction else []
    if contradiction and prediction is not None and match.category not in {c.category for c in candidates}:
        score = round(prediction.probability(match.category), 4)
        candidates = [*candidates[:2], CategoryCandidate(category=match.category, score=score)]
    return CategoryDecision(
        category=match.category,
        source=match.source,
        confidence=round(prediction.probability(match.category), 4)
        if contradiction and prediction is not None
        else 1.0,
        matched=match.matched,
        evidence=list(prediction.evidence) if contradiction and prediction is not None else [match.matched],
        candidates=candidates,
        needs_triage=contradiction,
        contradiction=contradiction,
        **common,
    )
