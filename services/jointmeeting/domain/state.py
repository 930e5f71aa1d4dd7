"""A joint-meeting file's current state, folded from its events.

States are immutable: `evolve` returns a new state and never changes the one it was given, so a command
(or a permission probe) deciding on a state cannot alter it, and nothing needs copying before a commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeVar

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


@dataclass(frozen=True)
class TaskState:
    task_id: str
    bureau: Bureau
    is_lead: bool
    action: str
    done_when: str
    due_at: datetime
    status: TaskStatus = TaskStatus.ASSIGNED
    overdue_for: datetime | None = None  # the deadline it was last marked overdue for
    report_ids: frozenset[str] = frozenset()
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


@dataclass(frozen=True)
class MeetingState:
    meeting_id: str
    scheduled_for: datetime
    held: bool = False


def _nothing() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class FileState:
    file_id: str
    primary_case_id: str
    category: Category
    compound_code: str | None
    street_code: str | None
    lead_bureau: Bureau
    member_bureaus: tuple[Bureau, ...]
    case_ids: tuple[str, ...]
    # Read-only, in the order the tasks were assigned and the meetings scheduled.
    tasks: Mapping[str, TaskState] = field(default_factory=_nothing)
    meetings: Mapping[str, MeetingState] = field(default_factory=_nothing)
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
    """The file after `event`; `state` itself stays as it was."""
    if isinstance(event, JointMeetingFileOpened):
        return FileState(
            file_id=event.file_id,
            primary_case_id=event.case_id,
            category=event.category,
            compound_code=event.compound_code,
            street_code=event.street_code,
            lead_bureau=event.lead_bureau,
            member_bureaus=tuple(event.member_bureaus),
            case_ids=(event.case_id,),
            district=event.district,
            decided_by=event.lead_decision.decided_by if event.lead_decision else "",
        )
    assert state is not None, f"{event.event_type} before the file was opened"
    return _on_file(state, event) or _on_task(state, event) or state


def _on_file(state: FileState, event: DomainEvent) -> FileState | None:
    """The facts about the file and its meetings; None for any other fact."""
    match event:
        case CaseAddedToFile():
            return replace(state, case_ids=(*state.case_ids, event.case_id))
        case EnforcementTaskAssigned():
            task = TaskState(
                event.task_id, event.bureau, event.is_lead, event.action, event.done_when, event.due_at
            )
            members = state.member_bureaus
            if event.bureau not in members:
                members = (*members, event.bureau)
            return replace(state, tasks=_put(state.tasks, task.task_id, task), member_bureaus=members)
        case JointMeetingScheduled():
            meeting = MeetingState(event.meeting_id, event.scheduled_for)
            return replace(state, meetings=_put(state.meetings, meeting.meeting_id, meeting))
        case JointMeetingHeld():
            held = replace(state.meetings[event.meeting_id], held=True)
            return replace(state, meetings=_put(state.meetings, held.meeting_id, held), needs_meeting=False)
        case FileReferredToMeeting():
            return replace(state, needs_meeting=True)
        case JointEnforcementCompleted():
            return replace(state, completed=True)
    return None


def _on_task(state: FileState, event: DomainEvent) -> FileState | None:
    """The facts that change one task that exists already; None for any other fact."""
    match event:
        case EnforcementTaskConfirmed():
            confirmed = state.tasks[event.task_id]
            task = replace(confirmed, action=event.action, done_when=event.done_when, due_at=event.due_at)
        case EnforcementTaskReassigned():
            task = replace(state.tasks[event.task_id], status=TaskStatus.REASSIGNED)
        case EnforcementTaskExtended():
            task = replace(state.tasks[event.task_id], due_at=event.due_at)
        case EnforcementTaskCancelled():
            task = replace(state.tasks[event.task_id], status=TaskStatus.CANCELLED)
        case EnforcementTaskReported():
            reported = state.tasks[event.task_id]
            task = replace(
                reported,
                report_ids=reported.report_ids | {event.report_id},
                status=_STATUS_AFTER_REPORT[event.kind],
                last_note=event.reason or event.note,
            )
        case EnforcementTaskUnableAnswered():
            task = replace(state.tasks[event.task_id], status=TaskStatus.ASSIGNED, last_note=event.answer)
        case EnforcementTaskOverdue():
            task = replace(state.tasks[event.task_id], overdue_for=event.due_at)
        case _:
            return None
    return replace(state, tasks=_put(state.tasks, task.task_id, task))


K = TypeVar("K")
V = TypeVar("V")


def _put(mapping: Mapping[K, V], key: K, value: V) -> Mapping[K, V]:
    """A read-only copy with `key` set; a key already there keeps its place in the order."""
    return MappingProxyType({**mapping, key: value})
