"""What each bureau is told: one notice per change to one of its tasks, carrying the task's whole state."""

from __future__ import annotations

from collections.abc import Sequence

from schemas.base import DomainEvent
from schemas.bureau import BureauTaskNotice, NoticeKind
from schemas.jointmeeting import (
    EnforcementTaskAssigned,
    EnforcementTaskCancelled,
    EnforcementTaskConfirmed,
    EnforcementTaskExtended,
    EnforcementTaskOverdue,
    EnforcementTaskReassigned,
    EnforcementTaskReported,
    EnforcementTaskUnableAnswered,
)
from services.jointmeeting.domain.state import FileState, evolve

_KINDS: dict[type[DomainEvent], NoticeKind] = {
    EnforcementTaskAssigned: NoticeKind.ASSIGNED,
    EnforcementTaskConfirmed: NoticeKind.CONFIRMED,
    EnforcementTaskExtended: NoticeKind.EXTENDED,
    EnforcementTaskReassigned: NoticeKind.REASSIGNED_AWAY,
    EnforcementTaskCancelled: NoticeKind.CANCELLED,
    EnforcementTaskOverdue: NoticeKind.OVERDUE,
    EnforcementTaskReported: NoticeKind.REPORT_RECORDED,
    EnforcementTaskUnableAnswered: NoticeKind.UNABLE_ANSWERED,
}


def notices_for(state: FileState | None, events: Sequence[DomainEvent]) -> list[BureauTaskNotice]:
    """The notices `events` send, given the file before them: each carries its task as it is right after
    its own event (a task confirmed then extended in one decision is told of twice, each time as it was)."""
    notices = []
    for event in events:
        state = evolve(state, event)
        notice = notice_for(state, event)
        if notice is not None:
            notices.append(notice)
    return notices


def notice_for(state: FileState, event: DomainEvent) -> BureauTaskNotice | None:
    """The notice for `event`, given the file's state after it; None when no bureau's task changed."""
    kind = _KINDS.get(type(event))
    task_id = getattr(event, "task_id", None)
    task = state.task(task_id) if kind and task_id else None
    if kind is None or task is None:
        return None
    return BureauTaskNotice(
        case_id=state.primary_case_id,
        notice=kind,
        task_id=task.task_id,
        file_id=state.file_id,
        bureau=task.bureau,
        district=state.district,
        is_lead=task.is_lead,
        lead_bureau=state.lead_bureau,
        category=state.category,
        compound_code=state.compound_code,
        street_code=state.street_code,
        action=task.action,
        done_when=task.done_when,
        due_at=task.due_at,
        status=task.status,
        overdue=task.overdue,
        note=_note(event),
    )


def _note(event: DomainEvent) -> str:
    for name in ("reason", "answer", "note"):
        value = getattr(event, name, "")
        if value:
            return str(value)
    return ""
