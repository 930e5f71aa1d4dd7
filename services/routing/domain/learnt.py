"""What routing learns about a case from the other services, and shows with it: the case's SLA clocks
(the deadline of its resolve clock is the case's deadline) and the joint meeting's decision on who leads.

Routing decides neither. The SLA's policy and clocks are the only source of a deadline (in working time);
routing proposes a lead bureau when it escalates and the joint meeting decides. Both arrive on topics
(caseline.sla.v1, caseline.jointmeeting.v1) and are kept apart from the case's own stream, so learning
them never changes the case version a staff member acts on. A clock's time left is counted here with the
same calendar code the SLA counts with (deadlines.timing), so routing's workbench needs no call to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from deadlines.calendar import WorkingCalendar
from deadlines.timing import standing, time_left
from schemas.base import DomainEvent
from schemas.jointmeeting import CaseAddedToFile, JointMeetingFileOpened
from schemas.reference import Bureau, Category
from schemas.sla import (
    ClockKind,
    ClockMeasure,
    SlaAtRisk,
    SlaBreached,
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
    SlaAtRisk,
    SlaBreached,
)
LEAD_FACTS: tuple[type[DomainEvent], ...] = (JointMeetingFileOpened, CaseAddedToFile)


class DeadlineStatus(StrEnum):
    PENDING = "pending"  # opened (or reopened) and its resolve clock not started yet: no date to show
    RUNNING = "running"
    PAUSED = "paused"  # waiting (e.g. for the complainant): no deadline until it resumes
    STOPPED = "stopped"  # resolved or closed: the deadline it had


@dataclass(frozen=True)
class LearntClock:
    """One of the case's SLA clocks as the SLA announced it: dispatch, contact, resolve (`<case>/resolve/<n>`,
    a fresh one per reopening) or a bureau's task (`<case>/task/<task id>`)."""

    clock_id: str
    kind: ClockKind
    generation: int  # resolve: 0, then the reopen count; every other kind: 0
    measure: ClockMeasure
    status: DeadlineStatus  # running, paused or stopped
    deadline: datetime | None
    at_risk_at: datetime | None
    budget_seconds: float
    consumed_seconds: float  # as of its last pause or stop, in its measure
    policy_rule: str
    on_time: bool | None = None
    at_risk_alerted: bool = False
    breached: bool = False

    def time_left(self, calendar: WorkingCalendar, now: datetime) -> float | None:
        """In the clock's own measure, as the SLA counts it (deadlines.timing.time_left)."""
        return time_left(
            calendar,
            self.measure,
            self.deadline,
            now,
            paused=self.status is DeadlineStatus.PAUSED,
            stopped=self.status is DeadlineStatus.STOPPED,
            budget_seconds=self.budget_seconds,
            consumed_seconds=self.consumed_seconds,
        )

    def standing(self, now: datetime) -> str:
        """on_track, at_risk, breached (running), or paused, stopped: as the SLA's ops page judges it."""
        if self.status is not DeadlineStatus.RUNNING or self.deadline is None:
            return self.status.value
        return standing(
            now,
            deadline=self.deadline,
            at_risk_at=self.at_risk_at,
            breached=self.breached,
            at_risk_alerted=self.at_risk_alerted,
        )


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


def learn_clock(current: LearntClock | None, fact: DomainEvent) -> LearntClock | None:
    """The clock after one SLA fact about it (facts arrive in order per case); `current` when the fact
    changes nothing routing keeps (a start seen again, a change to a clock whose start was not seen)."""
    if isinstance(fact, SlaClockStarted):
        if current is not None:
            return current  # a clock starts once: the same start again is a resend
        return LearntClock(
            clock_id=fact.clock_id,
            kind=fact.kind,
            generation=resolve_generation(fact.case_id, fact.clock_id) or 0,
            measure=fact.measure,
            status=DeadlineStatus.RUNNING,
            deadline=fact.deadline,
            at_risk_at=fact.at_risk_at,
            budget_seconds=fact.budget_seconds,
            consumed_seconds=0.0,
            policy_rule=fact.policy_rule,
        )
    if current is None:
        return None
    if isinstance(fact, SlaClockRetargeted):
        status = DeadlineStatus.RUNNING if fact.deadline is not None else DeadlineStatus.PAUSED
        return replace(
            current,
            status=DeadlineStatus.STOPPED if current.status is DeadlineStatus.STOPPED else status,
            measure=fact.measure,
            budget_seconds=fact.budget_seconds,
            deadline=fact.deadline,
            at_risk_at=fact.at_risk_at,
            policy_rule=fact.policy_rule,
        )
    if isinstance(fact, SlaClockPaused):
        paused = DeadlineStatus.PAUSED
        return replace(
            current, status=paused, deadline=None, at_risk_at=None, consumed_seconds=fact.consumed_seconds
        )
    if isinstance(fact, SlaClockResumed):
        running = DeadlineStatus.RUNNING
        return replace(current, status=running, deadline=fact.deadline, at_risk_at=fact.at_risk_at)
    if isinstance(fact, SlaClockStopped):
        stopped = DeadlineStatus.STOPPED
        return replace(current, status=stopped, consumed_seconds=fact.consumed_seconds, on_time=fact.on_time)
    if isinstance(fact, SlaAtRisk):
        return replace(current, at_risk_alerted=True)
    if isinstance(fact, SlaBreached):
        return replace(current, breached=True)
    return current


def current_resolve(clocks: Iterable[LearntClock], reopen_count: int) -> LearntClock | None:
    """The resolve clock of the case's current round (0, then its reopen count), if it has started."""
    return next((c for c in clocks if c.kind is ClockKind.RESOLVE and c.generation == reopen_count), None)


def shown_deadline(learnt: LearntClock | None, reopen_count: int) -> ShownDeadline:
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
