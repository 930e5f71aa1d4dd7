"""Meetings: scheduled, then held with attendees and decisions, each decision a task for one bureau."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from deadlines.timing import Timing
from schemas.base import DomainEvent
from schemas.jointmeeting import (
    EnforcementTaskAssigned,
    EnforcementTaskConfirmed,
    JointMeetingHeld,
    JointMeetingScheduled,
    MeetingDecision,
)
from schemas.reference import Bureau
from services.jointmeeting.domain.errors import Conflict, InvalidCommand, NotFound
from services.jointmeeting.domain.state import FileState
from services.jointmeeting.domain.tasks import open_file_state, proposed_due


@dataclass(frozen=True)
class Decision:
    """Confirm (and possibly revise) an assigned task by its id, or give a bureau a new task.

    `due_at` None: a confirmed task keeps its deadline, a new task is due by the SLA policy."""

    action: str
    due_at: datetime | None
    done_when: str
    task_id: str | None = None
    bureau: Bureau | None = None


def schedule_meeting(
    state: FileState, scheduled_for: datetime, place: str, now: datetime
) -> list[DomainEvent]:
    open_file_state(state)
    if scheduled_for <= now:
        raise InvalidCommand(f"scheduled_for {scheduled_for.isoformat()} is not in the future")
    return [
        JointMeetingScheduled(
            case_id=state.primary_case_id,
            file_id=state.file_id,
            meeting_id=state.next_meeting_id(),
            scheduled_for=scheduled_for,
            place=place,
        )
    ]


def hold_meeting(
    state: FileState,
    meeting_id: str,
    attendees: list[Bureau],
    decisions: list[Decision],
    minutes: str,
    now: datetime,
    timing: Timing,
) -> list[DomainEvent]:
    open_file_state(state)
    meeting = state.meetings.get(meeting_id)
    if meeting is None:
        raise NotFound(f"no meeting {meeting_id!r} in file {state.file_id}")
    if meeting.held:
        raise Conflict(f"meeting {meeting_id} was already held")
    if not attendees:
        raise InvalidCommand("a meeting needs at least one attending bureau")
    events: list[DomainEvent] = []
    recorded: list[MeetingDecision] = []
    next_number = len(state.tasks) + 1
    for index, decision in enumerate(decisions):
        if decision.due_at is not None and decision.due_at <= now:
            raise InvalidCommand(f"decisions[{index}].due_at is not in the future")
        if decision.task_id is not None:
            event: EnforcementTaskAssigned | EnforcementTaskConfirmed = _confirm(
                state, meeting_id, decision, index
            )
        else:
            due_at = decision.due_at or proposed_due(timing, state.district, state.category, now)
            event = _new_task(state, meeting_id, decision, due_at, index, f"{state.file_id}-t{next_number}")
            next_number += 1
        events.append(event)
        recorded.append(
            MeetingDecision(
                task_id=event.task_id,
                bureau=event.bureau,
                action=event.action,
                due_at=event.due_at,
                done_when=event.done_when,
                confirms_existing=isinstance(event, EnforcementTaskConfirmed),
            )
        )
    members = list(state.member_bureaus)
    members += [d.bureau for d in recorded if d.bureau not in members]
    held = JointMeetingHeld(
        case_id=state.primary_case_id,
        file_id=state.file_id,
        meeting_id=meeting_id,
        held_at=now,
        attendees=attendees,
        decisions=recorded,
        minutes=minutes,
        lead_bureau=state.lead_bureau,
        member_bureaus=members,
    )
    return [held, *events]


def _confirm(state: FileState, meeting_id: str, decision: Decision, index: int) -> EnforcementTaskConfirmed:
    assert decision.task_id is not None
    task = state.task(decision.task_id)
    if task is None:
        raise NotFound(f"decisions[{index}]: no task {decision.task_id!r} in file {state.file_id}")
    if not task.is_open:
        raise Conflict(f"decisions[{index}]: task {task.task_id} is {task.status.value}, not open")
    if decision.bureau is not None and decision.bureau != task.bureau:
        raise InvalidCommand(
            f"decisions[{index}]: task {task.task_id} belongs to {task.bureau.value}; reassign it instead"
        )
    return EnforcementTaskConfirmed(
        case_id=state.primary_case_id,
        file_id=state.file_id,
        task_id=task.task_id,
        meeting_id=meeting_id,
        bureau=task.bureau,
        action=decision.action,
        due_at=decision.due_at or task.due_at,  # confirmed without a date: the deadline stands
        done_when=decision.done_when,
    )


def _new_task(
    state: FileState, meeting_id: str, decision: Decision, due_at: datetime, index: int, task_id: str
) -> EnforcementTaskAssigned:
    if decision.bureau is None:
        raise InvalidCommand(f"decisions[{index}] needs a bureau (new task) or a task_id (confirmation)")
    return EnforcementTaskAssigned(
        case_id=state.primary_case_id,
        file_id=state.file_id,
        task_id=task_id,
        bureau=decision.bureau,
        is_lead=decision.bureau == state.lead_bureau,
        action=decision.action,
        due_at=due_at,
        done_when=decision.done_when,
        meeting_id=meeting_id,
    )
