"""How clocks react to what routing and the joint meeting report.

dispatch: from receipt (CaseOpened.received_at) until routed to a real unit (not the centre's triage queue)
          or escalated;
contact:  from dispatch until the unit takes the case on (CaseAccepted; progress or resolution also count);
resolve:  from dispatch until CaseResolved; a reopened case gets a fresh resolve clock (generation = count);
task:     from EnforcementTaskAssigned until the bureau reports it done, it is cancelled or reassigned, or the
          joint enforcement completes; its deadline is the joint meeting's decision, so a meeting's decision
          (EnforcementTaskConfirmed) and an extension move it to exactly the decided instant.
CaseClosed stops whatever case clock still runs (task clocks end with the joint meeting's facts).

Routing's CaseEscalated only proposes a lead bureau; the joint meeting decides it (JointMeetingFileOpened,
CaseAddedToFile). The decision is recorded once (SlaLeadBureauRecorded) and the case's joint-meeting clocks
are attributed to it, whichever of the two topics arrives first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from deadlines.policy import PolicyLevel
from deadlines.timing import Timing
from schemas.base import DomainEvent
from schemas.cases import (
    CaseAccepted,
    CaseCalledBack,
    CaseClosed,
    CaseEscalated,
    CaseOpened,
    CaseProgressNoted,
    CaseRecategorised,
    CaseReopened,
    CaseResolved,
    CaseRouted,
)
from schemas.jointmeeting import (
    CaseAddedToFile,
    EnforcementTaskAssigned,
    EnforcementTaskCancelled,
    EnforcementTaskConfirmed,
    EnforcementTaskExtended,
    EnforcementTaskReassigned,
    EnforcementTaskReported,
    JointEnforcementCompleted,
    JointMeetingFileOpened,
)
from schemas.reference import FOUNDING_DISTRICT, Bureau
from schemas.sla import ClockKind, ClockScope, SlaCallbackRecorded, SlaLeadBureauRecorded
from services.sla.domain.clocks import (
    CaseClocks,
    Clock,
    ClockState,
    clock_id_for,
    evolve,
    retarget,
    set_task_deadline,
    start_clock,
    start_task_clock,
    stop_clock,
)

CENTRE_TRIAGE_UNIT = "centre-triage"  # routing's triage queue: a case there is not dispatched yet

# (district, compound code) → (community code, property company code), from that district's directory:
# codes are district-local, so the same compound code means another compound in another district.
Attribution = Callable[[str, str | None], tuple[str | None, str | None]]


@dataclass(frozen=True)
class Reaction:
    """New clock facts, clocks that stopped after their deadline unannounced, and the case's clocks as the
    facts leave them."""

    events: tuple[DomainEvent, ...]
    late: tuple[Clock, ...]
    case: CaseClocks


@dataclass
class Decision:
    """What one fact's handler has decided so far (local to `Reactor.react`, which returns it frozen)."""

    case: CaseClocks  # the clocks after every event decided so far
    events: list[DomainEvent] = field(default_factory=list)
    late: list[Clock] = field(default_factory=list)

    def emit(self, event: DomainEvent) -> None:
        self.case = evolve(self.case, event)
        self.events.append(event)

    def reaction(self) -> Reaction:
        return Reaction(tuple(self.events), tuple(self.late), self.case)


@dataclass(frozen=True)
class Reactor:
    timing: Timing
    attribution: Attribution

    def react(
        self, case: CaseClocks, fact: DomainEvent, at: datetime, district: str = FOUNDING_DISTRICT
    ) -> Reaction:
        """`district`: the message's, used only when the fact is the first the watch hears of the case
        and does not name the district itself (a task assigned before CaseOpened arrived)."""
        handler = _HANDLERS.get(type(fact))
        decision = Decision(case)
        if handler is not None:
            # Handlers judge the clocks as the fact found them; what they decide is folded in `decision`.
            handler(self, case, fact, at, decision, district)
        return decision.reaction()

    # -- case lifecycle -------------------------------------------------------------------------------

    def _opened(self, case: CaseClocks, e: DomainEvent, at: datetime, out: Decision, district: str) -> None:
        assert isinstance(e, CaseOpened)
        dispatch_id = clock_id_for(case.case_id, ClockKind.DISPATCH)
        if dispatch_id in case.clocks:
            return
        community, company = self.attribution(e.district, e.compound_code)
        scope = ClockScope(
            district=e.district,
            channel=e.channel,
            urgency=e.urgency,
            category=e.category,
            level=None,
            street_code=e.street_code,
            community_code=community,
            compound_code=e.compound_code,
            company_code=company,
        )
        out.emit(
            start_clock(
                self.timing,
                case.case_id,
                dispatch_id,
                ClockKind.DISPATCH,
                e.received_at,
                scope,
                CaseOpened.event_type,
            ),
        )

    def _routed(self, case: CaseClocks, e: DomainEvent, at: datetime, out: Decision, district: str) -> None:
        assert isinstance(e, CaseRouted)
        if e.unit_code == CENTRE_TRIAGE_UNIT:
            return
        self._dispatched(
            case,
            at,
            out,
            level=e.level.value,
            unit_code=e.unit_code,
            reason=e.reason,
            cause=CaseRouted.event_type,
        )

    def _escalated(
        self, case: CaseClocks, e: DomainEvent, at: datetime, out: Decision, district: str
    ) -> None:
        assert isinstance(e, CaseEscalated)
        # Routing only proposes the lead: once the joint meeting has decided (even if its file's facts came
        # first), the clocks are the decided lead's.
        lead = case.lead_bureau or e.lead_bureau
        self._dispatched(
            case,
            at,
            out,
            level=PolicyLevel.JOINT_MEETING.value,
            unit_code=lead.value,
            reason=f"escalated to the joint meeting ({e.trigger.value})",
            cause=CaseEscalated.event_type,
        )

    def _dispatched(
        self,
        case: CaseClocks,
        at: datetime,
        out: Decision,
        *,
        level: str,
        unit_code: str,
        reason: str,
        cause: str,
    ) -> None:
        base = case.scope
        if base is None:
            return  # CaseOpened not seen: nothing to judge the case by
        scope = base.model_copy(update={"level": level, "unit_code": unit_code})
        dispatch = case.clock(ClockKind.DISPATCH)
        if dispatch is not None and dispatch.state is not ClockState.STOPPED:
            self._stop(case, out, dispatch, at, "CaseDispatched")
        for kind in (ClockKind.CONTACT, ClockKind.RESOLVE):
            clock = case.clock(kind)
            if clock is None:
                # resolve clocks are numbered by generation (0, then the reopen count)
                clock_id = clock_id_for(case.case_id, kind, 0 if kind is ClockKind.RESOLVE else None)
                out.emit(start_clock(self.timing, case.case_id, clock_id, kind, at, scope, cause))
            elif clock.state is not ClockState.STOPPED:
                # A re-routing keeps the clock (and, under one policy rule, its deadline): the case's promise
                # does not restart because a unit passed it on.
                changed = retarget(self.timing, clock, scope, reason, cause)
                if changed is not None:
                    out.emit(changed)

    def _accepted(self, case: CaseClocks, e: DomainEvent, at: datetime, out: Decision, district: str) -> None:
        self._stop_kind(case, out, ClockKind.CONTACT, at, type(e).__name__)

    def _resolved(self, case: CaseClocks, e: DomainEvent, at: datetime, out: Decision, district: str) -> None:
        self._stop_kind(case, out, ClockKind.CONTACT, at, CaseResolved.event_type)
        self._stop_kind(case, out, ClockKind.RESOLVE, at, CaseResolved.event_type)

    def _called_back(
        self, case: CaseClocks, e: DomainEvent, at: datetime, out: Decision, district: str
    ) -> None:
        assert isinstance(e, CaseCalledBack)
        out.emit(SlaCallbackRecorded(case_id=case.case_id, outcome=e.outcome.value, called_back_at=at))

    def _closed(self, case: CaseClocks, e: DomainEvent, at: datetime, out: Decision, district: str) -> None:
        assert isinstance(e, CaseClosed)
        for clock in list(case.clocks.values()):
            # A bureau's task ends with the joint meeting's own facts, not with the case.
            if clock.kind is not ClockKind.TASK and clock.state is not ClockState.STOPPED:
                self._stop(case, out, clock, at, CaseClosed.event_type)
        if case.callback_outcome is None:
            out.emit(
                SlaCallbackRecorded(case_id=case.case_id, outcome=e.outcome.value, called_back_at=at),
            )

    def _reopened(self, case: CaseClocks, e: DomainEvent, at: datetime, out: Decision, district: str) -> None:
        assert isinstance(e, CaseReopened)
        clock_id = clock_id_for(case.case_id, ClockKind.RESOLVE, e.reopen_count)
        base = case.scope
        if clock_id in case.clocks or base is None:
            return
        previous = case.clock(ClockKind.RESOLVE)
        if previous is not None and previous.state is not ClockState.STOPPED:
            self._stop(case, out, previous, at, CaseReopened.event_type)
        if e.unit_code is None:
            scope = base.model_copy(update={"level": PolicyLevel.JOINT_MEETING.value})
        else:
            scope = base.model_copy(update={"unit_code": e.unit_code})
        started = start_clock(
            self.timing, case.case_id, clock_id, ClockKind.RESOLVE, at, scope, CaseReopened.event_type
        )
        out.emit(started)

    def _recategorised(
        self, case: CaseClocks, e: DomainEvent, at: datetime, out: Decision, district: str
    ) -> None:
        """The centre corrected the category: every running case clock is judged by the new category's
        policy (time already used keeps counting, a paused clock stays paused); later clocks inherit it."""
        assert isinstance(e, CaseRecategorised)
        for clock in list(case.clocks.values()):
            if clock.kind is ClockKind.TASK or clock.state is ClockState.STOPPED:
                continue
            scope = clock.scope.model_copy(update={"category": e.to_category})
            why = f"recategorised from {e.from_category.value} to {e.to_category.value}"
            changed = retarget(self.timing, clock, scope, why, CaseRecategorised.event_type)
            if changed is not None:
                out.emit(changed)

    # -- joint-meeting tasks --------------------------------------------------------------------------

    def _task_assigned(
        self, case: CaseClocks, e: DomainEvent, at: datetime, out: Decision, district: str
    ) -> None:
        assert isinstance(e, EnforcementTaskAssigned)
        clock_id = clock_id_for(case.case_id, ClockKind.TASK, e.task_id)
        if clock_id in case.clocks:
            return
        base = case.scope or ClockScope(level=None, district=district)
        scope = base.model_copy(
            update={
                "level": PolicyLevel.JOINT_MEETING.value,
                "unit_code": e.bureau.value,
                "bureau": e.bureau,
                "task_id": e.task_id,
            }
        )
        started = start_task_clock(
            self.timing, case.case_id, clock_id, at, e.due_at, scope, "EnforcementTaskAssigned"
        )
        out.emit(started)

    def _task_deadline_decided(
        self, case: CaseClocks, e: DomainEvent, at: datetime, out: Decision, district: str
    ) -> None:
        """A meeting's decision or an extension: the task is due when the joint meeting now says."""
        assert isinstance(e, (EnforcementTaskConfirmed, EnforcementTaskExtended))
        clock = case.clocks.get(clock_id_for(case.case_id, ClockKind.TASK, e.task_id))
        if clock is None or clock.state is ClockState.STOPPED:
            return
        if isinstance(e, EnforcementTaskConfirmed):
            reason = f"meeting {e.meeting_id} decided the deadline"
        else:
            reason = f"extended: {e.reason}"
        changed = set_task_deadline(self.timing, clock, e.due_at, at, reason, type(e).__name__)
        if changed is not None:
            out.emit(changed)

    def _lead_decided(
        self, case: CaseClocks, e: DomainEvent, at: datetime, out: Decision, district: str
    ) -> None:
        """The joint meeting decided who leads: the case's joint-meeting clocks are that bureau's."""
        assert isinstance(e, (JointMeetingFileOpened, CaseAddedToFile))
        if isinstance(e, JointMeetingFileOpened):
            lead: Bureau | None = e.lead_bureau
        else:
            lead = e.lead_decision.lead_bureau if e.lead_decision else None
        if lead is None or case.lead_bureau is lead:
            return
        out.emit(SlaLeadBureauRecorded(case_id=case.case_id, lead_bureau=lead, file_id=e.file_id))
        reason = f"the joint meeting decided that {lead.value} leads (file {e.file_id})"
        for clock in list(case.clocks.values()):
            joint = clock.scope.level == PolicyLevel.JOINT_MEETING.value
            if clock.kind is ClockKind.TASK or clock.state is ClockState.STOPPED or not joint:
                continue
            scope = clock.scope.model_copy(update={"unit_code": lead.value})
            changed = retarget(self.timing, clock, scope, reason, type(e).__name__)
            if changed is not None:
                out.emit(changed)

    def _task_ended(
        self, case: CaseClocks, e: DomainEvent, at: datetime, out: Decision, district: str
    ) -> None:
        assert isinstance(e, (EnforcementTaskReported, EnforcementTaskCancelled, EnforcementTaskReassigned))
        if isinstance(e, EnforcementTaskReported) and e.kind.value != "done":
            return
        clock = case.clocks.get(clock_id_for(case.case_id, ClockKind.TASK, e.task_id))
        if clock is not None and clock.state is not ClockState.STOPPED:
            when = e.reported_at if isinstance(e, EnforcementTaskReported) else at
            self._stop(case, out, clock, when, e.event_type)

    def _enforcement_completed(
        self, case: CaseClocks, e: DomainEvent, at: datetime, out: Decision, district: str
    ) -> None:
        for clock in list(case.clocks.values()):
            if clock.kind is ClockKind.TASK and clock.state is not ClockState.STOPPED:
                self._stop(case, out, clock, at, JointEnforcementCompleted.event_type)

    # -- helpers --------------------------------------------------------------------------------------

    def _stop_kind(self, case: CaseClocks, out: Decision, kind: ClockKind, at: datetime, cause: str) -> None:
        clock = case.clock(kind)
        if clock is not None and clock.state is not ClockState.STOPPED:
            self._stop(case, out, clock, at, cause)

    def _stop(self, case: CaseClocks, out: Decision, clock: Clock, at: datetime, cause: str) -> None:
        stopped = stop_clock(self.timing, clock, at, cause)
        if not stopped.on_time and not clock.breached and clock.deadline is not None:
            out.late.append(clock)  # as it was before stopping: its deadline is the breach time
        out.emit(stopped)


Handler = Callable[[Reactor, CaseClocks, DomainEvent, datetime, Decision, str], None]

_HANDLERS: dict[type[DomainEvent], Handler] = {
    CaseOpened: Reactor._opened,
    CaseRouted: Reactor._routed,
    CaseEscalated: Reactor._escalated,
    CaseAccepted: Reactor._accepted,
    CaseProgressNoted: Reactor._accepted,
    CaseResolved: Reactor._resolved,
    CaseCalledBack: Reactor._called_back,
    CaseClosed: Reactor._closed,
    CaseReopened: Reactor._reopened,
    CaseRecategorised: Reactor._recategorised,
    EnforcementTaskAssigned: Reactor._task_assigned,
    EnforcementTaskConfirmed: Reactor._task_deadline_decided,
    EnforcementTaskExtended: Reactor._task_deadline_decided,
    JointMeetingFileOpened: Reactor._lead_decided,
    CaseAddedToFile: Reactor._lead_decided,
    EnforcementTaskReported: Reactor._task_ended,
    EnforcementTaskCancelled: Reactor._task_ended,
    EnforcementTaskReassigned: Reactor._task_ended,
    JointEnforcementCompleted: Reactor._enforcement_completed,
}

HANDLED_FACTS: tuple[type[DomainEvent], ...] = tuple(_HANDLERS)
