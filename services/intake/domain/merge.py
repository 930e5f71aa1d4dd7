"""Merging: many people reporting one problem join the first open case as co-complainants.

Rule `same-compound-category-window`: a complaint whose compound is known with enough confidence joins
the earliest still-open case of the same compound and category whose first complaint was received within
the window (either side) of this one. Merging is off when the window is zero. Compound codes are
district-local (CP0001 exists in every district), so the key is (district, compound, category).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from schemas.complaints import ComplaintReceived
from schemas.reference import Category

RULE_SAME_COMPOUND_CATEGORY = "same-compound-category-window"


@dataclass(frozen=True)
class MergePolicy:
    window: timedelta
    min_confidence: float = 0.7  # an abbreviation-only guess is not enough to fold someone into a case

    @property
    def enabled(self) -> bool:
        return self.window > timedelta(0)


@dataclass
class OpenCase:
    case_id: str
    district: str
    compound_code: str
    category: Category
    first_received_at: datetime
    complainant_count: int


@dataclass(frozen=True)
class MergeDecision:
    case_id: str
    rule: str
    reason: str
    complainant_count: int


MergeKey = tuple[str, str, Category]  # (district, compound code, category)


def merge_key(complaint: ComplaintReceived, policy: MergePolicy) -> MergeKey | None:
    """The key a complaint can merge on, or None when it can only open a case of its own."""
    if not policy.enabled or complaint.compound_code is None:
        return None
    decision = complaint.category_decision
    if decision is not None and decision.needs_triage:
        return None  # an uncertain category is no ground for joining someone else's case
    if (complaint.compound_confidence or 0) < policy.min_confidence:
        return None
    return complaint.district, complaint.compound_code, complaint.category


def decide_merge(
    complaint: ComplaintReceived, candidates: list[OpenCase], policy: MergePolicy
) -> MergeDecision | None:
    """Join the earliest open case in the window; the candidate's count is raised for later decisions."""
    in_window = [
        case for case in candidates if abs(case.first_received_at - complaint.received_at) <= policy.window
    ]
    if not in_window:
        return None
    target = min(in_window, key=lambda case: (case.first_received_at, case.case_id))
    target.complainant_count += 1
    gap = complaint.received_at - target.first_received_at
    reason = (
        f"compound {target.compound_code} and category {target.category.value} match open case "
        f"{target.case_id}, first reported {target.first_received_at.isoformat()} "
        f"({_hours(gap)} apart, window {_hours(policy.window)})"
    )
    return MergeDecision(target.case_id, RULE_SAME_COMPOUND_CATEGORY, reason, target.complainant_count)


def _hours(delta: timedelta) -> str:
    return f"{abs(delta.total_seconds()) / 3600:.1f} h"
