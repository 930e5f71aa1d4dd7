"""Opening a case: the facts routing records when it takes ownership of a complaint."""

from __future__ import annotations

from schemas.base import DomainEvent
from schemas.cases import CaseEscalated, CaseOpened, CaseRouted, EscalationTrigger
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
    )


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
