"""Opening a case: the facts routing records when it takes ownership of a complaint."""

from __future__ import annotations

from schemas.base import DomainEvent
from schemas.cases import CaseEscalated, CaseOpened, CaseRouted, EscalationTrigger
from schemas.categorisation import CategoryDecision
from schemas.complaints import ComplaintReceived
from services.routing.domain.routing import CaseFacts, Decision, RouteToUnit


def case_stream(case_id: str) -> str:
    return f"case-{case_id}"


def facts_of(complaint: ComplaintReceived) -> CaseFacts:
    return CaseFacts(
        category=complaint.category.value,
        urgency=complaint.urgency.value,
        compound_code=complaint.compound_code,
        street_code=complaint.street_code,
        category_triage=category_triage_reason(complaint.category_decision),
    )


def category_triage_reason(decision: CategoryDecision | None) -> str | None:
    """Why the category needs a person, naming the candidates; None when it stands."""
    if decision is None or not decision.needs_triage:
        return None
    candidates = ", ".join(f"{c.category.value} {c.score:.2f}" for c in decision.candidates) or "none"
    if decision.contradiction:
        why = (
            f"the label {decision.platform_label or decision.platform_code!r} says {decision.category.value} "
            "but the description says otherwise"
        )
    else:
        why = f"the category is uncertain ({decision.category.value}, confidence {decision.confidence:.2f})"
    return f"{why}; candidates: {candidates}; the centre decides the category"


def open_case(complaint: ComplaintReceived, decision: Decision, rules_version: str) -> list[DomainEvent]:
    """CaseOpened, then CaseRouted or CaseEscalated: the case's first facts, in order. No deadline: the
    SLA starts the case's clocks from these facts, and its policy decides when the case is due."""
    opened = CaseOpened(
        case_id=complaint.case_id,
        complaint_id=complaint.complaint_id,
        district=complaint.district,
        channel=complaint.channel,
        category=complaint.category,
        urgency=complaint.urgency,
        received_at=complaint.received_at,
        compound_code=complaint.compound_code,
        street_code=complaint.street_code,
        complainant_id=complaint.complainant_id,
        category_decision=complaint.category_decision,
    )
    if isinstance(decision, RouteToUnit):
        return [
            opened,
            CaseRouted(
                case_id=complaint.case_id,
                level=decision.level,
                unit_code=decision.unit_code,
                unit_name=decision.unit_name,
                rule_id=decision.rule_id,
                rules_version=rules_version,
                reason=decision.reason,
            ),
        ]
    return [
        opened,
        CaseEscalated(
            case_id=complaint.case_id,
            trigger=EscalationTrigger.CROSS_DEPARTMENT,
            district=complaint.district,
            category=complaint.category,
            compound_code=complaint.compound_code,
            street_code=complaint.street_code,
            bureaus=list(decision.bureaus),
            lead_bureau=decision.lead,
            rule_id=decision.rule_id,
            rules_version=rules_version,
            reason=decision.reason,
        ),
    ]
