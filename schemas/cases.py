"""Events routing publishes on caseline.cases.v1."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from schemas.base import DomainEvent
from schemas.personal_data import FreeText
from schemas.reference import FOUNDING_DISTRICT, Bureau, Category, Channel, DistrictCode, Level, Urgency


class CaseOpened(DomainEvent):
    """Routing took ownership of a complaint as a case."""

    event_type = "CaseOpened"

    complaint_id: str
    district: DistrictCode = Field(
        default=FOUNDING_DISTRICT, description="The district that handles the case"
    )
    channel: Channel
    category: Category
    urgency: Urgency
    received_at: datetime
    compound_code: str | None
    street_code: str | None
    complainant_id: str


class RoutedUnit(StrEnum):
    """Kinds of unit a case can be routed to."""

    CENTRE_TRIAGE = "centre_triage"
    CENTRE = "centre"
    STREET = "street"
    COMMUNITY = "community"


class CaseRouted(DomainEvent):
    """The case was sent to a unit at one of the three levels."""

    event_type = "CaseRouted"

    level: Level
    unit_code: str = Field(description="Directory code of the centre, street or community that handles it")
    unit_name: str
    rule_id: str = Field(description="The routing rule that decided, so the routing can be explained")
    rules_version: str
    reason: FreeText
    due_at: datetime | None = Field(default=None, description="When the case should be resolved (SLA)")


class EscalationTrigger(StrEnum):
    CROSS_DEPARTMENT = "cross_department"
    GROUP_COMPLAINT = "group_complaint"
    REPEATED_REOPENING = "repeated_reopening"
    REPEATED_RETURN = "repeated_return"
    UNIT_REQUEST = "unit_request"
    SLA_WATCH = "sla_watch"


class CaseEscalated(DomainEvent):
    """The case went to the district property-management joint meeting."""

    event_type = "CaseEscalated"

    trigger: EscalationTrigger
    district: DistrictCode = Field(
        default=FOUNDING_DISTRICT, description="Whose joint meeting takes it: each district has its own"
    )
    category: Category
    compound_code: str | None
    street_code: str | None
    bureaus: list[Bureau] = Field(description="Member bureaus that must act, lead first")
    lead_bureau: Bureau
    rule_id: str
    rules_version: str
    reason: FreeText
    due_at: datetime | None = Field(default=None, description="When the case should be resolved (SLA)")


# The case lifecycle after routing: accepted → in progress → resolved → called back → closed (or reopened).


class CaseAccepted(DomainEvent):
    """The unit the case was routed to took it on."""

    event_type = "CaseAccepted"

    unit_code: str


class CaseProgressNoted(DomainEvent):
    """The handling unit recorded progress; photos are references to a store, never the bytes."""

    event_type = "CaseProgressNoted"

    unit_code: str
    note: FreeText
    photo_refs: list[str] = Field(default_factory=list)


class ResolvedBy(StrEnum):
    UNIT = "unit"
    JOINT_MEETING = "joint_meeting"


class CaseResolved(DomainEvent):
    """The problem was dealt with; the complainant is called back next."""

    event_type = "CaseResolved"

    resolved_by: ResolvedBy
    unit_code: str | None = Field(description="The unit that resolved it; None when the joint meeting did")
    resolution: FreeText = Field(description="How the problem was resolved")
    joint_meeting_file_id: str | None = None


class CallbackOutcome(StrEnum):
    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    DISSATISFIED = "dissatisfied"  # 不满意


class CaseCalledBack(DomainEvent):
    """Callback staff asked the complainant about the resolution (回访)."""

    event_type = "CaseCalledBack"

    outcome: CallbackOutcome
    note: FreeText = ""


class CaseClosed(DomainEvent):
    """The case is finished. Closed iff the latest of CaseClosed/CaseReopened is CaseClosed."""

    event_type = "CaseClosed"

    outcome: CallbackOutcome
    reopen_count: int = Field(ge=0, description="How often the case had been reopened before closing")


class ReopenReason(StrEnum):
    DISSATISFIED = "dissatisfied"
    REPEAT_COMPLAINT = "repeat_complaint"


class CaseReopened(DomainEvent):
    """The complainant was dissatisfied or complained again; the case goes back to its last handler."""

    event_type = "CaseReopened"

    reason: ReopenReason
    reopen_count: int = Field(ge=1, description="How often the case has now been reopened")
    unit_code: str | None = Field(description="The unit the case goes back to; None: the joint meeting")
    detail: FreeText = ""
    due_at: datetime | None = Field(default=None, description="The new resolution deadline")


class CaseReturned(DomainEvent):
    """A unit sent the case back as not its responsibility (退单); a re-routing or escalation follows."""

    event_type = "CaseReturned"

    unit_code: str
    level: Level
    reason: FreeText = Field(min_length=1)
    return_count: int = Field(ge=1, description="How often the case has now been returned")


class CoComplainantAdded(DomainEvent):
    """A further complaint about the same problem was merged into the case (intake's ComplaintMerged)."""

    event_type = "CoComplainantAdded"

    complaint_id: str
    channel: Channel
    complainant_id: str = Field(description="Pseudonymous id, never the phone number")
    complainant_count: int = Field(ge=2)
