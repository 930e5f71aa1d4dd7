"""Deciding the categories of a batch of complaints at once: each label through its platform's taxonomy, all
texts through the classifier in one call (scoring one by one costs several times as much)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from schemas.categorisation import CategoryDecision
from services.intake.domain.classification.classifier import TextClassifier
from services.intake.domain.classification.decision import (
    CategoryQuestion,
    ClassificationPolicy,
    decide_category,
)
from services.intake.domain.classification.taxonomy import Taxonomy

# (platform, district code) -> the taxonomy that reads that platform's labels in that district
TaxonomyOf = Callable[[str, str], Taxonomy]


@dataclass(frozen=True)
class CategoryRequest:
    platform: str
    district: str
    question: CategoryQuestion


@dataclass(frozen=True)
class Categoriser:
    taxonomy_of: TaxonomyOf
    classifier: TextClassifier
    policy: ClassificationPolicy = field(default_factory=ClassificationPolicy)

    def decide_many(self, requests: Sequence[CategoryRequest]) -> list[CategoryDecision | None]:
        """One decision per request (None: neither label nor text says what the problem is)."""
        taxonomies = [self.taxonomy_of(r.platform, r.district) for r in requests]
        matches = [
            t.match(r.question.label) or t.match(r.question.code)
            for t, r in zip(taxonomies, requests, strict=True)
        ]
        texts = [
            r.question.classifier_text(t, m) for r, t, m in zip(requests, taxonomies, matches, strict=True)
        ]
        # Without a description, only a label that maps says what the problem is: the words of an unmapped
        # label alone (其他物业问题) do not, so such a record has no decision (it is refused).
        scored = [
            i
            for i, (r, text) in enumerate(zip(requests, texts, strict=True))
            if r.question.description.strip() and text.strip()
        ]
        predictions = self.classifier.predict_many(
            [texts[i] for i in scored], evidence=[matches[i] is None for i in scored]
        )
        prediction_of = dict(zip(scored, predictions, strict=True))
        contradicted = [
            i
            for i, p in prediction_of.items()
            if (m := matches[i]) is not None
            and p.category is not m.category
            and p.confidence >= self.policy.contradiction_confidence
        ]
        # Evidence is computed only where it is shown: for the classifier's own decisions and contradictions.
        for i, again in zip(
            contradicted, self.classifier.predict_many([texts[i] for i in contradicted]), strict=True
        ):
            prediction_of[i] = again
        return [
            decide_category(r.question, t, m, prediction_of.get(i), self.policy, self.classifier.version)
            for i, (r, t, m) in enumerate(zip(requests, taxonomies, matches, strict=True))
        ]

    def decide(
        self, platform: str, district: str, label: str, description: str, code: str = ""
    ) -> CategoryDecision | None:
        question = CategoryQuestion(label, description, code)
        return self.decide_many([CategoryRequest(platform, district, question)])[0]
