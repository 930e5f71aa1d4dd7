"""A file is complete when every task that still counts is done and the office verified it on site."""

from __future__ import annotations

from datetime import datetime

from schemas.base import DomainEvent
from schemas.bureau import TaskStatus
from schemas.jointmeeting import JointEnforcementCompleted
from services.jointmeeting.domain.errors import Conflict
from services.jointmeeting.domain.state import FileState
from services.jointmeeting.domain.tasks import open_file_state


def verify_file(state: FileState, verified_by: str, verified_at: datetime, summary: str) -> list[DomainEvent]:
    """One JointEnforcementCompleted per case in the file: routing continues each case on its own."""
    open_file_state(state)
    counting = [t for t in state.tasks.values() if t.counts]
    if not counting:
        raise Conflict(f"file {state.file_id} has no task to verify")
    undone = [t.task_id for t in counting if t.status is not TaskStatus.DONE]
    if undone:
        raise Conflict(f"file {state.file_id} still has tasks not done: {', '.join(undone)}")
    return [
        JointEnforcementCompleted(
            case_id=case_id,
            file_id=state.file_id,
            verified_by=verified_by,
            verified_at=verified_at,
            tasks_done=len(counting),
            summary=summary,
        )
        for case_id in state.case_ids
    ]
