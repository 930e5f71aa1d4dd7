"""Events the joint meeting publishes on caseline.jointmeeting.v1."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from schemas.base import Contract, DomainEvent
from schemas.bureau import EvidenceRef, ReportKind
from schemas.cases import EscalationTrigger
from schemas.personal_data import FreeText
from schemas.reference import FOUNDING_DISTRICT, Bureau, Category, DistrictCode


class LeadDecision(Contract):
    """Who leads a joint enforcement and with whom, as the joint meeting decided it against routing's proposal.

    Routing proposes (CaseEscalated's lead_bureau and bureaus, with its rule id); the joint meeting
    decides, once per file, by its own rules. Every later view and topic uses the decision.
    """

    lead_bureau: Bureau = Field(description="The decided lead")
    member_bureaus: list[Bureau] = Field(description="The decided member bureaus, lead first")
    decided_by: str = Field(
        description="The joint-meeting rule that decided: `<rules version>/<entry>`, e.g. 2026.11.1/security_access"
    )
    proposed_lead_bureau: Bureau | None = Field(
        description="Routing's proposed lead (CaseEscalated.lead_bureau)"
    )
    proposed_bureaus: list[Bureau] = Field(default_factory=list, description="Routing's proposed bureaus")
    proposal_rule_id: str | None = Field(default=None, description="The routing rule the proposal came from")
    overrode_proposal: bool = Field(description="True when the decided lead is not the proposed one")
    reason: str = Field(description="Why: the rule's lead, and which proposal it overrode")


class JointMeetingFileOpened(DomainEvent):
    """The joint-meeting office opened a file for an escalated case; its lead and members are the decision."""

    event_type = "JointMeetingFileOpened"

    file_id: str
    district: DistrictCode = Field(
        default=FOUNDING_DISTRICT, description="Whose joint meeting holds the file"
    )
    category: Category
    compound_code: str | None
    street_code: str | None
    lead_bureau: Bureau = Field(description="The decided lead (see lead_decision)")
    member_bureaus: list[Bureau] = Field(description="The decided member bureaus, lead first")
    trigger: EscalationTrigger | None = Field(default=None, description="Why routing escalated the case")
    lead_decision: LeadDecision | None = Field(
        default=None,
        description="How the lead was decided and which proposal it overrode (absent before 2026-12)",
    )


class EnforcementTaskAssigned(DomainEvent):
    """One member bureau got its part of the joint enforcement."""

    event_type = "EnforcementTaskAssigned"

    file_id: str
    task_id: str
    bureau: Bureau
    is_lead: bool
    action: FreeText
    due_at: datetime = Field(
        description="Deadline for the bureau to report the task done, as the joint meeting decided it (unless "
        "a meeting or the office named a date: the SLA policy's task budget, in working days from the "
        "assignment); the SLA's task clock (<case>/task/<task id>) takes exactly this instant"
    )
    done_when: FreeText = Field(description="What counts as done")
    meeting_id: str | None = Field(default=None, description="The meeting that decided it; None: on opening")


class JointEnforcementCompleted(DomainEvent):
    """Every task of the file is done and the office verified it on site; routing's case continues."""

    event_type = "JointEnforcementCompleted"

    file_id: str
    verified_by: str = Field(description="Staff id of the joint-meeting office member who verified on site")
    verified_at: datetime
    tasks_done: int
    summary: FreeText


class CaseAddedToFile(DomainEvent):
    """A further escalated case about the same compound and problem joined an open file (one meeting)."""

    event_type = "CaseAddedToFile"

    file_id: str
    category: Category
    compound_code: str | None
    primary_case_id: str = Field(description="The case the file was opened for; file events are keyed by it")
    lead_decision: LeadDecision | None = Field(
        default=None,
        description="The file's decided lead and members, against this case's own proposal (absent before 2026-12)",
    )


class JointMeetingScheduled(DomainEvent):
    event_type = "JointMeetingScheduled"

    file_id: str
    meeting_id: str
    scheduled_for: datetime
    place: FreeText = ""


class MeetingDecision(Contract):
    """One decision of a meeting: an enforcement task for one bureau."""

    task_id: str
    bureau: Bureau
    action: FreeText
    due_at: datetime
    done_when: FreeText
    confirms_existing: bool = Field(description="True when the meeting confirmed a task already assigned")


class JointMeetingHeld(DomainEvent):
    event_type = "JointMeetingHeld"

    file_id: str
    meeting_id: str
    held_at: datetime
    attendees: list[Bureau]
    decisions: list[MeetingDecision]
    minutes: FreeText = ""
    lead_bureau: Bureau | None = Field(default=None, description="The file's decided lead after the meeting")
    member_bureaus: list[Bureau] = Field(
        default_factory=list,
        description="The file's member bureaus after the meeting's decisions, lead first",
    )


class EnforcementTaskConfirmed(DomainEvent):
    """A meeting confirmed (possibly revised) the terms of a task assigned before it."""

    event_type = "EnforcementTaskConfirmed"

    file_id: str
    task_id: str
    meeting_id: str
    bureau: Bureau
    action: FreeText
    due_at: datetime = Field(description="The deadline the meeting decided; the SLA's task clock moves to it")
    done_when: FreeText


class EnforcementTaskReassigned(DomainEvent):
    """The task moved to another bureau; the new bureau gets it as a new task (`new_task_id`)."""

    event_type = "EnforcementTaskReassigned"

    file_id: str
    task_id: str
    from_bureau: Bureau
    to_bureau: Bureau
    new_task_id: str
    reason: FreeText


class EnforcementTaskExtended(DomainEvent):
    event_type = "EnforcementTaskExtended"

    file_id: str
    task_id: str
    bureau: Bureau
    previous_due_at: datetime
    due_at: datetime
    reason: FreeText


class EnforcementTaskCancelled(DomainEvent):
    event_type = "EnforcementTaskCancelled"

    file_id: str
    task_id: str
    bureau: Bureau
    reason: FreeText


class EnforcementTaskReported(DomainEvent):
    """A bureau reported on its task (over HTTP or its reports topic: the same fact either way)."""

    event_type = "EnforcementTaskReported"

    file_id: str
    task_id: str
    bureau: Bureau
    report_id: str
    kind: ReportKind
    note: FreeText = ""
    evidence: list[EvidenceRef] = Field(default_factory=list)
    reason: FreeText = ""
    reported_at: datetime
    via: str = Field(description="http or topic")


class EnforcementTaskUnableAnswered(DomainEvent):
    """The office answered a bureau's 'unable' report; the task is the bureau's to act on again."""

    event_type = "EnforcementTaskUnableAnswered"

    file_id: str
    task_id: str
    bureau: Bureau
    answer: FreeText


class EnforcementTaskOverdue(DomainEvent):
    """The task passed its deadline undone; recorded once per deadline (an extension can make it due again)."""

    event_type = "EnforcementTaskOverdue"

    file_id: str
    task_id: str
    bureau: Bureau
    due_at: datetime
    detected_at: datetime


class FileReferredToMeeting(DomainEvent):
    """Tasks are failing (unable or overdue): the file goes on the next meeting's agenda."""

    event_type = "FileReferredToMeeting"

    file_id: str
    reason: FreeText
    task_ids: list[str]


JOINT_MEETING_EVENTS: tuple[type[DomainEvent], ...] = (
    JointMeetingFileOpened,
    EnforcementTaskAssigned,
    JointEnforcementCompleted,
    CaseAddedToFile,
    JointMeetingScheduled,
    JointMeetingHeld,
    EnforcementTaskConfirmed,
    EnforcementTaskReassigned,
    EnforcementTaskExtended,
    EnforcementTaskCancelled,
    EnforcementTaskReported,
    EnforcementTaskUnableAnswered,
    EnforcementTaskOverdue,
    FileReferredToMeeting,
)
