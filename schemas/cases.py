"""Events routing publishes on caseline.cases.v1."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from schemas.base import DomainEvent
from schemas.categorisation import CategoryDecision
from schemas.personal_data import FreeText
from schemas.reference import FOUNDING_DISTRICT, Bureau, Category, Channel, DistrictCode, Level, Urgency

# Routing used to compute a deadline of its own; the SLA's clocks are now the only source of a case's deadline.
SUPERSEDED_DUE_AT = (
    "Superseded, no longer set: the case's deadline is its SLA resolve clock's "
    "(SlaClockStarted / SlaClockRetargeted on caseline.sla.v1, clock <case>/resolve/<reopen count>); "
    "older events may carry routing's own estimate, which nothing reads any more"
)


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
    category_decision: CategoryDecision | None = Field(
        default=None,
        description="How intake decided the category; needs_triage sends it to the centre's triage",
    )


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
    due_at: datetime | None = Field(default=None, description=SUPERSEDED_DUE_AT)


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
    bureaus: list[Bureau] = Field(
        description="Routing's proposal of the member bureaus, lead first; the joint meeting decides "
        "(JointMeetingFileOpened / CaseAddedToFile name the decided ones)"
    )
    lead_bureau: Bureau = Field(
        description="Routing's proposed lead; the joint meeting decides the lead (JointMeetingFileOpened)"
    )
    rule_id: str = Field(description="The routing rule the proposal comes from")
    rules_version: str
    reason: FreeText
    due_at: datetime | None = Field(default=None, description=SUPERSEDED_DUE_AT)


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
    evidence_refs: list[str] = Field(
        default_factory=list,
        description="References to the evidence of the resolution (photo or document ids), none when absent",
    )


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
    due_at: datetime | None = Field(default=None, description=SUPERSEDED_DUE_AT)


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


class CaseRecategorised(DomainEvent):
    """The centre corrected the case's category; a CaseRouted or CaseEscalated follows when the new category
    belongs to another unit or to the joint meeting."""

    event_type = "CaseRecategorised"

    district: DistrictCode = Field(default=FOUNDING_DISTRICT, description="The district of the case")
    from_category: Category
    to_category: Category
    reason: FreeText = Field(min_length=1, description="Why staff corrected it, in their words")
    recategorised_by: str = Field(description="Who corrected it: <unit>/<staff id>")
    replaced_decision: CategoryDecision | None = Field(
        default=None, description="The decision it replaced (intake's, or an earlier correction)"
    )
    decision: CategoryDecision = Field(description="The new decision, source staff")
