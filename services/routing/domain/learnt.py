"""What routing learns about a case from the other services, and shows with it: the deadline of the case's
SLA resolve clock and the joint meeting's decision on who leads.

Routing decides neither. The SLA's policy and clocks are the only source of a case's deadline (in working
time); routing proposes a lead bureau when it escalates and the joint meeting decides. Both facts arrive
on topics (caseline.sla.v1, caseline.jointmeeting.v1) and are kept apart from the case's own stream, so
learning them never changes the case version a staff member acts on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from schemas.base import DomainEvent
from schemas.jointmeeting import CaseAddedToFile, JointMeetingFileOpened
from schemas.reference import Bureau, Category
from schemas.sla import (
    ClockKind,
    SlaClockPaused,
    SlaClockResumed,
    SlaClockRetargeted,
    SlaClockStarted,
    SlaClockStopped,
)

CLOCK_FACTS: tuple[type[DomainEvent], ...] = (
    SlaClockStarted,
    SlaClockRetargeted,
    SlaClockPaused,
    SlaClockResumed,
    SlaClockStopped,
)
LEAD_FACTS: tuple[type[DomainEvent], ...] = (JointMeetingFileOpened, CaseAddedToFile)


class DeadlineStatus(StrEnum):
    PENDING = "pending"  # opened (or reopened) and its resolve clock not started yet: no date to show
    RUNNING = "running"
    PAUSED = "paused"  # waiting (e.g. for the complainant): no deadline until it resumes
    STOPPED = "stopped"  # resolved or closed: the deadline it had


@dataclass(frozen=True)
class CaseDeadline:
    """The case's latest resolve clock as the SLA announced it (`<case>/resolve/<generation>`)."""

    clock_id: str
    generation: int  # 0, then the reopen count: a reopened case gets a fresh clock
    status: DeadlineStatus
    deadline: datetime | None
    policy_rule: str
    on_time: bool | None = None


@dataclass(frozen=True)
class ShownDeadline:
    due_at: datetime | None
    status: DeadlineStatus
    clock_id: str | None = None
    policy_rule: str | None = None

    def overdue(self, now: datetime) -> bool:
        return self.status is DeadlineStatus.RUNNING and self.due_at is not None and self.due_at < now


def resolve_generation(case_id: str, clock_id: str) -> int | None:
    """The generation of a resolve clock id (`<case>/resolve/<n>`); None for any other clock."""
    kind, _, suffix = clock_id.removeprefix(f"{case_id}/").partition("/")
    if kind != ClockKind.RESOLVE.value:
        return None
    return int(suffix) if suffix.isdigit() else 0


def learn_deadline(current: CaseDeadline | None, fact: DomainEvent) -> CaseDeadline | None:
    """The case's deadline after one SLA clock fact (facts arrive in order per case).

    Only resolve clocks count, and only the latest generation: a late fact of an older clock changes
    nothing. Returns `current` when the fact does not concern the deadline.
    """
    clock_id = getattr(fact, "clock_id", None)
    generation = resolve_generation(fact.case_id, clock_id) if isinstance(clock_id, str) else None
    if generation is None or (current is not None and generation < current.generation):
        return current
    if isinstance(fact, SlaClockStarted):
        if current is not None and current.clock_id == fact.clock_id:
            return current  # a clock starts once: the same start again is a resend
        return CaseDeadline(
            fact.clock_id, generation, DeadlineStatus.RUNNING, fact.deadline, fact.policy_rule
        )
    if current is None or current.clock_id != clock_id:
        return current  # a change to a clock whose start was not seen (cannot happen in order)
    if isinstance(fact, SlaClockRetargeted):
        status = DeadlineStatus.RUNNING if fact.deadline is not None else DeadlineStatus.PAUSED
        return replace(current, status=status, deadline=fact.deadline, policy_rule=fact.policy_rule)
    if isinstance(fact, SlaClockPaused):
        return replace(current, status=DeadlineStatus.PAUSED, deadline=None)
    if isinstance(fact, SlaClockResumed):
        return replace(current, status=DeadlineStatus.RUNNING, deadline=fact.deadline)
    if isinstance(fact, SlaClockStopped):
        return replace(current, status=DeadlineStatus.STOPPED, on_time=fact.on_time)
    return current


def shown_deadline(learnt: CaseDeadline | None, reopen_count: int) -> ShownDeadline:
    """What every view of the case shows: the current resolve clock's deadline, or "pending" while the
    clock for the case's current round (0, then its reopen count) has not started."""
    if learnt is None or learnt.generation < reopen_count:
        return ShownDeadline(None, DeadlineStatus.PENDING)
    due = learnt.deadline if learnt.status is not DeadlineStatus.PAUSED else None
    return ShownDeadline(due, learnt.status, learnt.clock_id, learnt.policy_rule)


@dataclass(frozen=True)
class JointDecision:
    """Who the joint meeting decided leads the case's enforcement, and with whom (for its category)."""

    file_id: str
    category: Category
    lead: Bureau
    bureaus: tuple[Bureau, ...]
    overrode_proposal: bool = False
    reason: str = ""


def decision_of(fact: DomainEvent) -> JointDecision | None:
    """The decision a joint-meeting fact carries for its case; None for a fact that carries none."""
    if isinstance(fact, JointMeetingFileOpened):
        decided = fact.lead_decision
        return JointDecision(
            fact.file_id,
            fact.category,
            fact.lead_bureau,
            tuple(fact.member_bureaus),
            decided.overrode_proposal if decided else False,
            decided.reason if decided else "",
        )
    if isinstance(fact, CaseAddedToFile) and fact.lead_decision is not None:
        decided = fact.lead_decision
        return JointDecision(
            fact.file_id,
            fact.category,
            decided.lead_bureau,
            tuple(decided.member_bureaus),
            decided.overrode_proposal,
            decided.reason,
        )
    return None
