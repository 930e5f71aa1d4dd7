"""What the office and a bureau may do to a file right now, decided by the domain's own commands.

Each command is tried on the file's state with placeholder arguments (the commands are pure and the state
is immutable: a probe returns events and changes nothing); a command the domain refuses is not offered.
So a screen shows exactly what the HTTP API would accept, without a second copy of the rules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from deadlines.timing import Timing
from schemas.base import DomainEvent
from schemas.bureau import BureauReport, EvidenceRef, ReportKind, TaskStatus
from schemas.reference import Bureau
from services.jointmeeting.domain import completion, meetings, tasks
from services.jointmeeting.domain.errors import CommandRefused
from services.jointmeeting.domain.state import FileState

_LATER = timedelta(days=1)


class OfficeCommand(StrEnum):
    SCHEDULE = "schedule"
    HOLD = "hold"
    ASSIGN = "assign"
    REASSIGN = "reassign"
    EXTEND = "extend"
    CANCEL = "cancel"
    ANSWER_UNABLE = "answer_unable"
    VERIFY = "verify"


@dataclass(frozen=True)
class OfficePermissions:
    file: frozenset[OfficeCommand]  # schedule, assign, verify
    meetings: dict[str, frozenset[OfficeCommand]] = field(default_factory=dict)  # meeting id → hold
    tasks: dict[str, frozenset[OfficeCommand]] = field(default_factory=dict)  # task id → its commands

    def any(self) -> bool:
        return bool(self.file) or any(self.meetings.values()) or any(self.tasks.values())


def _allowed(state: FileState, decide: Callable[[FileState], list[DomainEvent]]) -> bool:
    try:
        decide(state)
    except CommandRefused:
        return False
    return True


def office_permissions(state: FileState, now: datetime, timing: Timing) -> OfficePermissions:
    """Every office command the file accepts as it stands, per file, meeting and task."""
    later = now + _LATER
    on_file = {
        OfficeCommand.SCHEDULE: lambda s: meetings.schedule_meeting(s, later, "", now),
        OfficeCommand.ASSIGN: lambda s: tasks.assign_task(
            s, Bureau.CENTRE, "probe", later, "probe", now, timing
        ),
        OfficeCommand.VERIFY: lambda s: completion.verify_file(s, "probe", now, "probe"),
    }
    file_commands = frozenset(c for c, decide in on_file.items() if _allowed(state, decide))
    held = {
        m: frozenset({OfficeCommand.HOLD} if _holdable(state, m, now, timing) else ()) for m in state.meetings
    }
    return OfficePermissions(file_commands, held, {t: _task_commands(state, t, now) for t in state.tasks})


def _holdable(state: FileState, meeting_id: str, now: datetime, timing: Timing) -> bool:
    return _allowed(
        state, lambda s: meetings.hold_meeting(s, meeting_id, [Bureau.CENTRE], [], "", now, timing)
    )


def _task_commands(state: FileState, task_id: str, now: datetime) -> frozenset[OfficeCommand]:
    task = state.tasks[task_id]
    other = next(b for b in Bureau if b != task.bureau)
    later = max(task.due_at, now) + _LATER
    probes: dict[OfficeCommand, Callable[[FileState], list[DomainEvent]]] = {
        OfficeCommand.REASSIGN: lambda s: tasks.reassign_task(s, task_id, other, "probe", now),
        OfficeCommand.EXTEND: lambda s: tasks.extend_task(s, task_id, later, "probe", now),
        OfficeCommand.CANCEL: lambda s: tasks.cancel_task(s, task_id, "probe"),
        OfficeCommand.ANSWER_UNABLE: lambda s: tasks.answer_unable(s, task_id, "probe"),
    }
    return frozenset(c for c, decide in probes.items() if _allowed(state, decide))


def bureau_reports(state: FileState, task_id: str, bureau: Bureau, now: datetime) -> list[ReportKind]:
    """The report kinds the bureau's task accepts now; "accepted" only while the task awaits acceptance
    (the domain would record it later too, but a bureau that is already at work has nothing to accept)."""
    kinds = []
    for kind in ReportKind:
        if kind is ReportKind.ACCEPTED and state.tasks[task_id].status is not TaskStatus.ASSIGNED:
            continue
        probe = BureauReport(
            report_id="\x00probe",
            task_id=task_id,
            bureau=bureau,
            kind=kind,
            evidence=[EvidenceRef(kind="probe", ref="probe")],
            reason="probe",
            reported_at=now,
        )
        if _reportable(state, probe):
            kinds.append(kind)
    return kinds


def _reportable(state: FileState, report: BureauReport) -> bool:
    return _allowed(state, lambda s: tasks.record_report(s, report, "probe"))
