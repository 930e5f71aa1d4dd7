"""A joint-meeting file's current state, folded from its events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.base import DomainEvent
from schemas.bureau import OPEN_STATUSES, ReportKind, TaskStatus
from schemas.jointmeeting import (
    CaseAddedToFile,
    EnforcementTaskAssigned,
    EnforcementTaskCancelled,
    EnforcementTaskConfirmed,
    EnforcementTaskExtended,
    EnforcementTaskOverdue,
    EnforcementTaskReassigned,
    EnforcementTaskReported,
    EnforcementTaskUnableAnswered,
    FileReferredToMeeting,
    JointEnforcementCompleted,
    JointMeetingFileOpened,
    JointMeetingHeld,
    JointMeetingScheduled,
)
from schemas.reference import FOUNDING_DISTRICT, Bureau, Category

_STATUS_AFTER_REPORT = {
    ReportKind.ACCEPTED: TaskStatus.ACCEPTED,
    ReportKind.PROGRESS: TaskStatus.IN_PROGRESS,
    ReportKind.DONE: TaskStatus.DONE,
    ReportKind.UNABLE: TaskStatus.UNABLE,
}


@dataclass
class TaskState:
    task_id: str
    bureau: Bureau
    is_lead: bool
    action: str
    done_when: str
    due_at: datetime
    status: TaskStatus = TaskStatus.ASSIGNED
    overdue_for: datetime | None = None  # the deadline it was last marked overdue for
    report_ids: set[str] = field(default_factory=set)
    last_note: str = ""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def overdue(self) -> bool:
        return self.is_open and self.overdue_for == self.due_at

    @property
    def counts(self) -> bool:
        """Cancelled and reassigned tasks no longer count towards completion."""
        return self.status not in (TaskStatus.CANCELLED, TaskStatus.REASSIGNED)


@dataclass
class MeetingState:
    meeting_id: str
    scheduled_for: datetime
    held: bool = False


@dataclass
class FileState:
    file_id: str
    primary_case_id: str
    category: Category
    compound_code: str | None
    street_code: str | None
    lead_bureau: Bureau
    member_bureaus: list[Bureau]
    case_ids: list[str]
    tasks: dict[str, TaskState] = field(default_factory=dict)
    meetings: dict[str, MeetingState] = field(default_factory=dict)
    needs_meeting: bool = False
    completed: bool = False
    # Whose joint meeting holds the file; compound and street codes are local to it.
    district: str = FOUNDING_DISTRICT
    decided_by: str = ""  # the rule that decided the lead (files opened before it was recorded: "")

    def task(self, task_id: str) -> TaskState | None:
        return self.tasks.get(task_id)

    def next_task_id(self) -> str:
        return f"{self.file_id}-t{len(self.tasks) + 1}"

    def next_meeting_id(self) -> str:
        return f"{self.file_id}-m{len(self.meetings) + 1}"


def fold(events: list[DomainEvent]) -> FileState | None:
    state: FileState | None = None
    for event in events:
        state = evolve(state, event)
    return state


def evolve(state: FileState | None, event: DomainEvent) -> FileState:
    if isinstance(event, JointMeetingFileOpened):
        return FileState(
            file_id=event.file_id,
            primary_case_id=event.case_id,
            category=event.category,
            compound_code=event.compound_code,
            street_code=event.street_code,
            lead_bureau=event.lead_bureau,
            member_bureaus=list(event.member_bureaus),
            case_ids=[event.case_id],
            district=event.district,
            decided_by=event.lead_decision.decided_by if event.lead_decision else "",
        )
    assert state is not None, f"{event.event_type} before the file was opened"
    _apply(state, event)
    return state


def _apply(state: FileState, event: DomainEvent) -> None:
    match event:
        case CaseAddedToFile():
            state.case_ids.append(event.case_id)
        case EnforcementTaskAssigned():
            state.tasks[event.task_id] = TaskState(
                event.task_id, event.bureau, event.is_lead, event.action, event.done_when, event.due_at
            )
            if event.bureau not in state.member_bureaus:
                state.member_bureaus.append(event.bureau)
        case JointMeetingScheduled():
            state.meetings[event.meeting_id] = MeetingState(event.meeting_id, event.scheduled_for)
        case JointMeetingHeld():
            state.meetings[event.meeting_id].held = True
            state.needs_meeting = False
        case EnforcementTaskConfirmed():
            task = state.tasks[event.task_id]
            task.action, task.done_when, task.due_at = event.action, event.done_when, event.due_at
        case EnforcementTaskReassigned():
            state.tasks[event.task_id].status = TaskStatus.REASSIGNED
        case EnforcementTaskExtended():
            state.tasks[event.task_id].due_at = event.due_at
        case EnforcementTaskCancelled():
            state.tasks[event.task_id].status = TaskStatus.CANCELLED
        case EnforcementTaskReported():
            task = state.tasks[event.task_id]
            task.report_ids.add(event.report_id)
            task.status = _STATUS_AFTER_REPORT[event.kind]
            task.last_note = event.reason or event.note
        case EnforcementTaskUnableAnswered():
            task = state.tasks[event.task_id]
            task.status, task.last_note = TaskStatus.ASSIGNED, event.answer
        case EnforcementTaskOverdue():
            state.tasks[event.task_id].overdue_for = event.due_at
        case FileReferredToMeeting():
            state.needs_meeting = True
        case JointEnforcementCompleted():
            state.completed = True
