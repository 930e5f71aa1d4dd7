"""Clocks: their state folded from the watch's own events, and the decisions that start, pause and stop them.

A case's clocks are one aggregate over the streams about the case: its own clocks (`sla-case/<case>`), its
bureaus' task clocks (`sla-task/<case>`) and its alerts, each in a stream whose id is derived from the clock
(`sla-alert/<clock>/<kind>`), so an alert is created once whoever tries again. The clocks are values:
`evolve(case, event)` returns the next ones, whichever stream the event is in; decisions return events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeVar

from deadlines.policy import PolicyLevel
from deadlines.timing import Timing, standing
from deadlines.timing import time_left as shared_time_left
from schemas.base import DomainEvent
from schemas.reference import FOUNDING_DISTRICT, Bureau
from schemas.sla import (
    ClockKind,
    ClockMeasure,
    ClockScope,
    SlaAtRisk,
    SlaBreached,
    SlaCallbackRecorded,
    SlaClockPaused,
    SlaClockResumed,
    SlaClockRetargeted,
    SlaClockStarted,
    SlaClockStopped,
    SlaLeadBureauRecorded,
)


class ClockConflict(ValueError):
    """A command does not fit the clocks' current state (e.g. resuming a clock that is not paused)."""


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"


class AlertKind(StrEnum):
    AT_RISK = "at_risk"
    BREACHED = "breached"


def case_stream(case_id: str) -> str:
    return f"sla-case/{case_id}"


def task_stream(case_id: str) -> str:
    """Task clocks have their own stream: they move on joint-meeting facts, which another replica may
    handle concurrently with the case topic, and two streams never conflict. The one joint-meeting fact
    that moves case clocks, the decided lead, appends to the case stream: should a case fact race it, the
    loser's batch is redelivered and decided again on the winner's clocks."""
    return f"sla-task/{case_id}"


def alert_stream(clock_id: str, kind: AlertKind) -> str:
    return f"sla-alert/{clock_id}/{kind.value}"


def clock_id_for(case_id: str, kind: ClockKind, suffix: str | int | None = None) -> str:
    return f"{case_id}/{kind.value}" + (f"/{suffix}" if suffix is not None else "")


@dataclass(frozen=True)
class Clock:
    clock_id: str
    case_id: str
    kind: ClockKind
    measure: ClockMeasure
    budget_seconds: float
    started_at: datetime
    scope: ClockScope
    policy_rule: str
    escalate_on_breach: bool
    deadline: datetime | None
    at_risk_at: datetime | None
    running_since: datetime | None
    consumed_seconds: float = 0.0
    stopped_at: datetime | None = None
    on_time: bool | None = None
    cause: str | None = None
    at_risk_alerted: bool = False
    breached: bool = False
    calendar_warning: str | None = None

    @property
    def state(self) -> ClockState:
        if self.stopped_at is not None:
            return ClockState.STOPPED
        return ClockState.RUNNING if self.running_since is not None else ClockState.PAUSED

    def next_alert(self, now: datetime | None = None) -> tuple[datetime, AlertKind] | None:
        """When the watch must look at this clock next, and why (None: nothing left to announce).

        A clock found already past its deadline (the watch was down) is announced as breached only:
        "at risk" after the fact would be noise.
        """
        if self.state is not ClockState.RUNNING or self.deadline is None or self.breached:
            return None
        if now is not None and self.deadline <= now:
            return self.deadline, AlertKind.BREACHED
        if not self.at_risk_alerted and self.at_risk_at is not None and self.at_risk_at < self.deadline:
            return self.at_risk_at, AlertKind.AT_RISK
        return self.deadline, AlertKind.BREACHED

    def is_overdue(self, now: datetime) -> bool:
        if self.state is ClockState.STOPPED:
            return self.on_time is False
        return self.breached or (self.deadline is not None and now >= self.deadline)


V = TypeVar("V", "Clock", "CaseClocks")


def _updated(value: V, **changes: Any) -> V:
    """`dataclasses.replace` for the clocks' values, without its per-call field introspection and the frozen
    `__init__` (one `object.__setattr__` per field): every event of every case is folded through here
    several times. The same value with these fields changed; neither class has `__post_init__` or fields
    outside `__init__`, so nothing `replace` would do is skipped."""
    assert changes.keys() <= value.__dict__.keys(), f"no such field: {set(changes) - set(value.__dict__)}"
    copied = object.__new__(type(value))
    copied.__dict__.update(value.__dict__, **changes)
    return copied


def _no_clocks() -> Mapping[str, Clock]:
    return MappingProxyType({})


@dataclass(frozen=True)
class CaseClocks:
    """A case's clocks as the watch's events say; a new value for every event (`evolve`)."""

    case_id: str
    # By clock id, in the order they started; read-only, so a value once made stays as it was.
    clocks: Mapping[str, Clock] = field(default_factory=_no_clocks)
    callback_outcome: str | None = None
    called_back_at: datetime | None = None
    lead_bureau: Bureau | None = None  # the joint meeting's decided lead, once it is known
    # Alerts announced, by clock and kind. An alert's stream may be stored before its clock's start (a
    # unit of work writes new streams before appends), so a clock that starts later still knows it.
    announced: frozenset[tuple[str, AlertKind]] = frozenset()

    @property
    def scope(self) -> ClockScope | None:
        """The case's latest case-clock scope (where it is and who handles it)."""
        case_clocks = [c for c in self.clocks.values() if c.kind is not ClockKind.TASK]
        return case_clocks[-1].scope if case_clocks else None

    @property
    def district(self) -> str:
        """The district the case belongs to (every clock of a case carries the same one)."""
        first = next(iter(self.clocks.values()), None)
        return first.scope.district if first is not None else FOUNDING_DISTRICT

    @property
    def received_at(self) -> datetime | None:
        dispatch = self.clocks.get(clock_id_for(self.case_id, ClockKind.DISPATCH))
        return dispatch.started_at if dispatch else None

    def stream_of(self, event: DomainEvent) -> str:
        """Which of the case's two streams an event about one of its clocks belongs to."""
        kind = getattr(event, "kind", None)  # a starting clock is not known yet, but names its kind
        if not isinstance(kind, ClockKind):
            clock = self.clocks.get(str(getattr(event, "clock_id", "")))
            kind = clock.kind if clock is not None else None
        return task_stream(self.case_id) if kind is ClockKind.TASK else case_stream(self.case_id)

    def clock(self, kind: ClockKind) -> Clock | None:
        """The latest clock of a kind (for resolve: the current generation)."""
        found = [c for c in self.clocks.values() if c.kind is kind]
        return found[-1] if found else None

    def running(self) -> list[Clock]:
        return [c for c in self.clocks.values() if c.state is ClockState.RUNNING]

    def is_open(self) -> bool:
        return any(c.state is not ClockState.STOPPED for c in self.clocks.values())

    def with_clock(self, clock: Clock) -> CaseClocks:
        return _updated(self, clocks=MappingProxyType({**self.clocks, clock.clock_id: clock}))

    def changing(self, clock_id: str, **changes: Any) -> CaseClocks:
        return self.with_clock(_updated(self.clocks[clock_id], **changes))


def evolve(case: CaseClocks | None, event: DomainEvent) -> CaseClocks:
    """The case's clocks after one of the watch's events (whichever of the case's streams it is in);
    events that are not about clocks leave them as they are."""
    case = case if case is not None else CaseClocks(event.case_id)
    match event:
        case SlaClockStarted():
            return _announced_to(case.with_clock(_started(event)), event.clock_id)
        case SlaClockRetargeted():
            return case.changing(
                event.clock_id,
                budget_seconds=event.budget_seconds,
                measure=event.measure,
                scope=event.scope,
                deadline=event.deadline,
                at_risk_at=event.at_risk_at,
                policy_rule=event.policy_rule,
                escalate_on_breach=event.escalate_on_breach,
                calendar_warning=event.calendar_warning,
            )
        case SlaClockPaused():
            return case.changing(
                event.clock_id,
                running_since=None,
                consumed_seconds=event.consumed_seconds,
                deadline=None,
                at_risk_at=None,
            )
        case SlaClockResumed():
            return case.changing(
                event.clock_id,
                running_since=event.resumed_at,
                deadline=event.deadline,
                at_risk_at=event.at_risk_at,
                calendar_warning=event.calendar_warning,
            )
        case SlaClockStopped():
            return case.changing(
                event.clock_id,
                stopped_at=event.stopped_at,
                consumed_seconds=event.consumed_seconds,
                on_time=event.on_time,
                cause=event.cause,
                running_since=None,
            )
        case SlaAtRisk():
            return _announced_to(_announcing(case, event.clock_id, AlertKind.AT_RISK), event.clock_id)
        case SlaBreached():
            return _announced_to(_announcing(case, event.clock_id, AlertKind.BREACHED), event.clock_id)
        case SlaCallbackRecorded():
            return _updated(case, callback_outcome=event.outcome, called_back_at=event.called_back_at)
        case SlaLeadBureauRecorded():
            return _updated(case, lead_bureau=event.lead_bureau)
    return case


def placed(case: CaseClocks, events: Iterable[DomainEvent]) -> list[tuple[str, DomainEvent]]:
    """Each decided event with the stream it belongs to, judged on the clocks as the events before it
    left them (a clock started and stopped in one decision is still the task's)."""
    streams: list[tuple[str, DomainEvent]] = []
    for event in events:
        streams.append((case.stream_of(event), event))
        case = evolve(case, event)
    return streams


def _started(e: SlaClockStarted) -> Clock:
    return Clock(
        clock_id=e.clock_id,
        case_id=e.case_id,
        kind=e.kind,
        measure=e.measure,
        budget_seconds=e.budget_seconds,
        started_at=e.started_at,
        scope=e.scope,
        policy_rule=e.policy_rule,
        escalate_on_breach=e.escalate_on_breach,
        deadline=e.deadline,
        at_risk_at=e.at_risk_at,
        running_since=e.started_at,
        calendar_warning=e.calendar_warning,
    )


def _announcing(case: CaseClocks, clock_id: str, kind: AlertKind) -> CaseClocks:
    return _updated(case, announced=case.announced | {(clock_id, kind)})


def _announced_to(case: CaseClocks, clock_id: str) -> CaseClocks:
    """The clock knows which of its alerts were announced, whichever was stored first."""
    clock = case.clocks.get(clock_id)
    if clock is None:
        return case
    at_risk = (clock_id, AlertKind.AT_RISK) in case.announced
    breached = (clock_id, AlertKind.BREACHED) in case.announced
    if (clock.at_risk_alerted, clock.breached) == (at_risk, breached):
        return case
    return case.changing(clock_id, at_risk_alerted=at_risk, breached=breached)


def start_clock(
    timing: Timing,
    case_id: str,
    clock_id: str,
    kind: ClockKind,
    at: datetime,
    scope: ClockScope,
    cause: str | None = None,
) -> SlaClockStarted:
    timing = timing.in_district(scope.district)
    level = PolicyLevel(scope.level) if scope.level else None
    assert scope.channel and scope.urgency and scope.category, "case clocks need channel, urgency, category"
    rule = timing.policy.deadline(kind, scope.channel, scope.urgency, scope.category, level)
    deadline, at_risk, warning = timing.marks(rule.budget.measure, at, rule.budget.seconds, 0.0)
    return SlaClockStarted(
        case_id=case_id,
        clock_id=clock_id,
        kind=kind,
        started_at=at,
        measure=rule.budget.measure,
        budget_seconds=rule.budget.seconds,
        deadline=deadline,
        at_risk_at=at_risk,
        scope=scope,
        policy_rule=rule.rule_id,
        policy_version=timing.policy.version,
        escalate_on_breach=rule.escalate_on_breach,
        calendar_warning=warning,
        cause=cause,
    )


def start_task_clock(
    timing: Timing,
    case_id: str,
    clock_id: str,
    at: datetime,
    due_at: datetime,
    scope: ClockScope,
    cause: str | None = None,
) -> SlaClockStarted:
    """A bureau's task is due when the joint meeting decided: by default the policy's task budget from the
    assignment, or the date a meeting or the office set. The clock keeps that date exactly and counts the
    time in the measure of the policy's task rule (working time for working days), which also gives the
    at-risk share."""
    timing = timing.in_district(scope.district)
    rule = timing.policy.task_deadline(scope.category)
    measure = rule.budget.measure
    budget = timing.used(measure, at, due_at)
    at_risk, _ = timing.after(measure, at, budget * timing.policy.at_risk_share)
    _, warning = timing.after(measure, at, budget)
    return SlaClockStarted(
        case_id=case_id,
        clock_id=clock_id,
        kind=ClockKind.TASK,
        started_at=at,
        measure=measure,
        budget_seconds=budget,
        deadline=due_at,
        at_risk_at=at_risk,
        scope=scope,
        policy_rule=rule.rule_id,
        policy_version=timing.policy.version,
        calendar_warning=warning,
        cause=cause,
    )


def retarget(
    timing: Timing, clock: Clock, scope: ClockScope, reason: str, cause: str | None = None
) -> SlaClockRetargeted | None:
    """Judge the clock by the policy for its new scope (re-routing, escalation, the decided lead); None if
    nothing changes. Time already used keeps counting, so a re-routing keeps the deadline unless the
    policy judges the new level differently."""
    timing = timing.in_district(scope.district)
    level = PolicyLevel(scope.level) if scope.level else None
    assert scope.channel and scope.urgency and scope.category
    rule = timing.policy.deadline(clock.kind, scope.channel, scope.urgency, scope.category, level)
    if scope == clock.scope and rule.rule_id == clock.policy_rule:
        return None
    return _retargeted_to(
        timing,
        clock,
        scope,
        rule.budget.seconds,
        rule.budget.measure,
        rule.rule_id,
        rule.escalate_on_breach,
        reason,
        cause,
    )


def set_task_deadline(
    timing: Timing, clock: Clock, due_at: datetime, at: datetime, reason: str, cause: str
) -> SlaClockRetargeted | None:
    """The joint meeting decided a new deadline for a task (a meeting's decision, an extension): the clock
    is due exactly then, whatever time it used before. None when it already is (a repeated decision).

    The budget is what was used plus what is left until `due_at`, in the clock's measure; a paused clock
    (none are, since the joint meeting owns task deadlines, but older stores may hold one) keeps the time
    left from `at` and has no deadline until it resumes.
    """
    timing = timing.in_district(clock.scope.district)
    measure, used = clock.measure, clock.consumed_seconds
    deadline: datetime | None = None
    at_risk: datetime | None = None
    warning: str | None = None
    if clock.running_since is not None:
        if clock.deadline == due_at:
            return None
        budget = used + timing.used(measure, clock.running_since, due_at)
        deadline = due_at
        at_risk, _ = timing.after(measure, clock.running_since, budget * timing.policy.at_risk_share - used)
        _, warning = timing.after(measure, clock.running_since, budget - used)
    else:
        budget = used + timing.used(measure, at, due_at)
    return SlaClockRetargeted(
        case_id=clock.case_id,
        clock_id=clock.clock_id,
        budget_seconds=budget,
        measure=measure,
        deadline=deadline,
        at_risk_at=at_risk,
        scope=clock.scope,
        policy_rule=clock.policy_rule,
        escalate_on_breach=clock.escalate_on_breach,
        reason=reason,
        calendar_warning=warning,
        cause=cause,
    )


def _retargeted_to(
    timing: Timing,
    clock: Clock,
    scope: ClockScope,
    budget: float,
    measure: ClockMeasure,
    rule_id: str,
    escalate: bool,
    reason: str,
    cause: str | None = None,
) -> SlaClockRetargeted:
    deadline: datetime | None = None
    at_risk: datetime | None = None
    warning: str | None = None
    if clock.running_since is not None:
        # Time already used keeps counting against the new budget (in the new measure).
        used = (
            timing.used(measure, clock.started_at, clock.running_since)
            if measure != clock.measure
            else (clock.consumed_seconds)
        )
        deadline, at_risk, warning = timing.marks(measure, clock.running_since, budget, used)
    return SlaClockRetargeted(
        case_id=clock.case_id,
        clock_id=clock.clock_id,
        budget_seconds=budget,
        measure=measure,
        deadline=deadline,
        at_risk_at=at_risk,
        scope=scope,
        policy_rule=rule_id,
        escalate_on_breach=escalate,
        reason=reason,
        calendar_warning=warning,
        cause=cause,
    )


def stop_clock(timing: Timing, clock: Clock, at: datetime, cause: str) -> SlaClockStopped:
    consumed = clock.consumed_seconds
    if clock.running_since is not None:
        consumed += timing.used(clock.measure, clock.running_since, at)
    on_time = consumed <= clock.budget_seconds if clock.deadline is None else at <= clock.deadline
    return SlaClockStopped(
        case_id=clock.case_id,
        clock_id=clock.clock_id,
        stopped_at=at,
        consumed_seconds=consumed,
        on_time=on_time and not clock.breached,
        cause=cause,
    )


def pausable(running: Iterable[Clock], case_id: str) -> list[Clock]:
    """The running clocks a pause stops: the case's own, never a bureau's task clock. A task is due when
    the joint meeting decided, every view shows that date, and only the joint meeting moves it (a
    meeting's decision, an extension); a pause would give the clock a deadline nobody was told of."""
    chosen = [c for c in running if c.kind is not ClockKind.TASK]
    if not chosen:
        raise ClockConflict(
            f"case {case_id!r} has no running case clock to pause: a bureau's task is due when the joint "
            "meeting decided, so the office extends it instead"
        )
    return chosen


def pause_clock(timing: Timing, clock: Clock, at: datetime, reason: str) -> SlaClockPaused:
    if clock.running_since is None:
        raise ClockConflict(f"clock {clock.clock_id} is {clock.state.value}, not running: it cannot pause")
    consumed = clock.consumed_seconds + timing.used(clock.measure, clock.running_since, at)
    return SlaClockPaused(
        case_id=clock.case_id, clock_id=clock.clock_id, paused_at=at, consumed_seconds=consumed, reason=reason
    )


def resume_clock(timing: Timing, clock: Clock, at: datetime) -> SlaClockResumed:
    timing = timing.in_district(clock.scope.district)
    if clock.state is not ClockState.PAUSED:
        raise ClockConflict(f"clock {clock.clock_id} is {clock.state.value}, not paused: it cannot resume")
    deadline, at_risk, warning = timing.marks(clock.measure, at, clock.budget_seconds, clock.consumed_seconds)
    return SlaClockResumed(
        case_id=clock.case_id,
        clock_id=clock.clock_id,
        resumed_at=at,
        deadline=deadline,
        at_risk_at=at_risk,
        calendar_warning=warning,
    )


def at_risk_alert(clock: Clock, share: float) -> SlaAtRisk:
    assert clock.deadline is not None
    return SlaAtRisk(
        case_id=clock.case_id,
        clock_id=clock.clock_id,
        kind=clock.kind,
        deadline=clock.deadline,
        share_used=share,
        scope=clock.scope,
    )


def breach_alert(clock: Clock) -> SlaBreached:
    deadline = clock.deadline or clock.stopped_at or clock.started_at
    return SlaBreached(
        case_id=clock.case_id,
        clock_id=clock.clock_id,
        kind=clock.kind,
        deadline=deadline,
        scope=clock.scope,
        policy_rule=clock.policy_rule,
        escalation_requested=clock.escalate_on_breach,
    )


def time_left(timing: Timing, clock: Clock, now: datetime) -> float | None:
    """Time left on the clock in its own measure (working seconds for working-time clocks), negative by
    how much it is late; a paused clock keeps what it had left; None for a stopped clock or no deadline."""
    return shared_time_left(
        timing.calendar,
        clock.measure,
        clock.deadline,
        now,
        paused=clock.state is ClockState.PAUSED,
        stopped=clock.state is ClockState.STOPPED,
        budget_seconds=clock.budget_seconds,
        consumed_seconds=clock.consumed_seconds,
    )


def status(clock: Clock, now: datetime) -> str | None:
    """on_track, at_risk or breached for a running clock with a deadline; None otherwise."""
    if clock.state is not ClockState.RUNNING or clock.deadline is None:
        return None
    return standing(
        now,
        deadline=clock.deadline,
        at_risk_at=clock.at_risk_at,
        breached=clock.breached,
        at_risk_alerted=clock.at_risk_alerted,
    )
