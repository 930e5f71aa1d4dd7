"""Opening a joint-meeting file for an escalated case, or adding the case to an open file for the same problem."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from deadlines.timing import Timing
from schemas.base import DomainEvent
from schemas.cases import CaseEscalated
from schemas.jointmeeting import (
    CaseAddedToFile,
    EnforcementTaskAssigned,
    JointMeetingFileOpened,
    LeadDecision,
)
from schemas.reference import Bureau, Category
from services.jointmeeting.domain.rules import JointMeetingRules
from services.jointmeeting.domain.state import FileState
from services.jointmeeting.domain.tasks import proposed_due

FILE_STREAM_PREFIX = "jmfile-"


def file_stream(file_id: str) -> str:
    return f"{FILE_STREAM_PREFIX}{file_id}"


def file_id_for(case_id: str, earlier_files: int = 0, prefix: str = "") -> str:
    """The file's id from its first case; a case escalated again after its file closed gets a numbered one.

    Case ids are unique across districts already; the prefix (empty for the founding district, whose
    file ids were issued before Caseline served several) makes the district visible in every file and
    task id, and keeps them apart even if two districts' case ids ever met.
    """
    base = f"jm-{prefix}{case_id.removeprefix('case-')}"
    return base if earlier_files == 0 else f"{base}-r{earlier_files + 1}"


def district_prefix(id_prefix: str) -> str:
    """The registry's id prefix (`shangdang/`) in a form fit for a URL path segment (`shangdang-`)."""
    return id_prefix.replace("/", "-")


def cluster_key(escalation: CaseEscalated) -> tuple[str, str, Category] | None:
    """Cases about the same compound and problem share one file, so one meeting handles the cluster.

    Compound codes are district-local (CP0001 exists in every district), so the district is part of
    the key. Without a known compound there is nothing to say two cases are the same problem.
    """
    if escalation.compound_code is None:
        return None
    return escalation.district, escalation.compound_code, Category(escalation.category)


def open_file(
    escalation: CaseEscalated,
    escalated_at: datetime,
    rules: JointMeetingRules,
    file_id: str,
    timing: Timing,
) -> list[DomainEvent]:
    """The file, then one task per proposed bureau, lead first, so enforcement starts before the meeting
    ("act the moment it is said"); the meeting then confirms, revises or adds tasks. Each task is due by
    the district's SLA policy for the category, in working time from the escalation."""
    category = Category(escalation.category)
    due_at = proposed_due(timing, escalation.district, category, escalated_at)
    proposal = rules.propose(category, list(escalation.bureaus))
    decided_by = f"{rules.version}/{proposal.entry}"
    decision = lead_decision(escalation, proposal.lead, list(proposal.bureaus), decided_by)
    events: list[DomainEvent] = [
        JointMeetingFileOpened(
            case_id=escalation.case_id,
            file_id=file_id,
            district=escalation.district,
            category=category,
            compound_code=escalation.compound_code,
            street_code=escalation.street_code,
            lead_bureau=proposal.lead,
            member_bureaus=list(proposal.bureaus),
            trigger=escalation.trigger,
            lead_decision=decision,
        )
    ]
    for number, bureau in enumerate(proposal.bureaus, start=1):
        action, done_when = rules.action_for(bureau)
        events.append(
            EnforcementTaskAssigned(
                case_id=escalation.case_id,
                file_id=file_id,
                task_id=f"{file_id}-t{number}",
                bureau=bureau,
                is_lead=bureau == proposal.lead,
                action=action,
                due_at=due_at,
                done_when=done_when,
            )
        )
    return events


def add_case(state: FileState, escalation: CaseEscalated) -> list[DomainEvent]:
    """The case joins the file and with it the file's decision on who leads, whatever routing proposed."""
    if escalation.case_id in state.case_ids:
        return []
    decided_by = state.decided_by or f"file {state.file_id}"
    return [
        CaseAddedToFile(
            case_id=escalation.case_id,
            file_id=state.file_id,
            category=state.category,
            compound_code=state.compound_code,
            primary_case_id=state.primary_case_id,
            lead_decision=lead_decision(escalation, state.lead_bureau, state.member_bureaus, decided_by),
        )
    ]


def lead_decision(
    escalation: CaseEscalated, lead: Bureau, members: Sequence[Bureau], decided_by: str
) -> LeadDecision:
    """The decision set against routing's proposal, saying which proposal it overrode and why."""
    proposed = escalation.lead_bureau
    overrode = proposed is not lead
    if overrode:
        reason = (
            f"the joint meeting's rule {decided_by} has {lead.value} lead; routing proposed "
            f"{proposed.value} (rule {escalation.rule_id}), overridden"
        )
    else:
        reason = f"the joint meeting's rule {decided_by} agrees with routing's proposal (rule {escalation.rule_id})"
    return LeadDecision(
        lead_bureau=lead,
        member_bureaus=list(members),
        decided_by=decided_by,
        proposed_lead_bureau=proposed,
        proposed_bureaus=list(escalation.bureaus),
        proposal_rule_id=escalation.rule_id,
        overrode_proposal=overrode,
        reason=reason,
    )
