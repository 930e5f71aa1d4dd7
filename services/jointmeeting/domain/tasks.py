"""What the office and the bureaus do to enforcement tasks, and the service's own overdue marking."""

from __future__ import annotations

from datetime import datetime

from deadlines.timing import Timing
from schemas.base import DomainEvent
from schemas.bureau import BureauReport, ReportKind, TaskStatus
from schemas.jointmeeting import (
    EnforcementTaskAssigned,
    EnforcementTaskCancelled,
    EnforcementTaskExtended,
    EnforcementTaskOverdue,
    EnforcementTaskReassigned,
    EnforcementTaskReported,
    EnforcementTaskUnableAnswered,
    FileReferredToMeeting,
)
from schemas.reference import Bureau, Category
from schemas.sla import ClockMeasure
from services.jointmeeting.domain.errors import Conflict, InvalidCommand, NotFound, WrongBureau
from services.jointmeeting.domain.state import FileState, TaskState


def open_file_state(state: FileState) -> None:
    if state.completed:
        raise Conflict(f"file {state.file_id} is complete; nothing more can change")


def open_task(state: FileState, task_id: str) -> TaskState:
    open_file_state(state)
    task = state.task(task_id)
    if task is None:
        raise NotFound(f"no task {task_id!r} in file {state.file_id}")
    if not task.is_open:
        raise Conflict(f"task {task_id} is {task.status.value}, no longer open")
    return task


def proposed_due(timing: Timing, district: str, category: Category, since: datetime) -> datetime:
    """A task's deadline when nobody decided another: the district's SLA policy's task budget for the
    category, counted on the working calendar from `since` (the same code the task's SLA clock counts with)."""
    return timing.in_district(district).task_due(category, since).at


def time_left(
    timing: Timing, district: str, category: Category, due_at: datetime, now: datetime
) -> tuple[float, bool]:
    """A task's time left as its SLA task clock counts it: in the measure of the policy's task rule (True:
    working time), negative by how late it is."""
    measure = timing.in_district(district).policy.task_deadline(category).budget.measure
    return timing.calendar.left(measure, due_at, now), measure is ClockMeasure.WORKING


def assign_task(
    state: FileState,
    bureau: Bureau,
    action: str,
    due_at: datetime | None,
    done_when: str,
    now: datetime,
    timing: Timing,
) -> list[DomainEvent]:
    """A new task for a bureau, due when the office says, else when the SLA policy says."""
    open_file_state(state)
    if due_at is None:
        due_at = proposed_due(timing, state.district, state.category, now)
    _future(due_at, now)
    return [_assigned(state, state.next_task_id(), bureau, action, due_at, done_when)]


def reassign_task(
    state: FileState,
    task_id: str,
    to_bureau: Bureau,
    reason: str,
    now: datetime,
    due_at: datetime | None = None,
) -> list[DomainEvent]:
    """The old bureau's task closes as reassigned; the new bureau gets the same work as a new task."""
    task = open_task(state, task_id)
    if to_bureau == task.bureau:
        raise InvalidCommand(f"task {task_id} already belongs to {to_bureau.value}")
    if due_at is not None:
        _future(due_at, now)
    new_task_id = state.next_task_id()
    # Without a new deadline the new bureau keeps the old one, or "now" if it had passed (overdue at once).
    due_at = due_at or max(now, task.due_at)
    return [
        EnforcementTaskReassigned(
            case_id=state.primary_case_id,
            file_id=state.file_id,
            task_id=task_id,
            from_bureau=task.bureau,
            to_bureau=to_bureau,
            new_task_id=new_task_id,
            reason=reason,
        ),
        _assigned(state, new_task_id, to_bureau, task.action, due_at, task.done_when),
    ]


def extend_task(
    state: FileState, task_id: str, due_at: datetime, reason: str, now: datetime
) -> list[DomainEvent]:
    task = open_task(state, task_id)
    _future(due_at, now)
    if due_at <= task.due_at:
        raise InvalidCommand(f"due_at must be later than the current deadline {task.due_at.isoformat()}")
    return [
        EnforcementTaskExtended(
            case_id=state.primary_case_id,
            file_id=state.file_id,
            task_id=task_id,
            bureau=task.bureau,
            previous_due_at=task.due_at,
            due_at=due_at,
            reason=reason,
        )
    ]


def cancel_task(state: FileState, task_id: str, reason: str) -> list[DomainEvent]:
    task = open_task(state, task_id)
    return [
        EnforcementTaskCancelled(
            case_id=state.primary_case_id,
            file_id=state.file_id,
            task_id=task_id,
            bureau=task.bureau,
            reason=reason,
        )
    ]


def record_report(state: FileState, report: BureauReport, via: str) -> list[DomainEvent]:
    """The bureau's report as a fact; the same report id again changes nothing (HTTP retry, topic resend)."""
    task = state.task(report.task_id)
    if task is None:
        raise NotFound(f"no task {report.task_id!r}")
    if report.bureau != task.bureau:
        raise WrongBureau(f"task {report.task_id} is not a task of {report.bureau.value}")
    if report.report_id in task.report_ids:
        return []
    open_task(state, report.task_id)
    events: list[DomainEvent] = [
        EnforcementTaskReported(
            case_id=state.primary_case_id,
            file_id=state.file_id,
            task_id=task.task_id,
            bureau=task.bureau,
            report_id=report.report_id,
            kind=report.kind,
            note=report.note,
            evidence=list(report.evidence),
            reason=report.reason,
            reported_at=report.reported_at,
            via=via,
        )
    ]
    if report.kind is ReportKind.UNABLE:
        events += _refer(
            state, f"{task.bureau.value} cannot do {task.task_id}: {report.reason}", [task.task_id]
        )
    return events


def answer_unable(state: FileState, task_id: str, answer: str) -> list[DomainEvent]:
    task = open_task(state, task_id)
    if task.status is not TaskStatus.UNABLE:
        raise Conflict(f"task {task_id} is {task.status.value}; only an 'unable' report is answered")
    return [
        EnforcementTaskUnableAnswered(
            case_id=state.primary_case_id,
            file_id=state.file_id,
            task_id=task_id,
            bureau=task.bureau,
            answer=answer,
        )
    ]


def mark_overdue(state: FileState, now: datetime) -> list[DomainEvent]:
    """Once per task and deadline: marking again at the same deadline records nothing."""
    if state.completed:
        return []
    late = [t for t in state.tasks.values() if t.is_open and t.due_at <= now and t.overdue_for != t.due_at]
    events: list[DomainEvent] = [
        EnforcementTaskOverdue(
            case_id=state.primary_case_id,
            file_id=state.file_id,
            task_id=task.task_id,
            bureau=task.bureau,
            due_at=task.due_at,
            detected_at=now,
        )
        for task in late
    ]
    if late:
        events += _refer(state, "overdue: " + ", ".join(t.task_id for t in late), [t.task_id for t in late])
    return events


def _refer(state: FileState, reason: str, task_ids: list[str]) -> list[DomainEvent]:
    """A failing task puts the file on the next meeting's agenda, so it never silently stalls."""
    if state.needs_meeting:
        return []
    return [
        FileReferredToMeeting(
            case_id=state.primary_case_id, file_id=state.file_id, reason=reason, task_ids=task_ids
        )
    ]


def _assigned(
    state: FileState, task_id: str, bureau: Bureau, action: str, due_at: datetime, done_when: str
) -> EnforcementTaskAssigned:
    return EnforcementTaskAssigned(
        case_id=state.primary_case_id,
        file_id=state.file_id,
        task_id=task_id,
        bureau=bureau,
        is_lead=bureau == state.lead_bureau,
        action=action,
        due_at=due_at,
        done_when=done_when,
    )


def _future(due_at: datetime, now: datetime) -> None:
    if due_at.tzinfo is None:
        raise InvalidCommand("due_at must carry a UTC offset")
    if due_at <= now:
        raise InvalidCommand(f"due_at {due_at.isoformat()} is not in the future")
