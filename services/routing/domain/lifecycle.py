"""The case aggregate: its state is rebuilt from its events; commands check the state and return new events.

Nothing here does I/O. A command method never changes the case: it returns the events that would, and the
caller saves them (at the version it loaded) and folds them in with `evolve` (eventcore.aggregate's
Repository does both; `Case.then` folds them by hand).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from functools import reduce
from typing import Any

from schemas.base import DomainEvent
from schemas.cases import (
    CallbackOutcome,
    CaseAccepted,
    CaseCalledBack,
    CaseClosed,
    CaseEscalated,
    CaseOpened,
    CaseProgressNoted,
    CaseRecategorised,
    CaseReopened,
    CaseResolved,
    CaseReturned,
    CaseRouted,
    CoComplainantAdded,
    EscalationTrigger,
    ReopenReason,
    ResolvedBy,
)
from schemas.categorisation import CategoryDecision, CategorySource
from schemas.complaints import ComplaintMerged
from schemas.jointmeeting import JointEnforcementCompleted
from schemas.reference import FOUNDING_DISTRICT, Bureau, Category, Channel, Level, Urgency
from services.routing.domain.access import Actor
from services.routing.domain.learnt import JointDecision
from services.routing.domain.routing import (
    CENTRE_TRIAGE_UNIT,
    CENTRE_UNIT,
    CaseFacts,
    EscalateToJointMeeting,
    RouteToUnit,
    RoutingPolicy,
)
from services.routing.domain.rules import Escalation


class CaseState(StrEnum):
    OPENED = "opened"  # only between CaseOpened and its routing, never after a command
    ROUTED = "routed"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    ESCALATED = "escalated"  # with the joint meeting
    RESOLVED = "resolved"
    CLOSED = "closed"


WITH_A_UNIT = frozenset({CaseState.ROUTED, CaseState.ACCEPTED, CaseState.IN_PROGRESS})
RETURNABLE = frozenset({CaseState.ROUTED, CaseState.ACCEPTED})
BEING_HANDLED = frozenset({CaseState.ACCEPTED, CaseState.IN_PROGRESS})


class CaseCommandError(Exception):
    """A command the case refuses; `code` is the machine-readable kind."""

    code = "rejected"


class InvalidTransition(CaseCommandError):
    """The command does not fit the case's current state (e.g. resolving a case nobody accepted)."""

    code = "invalid_state"


class UnknownUnit(CaseCommandError):
    """The command names a unit the directory does not know."""

    code = "unknown_unit"


class NotPermitted(CaseCommandError):
    """The acting unit may not do this to this case."""

    code = "forbidden"


@dataclass(frozen=True)
class Case:
    case_id: str
    version: int
    state: CaseState
    category: Category
    urgency: Urgency
    channel: Channel
    received_at: datetime
    compound_code: str | None
    street_code: str | None
    level: Level | None = None
    unit_code: str | None = None  # None while the joint meeting has it
    unit_name: str | None = None
    rule_id: str = ""
    rules_version: str = ""
    # No deadline here: a case's deadline is its SLA resolve clock's (services/routing/domain/learnt.py).
    refused_units: tuple[str, ...] = ()
    return_count: int = 0
    reopen_count: int = 0
    complainant_count: int = 1
    complaint_ids: frozenset[str] = field(default_factory=frozenset)
    escalations: tuple[EscalationTrigger, ...] = ()
    callback_outcome: CallbackOutcome | None = None
    # Routing's latest proposal of who leads at the joint meeting (the joint meeting decides).
    proposed_lead: Bureau | None = None
    # The joint meeting's decision on who leads, learnt from its topic: not folded from the case's
    # stream but set by the loader (`knowing`), so learning it never changes the case version.
    joint_decision: JointDecision | None = field(default=None, compare=False)
    # The tenant: its directory, rules, staff and joint meeting handle the case (cases opened before
    # Caseline served several districts belong to the founding one).
    district: str = FOUNDING_DISTRICT
    # How the category was decided: intake's decision, then the centre's corrections.
    category_decision: CategoryDecision | None = None

    # -- rebuilding -------------------------------------------------------------------------------

    @staticmethod
    def rebuild(events: Iterable[DomainEvent]) -> Case | None:
        """The case its stream says it is: a fold of `evolve` (None for no events)."""
        return reduce(evolve, events, None)

    def then(self, events: Sequence[DomainEvent]) -> Case:
        return reduce(evolve, events, self)

    def knowing(self, decided: JointDecision | None) -> Case:
        return replace(self, joint_decision=decided)

    @property
    def facts(self) -> CaseFacts:
        return CaseFacts(self.category.value, self.urgency.value, self.compound_code, self.street_code)

    def handled_by(self, actor: Actor) -> bool:
        """The centre stands for its own triage queue; every other unit acts only on its own cases.
        Unit codes repeat across districts, so another district's ST01 is a stranger."""
        if actor.district != self.district:
            return False
        if self.unit_code == actor.unit_code:
            return True
        return self.unit_code == CENTRE_TRIAGE_UNIT and actor.unit_code == CENTRE_UNIT

    def visible_to(self, actor: Actor) -> bool:
        """A district's centre sees its district's cases; other units see the cases they handle."""
        return self._own_centre(actor) or self.handled_by(actor)

    # -- staff commands ---------------------------------------------------------------------------

    def accept(self, actor: Actor) -> list[DomainEvent]:
        self._require({CaseState.ROUTED}, "accept")
        self._require_handler(actor, "accept")
        return [CaseAccepted(case_id=self.case_id, unit_code=self._unit())]

    def note_progress(self, actor: Actor, note: str, photo_refs: Sequence[str]) -> list[DomainEvent]:
        self._require(BEING_HANDLED, "note progress on")
        self._require_handler(actor, "note progress on")
        return [
            CaseProgressNoted(
                case_id=self.case_id, unit_code=self._unit(), note=note, photo_refs=list(photo_refs)
            )
        ]

    def resolve(self, actor: Actor, resolution: str, evidence_refs: Sequence[str] = ()) -> list[DomainEvent]:
        self._require(BEING_HANDLED, "resolve")
        self._require_handler(actor, "resolve")
        return [
            CaseResolved(
                case_id=self.case_id,
                resolved_by=ResolvedBy.UNIT,
                unit_code=self._unit(),
                resolution=resolution,
                evidence_refs=list(evidence_refs),
            )
        ]

    def return_to_routing(self, actor: Actor, reason: str, policy: RoutingPolicy) -> list[DomainEvent]:
        """退单: the unit says it is not its case; re-route it, or escalate when it keeps bouncing."""
        self._require(RETURNABLE, "return")
        self._require_handler(actor, "return")
        assert self.level is not None
        unit = self._unit()
        count = self.return_count + 1
        returned = CaseReturned(
            case_id=self.case_id, unit_code=unit, level=self.level, reason=reason, return_count=count
        )
        if unit in self.refused_units:
            why = f"{unit} returned the case a second time: it is bouncing between units"
            return [returned, self._escalation(EscalationTrigger.REPEATED_RETURN, why, policy)]
        if count >= policy.rules.escalation.max_returns:
            why = f"returned {count} times (limit {policy.rules.escalation.max_returns})"
            return [returned, self._escalation(EscalationTrigger.REPEATED_RETURN, why, policy)]
        refused = frozenset(self.refused_units) | {unit}
        target = policy.reroute(self.facts, self.rule_id, self.level, refused)
        if target is None:
            why = f"returned by {unit} and no other unit is left to take it"
            return [returned, self._escalation(EscalationTrigger.REPEATED_RETURN, why, policy)]
        return [returned, self._routed(target, policy.rules.version)]

    def route_to(self, actor: Actor, target: RouteToUnit, policy: RoutingPolicy) -> list[DomainEvent]:
        """The centre sends a case to a unit by hand (its triage queue, or a case routed wrongly)."""
        self._require(RETURNABLE, "re-route")
        if not self._own_centre(actor):
            raise NotPermitted("only the centre routes cases by hand")
        if target.unit_code == self.unit_code:
            raise InvalidTransition(f"case {self.case_id} is already with {target.unit_code}")
        return [self._routed(target, policy.rules.version)]

    def request_escalation(
        self, actor: Actor, trigger: EscalationTrigger, reason: str, policy: RoutingPolicy
    ) -> list[DomainEvent]:
        """A unit (for its own case) or the centre's SLA watch (for any case) asks for the joint meeting."""
        self._require(WITH_A_UNIT, "escalate")
        if trigger is EscalationTrigger.UNIT_REQUEST:
            self._require_handler(actor, "escalate")
        elif trigger is EscalationTrigger.SLA_WATCH:
            if not self._own_centre(actor):
                raise NotPermitted("only the centre's SLA watch escalates for lateness")
        else:
            raise InvalidTransition(f"staff cannot escalate with trigger {trigger.value!r}")
        return [self._escalation(trigger, reason, policy)]

    def record_callback(
        self, actor: Actor, outcome: CallbackOutcome, note: str, policy: RoutingPolicy
    ) -> list[DomainEvent]:
        """回访: satisfied closes the case; dissatisfied reopens it."""
        self._require({CaseState.RESOLVED}, "record a callback on")
        if not self._own_centre(actor):
            raise NotPermitted("callbacks are recorded by the centre's callback staff")
        called = CaseCalledBack(case_id=self.case_id, outcome=outcome, note=note)
        if outcome is not CallbackOutcome.DISSATISFIED:
            return [called, CaseClosed(case_id=self.case_id, outcome=outcome, reopen_count=self.reopen_count)]
        return [called, *self._reopen(ReopenReason.DISSATISFIED, note, policy)]

    def recategorise(
        self, actor: Actor, category: Category, reason: str, policy: RoutingPolicy
    ) -> list[DomainEvent]:
        """The centre corrects the category; the route is decided again by the new category's rule: another
        unit gets it (CaseRouted), a cross-department category goes to the joint meeting (CaseEscalated),
        and a unit that already handles the new category keeps it. Confirming the category of a case in
        category triage is a recategorisation to the same category: it leaves the triage queue."""
        self._require(WITH_A_UNIT, "recategorise")
        if not self._own_centre(actor):
            raise NotPermitted("only the centre recategorises cases")
        in_triage = self.category_decision is not None and self.category_decision.needs_triage
        if category is self.category and not in_triage:
            raise InvalidTransition(f"case {self.case_id} is already {category.value}")
        decision = self._staff_decision(category)
        recategorised = CaseRecategorised(
            case_id=self.case_id,
            district=self.district,
            from_category=self.category,
            to_category=category,
            reason=reason,
            recategorised_by=actor.recorded_as,
            replaced_decision=self.category_decision,
            decision=decision,
        )
        after = replace(self, category=category, category_decision=decision)
        why = f"recategorised from {self.category.value} to {category.value}"
        target = policy.route(after.facts)
        if isinstance(target, EscalateToJointMeeting):
            return [
                recategorised,
                after._escalation(EscalationTrigger.CROSS_DEPARTMENT, f"{why}: {target.reason}", policy),
            ]
        if target.unit_code == self.unit_code:
            return [recategorised]
        rerouted = replace(target, reason=f"{why}: {target.reason}")
        return [recategorised, after._routed(rerouted, policy.rules.version)]

    def _staff_decision(self, category: Category) -> CategoryDecision:
        """The centre's word: source staff, keeping what the platform sent so the correction teaches."""
        earlier = self.category_decision
        return CategoryDecision(
            category=category,
            source=CategorySource.STAFF,
            confidence=1.0,
            platform=earlier.platform if earlier else None,
            taxonomy_version=earlier.taxonomy_version if earlier else None,
            platform_label=earlier.platform_label if earlier else None,
            platform_code=earlier.platform_code if earlier else None,
            candidates=earlier.candidates if earlier else [],
        )

    def reopen(self, actor: Actor, detail: str, policy: RoutingPolicy) -> list[DomainEvent]:
        """The complainant called again about a closed case (a repeat complaint)."""
        self._require({CaseState.CLOSED}, "reopen")
        if not self._own_centre(actor):
            raise NotPermitted("closed cases are reopened by the centre")
        return self._reopen(ReopenReason.REPEAT_COMPLAINT, detail, policy)

    # -- facts from other services ----------------------------------------------------------------

    def add_co_complainant(self, merged: ComplaintMerged, policy: RoutingPolicy) -> list[DomainEvent]:
        """Intake merged a further complaint into this case: record it; a closed case reopens, a crowd escalates."""
        if merged.complaint_id in self.complaint_ids:
            return []
        added: list[DomainEvent] = [
            CoComplainantAdded(
                case_id=self.case_id,
                complaint_id=merged.complaint_id,
                channel=merged.channel,
                complainant_id=merged.complainant_id,
                complainant_count=max(merged.complainant_count, self.complainant_count + 1),
            )
        ]
        if self.state is CaseState.CLOSED:
            added += self._reopen(ReopenReason.REPEAT_COMPLAINT, merged.merge_reason, policy)
        after = self.then(added)
        threshold = policy.rules.escalation.group_complaint_threshold
        if (
            after.state in WITH_A_UNIT
            and after.complainant_count >= threshold
            and EscalationTrigger.GROUP_COMPLAINT not in after.escalations
        ):
            why = f"{after.complainant_count} people complained (group threshold {threshold})"
            added.append(after._escalation(EscalationTrigger.GROUP_COMPLAINT, why, policy))
        return added

    def escalate_for_breach(self, reason: str, policy: RoutingPolicy) -> list[DomainEvent]:
        """The SLA watch says a deadline ran out and its policy wants the joint meeting."""
        if self.state not in WITH_A_UNIT:
            return []  # already with the joint meeting, resolved or closed: nothing left to escalate
        return [self._escalation(EscalationTrigger.SLA_WATCH, reason, policy)]

    def complete_joint_enforcement(self, done: JointEnforcementCompleted) -> list[DomainEvent]:
        """The joint meeting verified the problem gone: the case is resolved and goes to callback."""
        if self.state is not CaseState.ESCALATED:
            return []  # a late or repeated completion changes nothing
        return [
            CaseResolved(
                case_id=self.case_id,
                resolved_by=ResolvedBy.JOINT_MEETING,
                unit_code=None,
                resolution=done.summary,
                joint_meeting_file_id=done.file_id,
            )
        ]

    # -- helpers ----------------------------------------------------------------------------------

    def _require(self, states: Collection[CaseState], doing: str) -> None:
        if self.state not in states:
            allowed = sorted(s.value for s in states)
            raise InvalidTransition(
                f"cannot {doing} case {self.case_id}: it is {self.state.value}, must be one of {allowed}"
            )

    def _own_centre(self, actor: Actor) -> bool:
        return actor.is_centre and actor.district == self.district

    def _require_handler(self, actor: Actor, doing: str) -> None:
        if not self.handled_by(actor):
            raise NotPermitted(
                f"{actor.unit_code} cannot {doing} case {self.case_id}: it is with {self.unit_code}"
            )

    def _unit(self) -> str:
        assert self.unit_code is not None, "a case with a unit"
        return self.unit_code

    def _routed(self, target: RouteToUnit, rules_version: str) -> CaseRouted:
        return CaseRouted(
            case_id=self.case_id,
            level=target.level,
            unit_code=target.unit_code,
            unit_name=target.unit_name,
            rule_id=target.rule_id,
            rules_version=rules_version,
            reason=target.reason,
        )

    def _escalation(self, trigger: EscalationTrigger, reason: str, policy: RoutingPolicy) -> CaseEscalated:
        """A proposal of who should lead: the joint meeting's earlier decision for the case (so no topic names
        another lead once it has decided), else the rules'."""
        decided = self.joint_decision
        if decided is not None and decided.category is self.category:
            rule_id = f"joint-meeting-decision/{decided.file_id}"
            others = tuple(b for b in decided.bureaus if b is not decided.lead)
            escalation = Escalation(lead=decided.lead, bureaus=(decided.lead, *others))
        else:
            rule_id, escalation = policy.rules.escalation_for(self.category)
        return CaseEscalated(
            case_id=self.case_id,
            trigger=trigger,
            district=self.district,
            category=self.category,
            compound_code=self.compound_code,
            street_code=self.street_code,
            bureaus=list(escalation.bureaus),
            lead_bureau=escalation.lead,
            rule_id=rule_id,
            rules_version=policy.rules.version,
            reason=reason,
        )

    def _reopen(self, why: ReopenReason, detail: str, policy: RoutingPolicy) -> list[DomainEvent]:
        """Back to the unit that resolved it; to the joint meeting when it had it or on a repeated reopening.
        The SLA starts the reopened case's fresh resolve clock (its deadline is the policy's)."""
        count = self.reopen_count + 1
        limit = policy.rules.escalation.reopenings_before_escalation
        to_joint_meeting = self.unit_code is None or count >= limit
        reopened = CaseReopened(
            case_id=self.case_id,
            reason=why,
            reopen_count=count,
            unit_code=None if to_joint_meeting else self.unit_code,
            detail=detail,
        )
        if not to_joint_meeting:
            return [reopened]
        what = (
            f"reopened {count} times (limit {limit})"
            if count >= limit
            else "reopened after joint enforcement"
        )
        return [reopened, self._escalation(EscalationTrigger.REPEATED_REOPENING, what, policy)]


# -- folding events into state ----------------------------------------------------------------------


def evolve(case: Case | None, event: DomainEvent) -> Case:
    """The case after one of its events (a pure fold step: the repository's, and Case.rebuild's)."""
    if isinstance(event, CaseOpened):
        if case is not None:
            raise ValueError(f"case {event.case_id} opened twice")
        return Case(
            case_id=event.case_id,
            version=1,
            state=CaseState.OPENED,
            category=event.category,
            urgency=event.urgency,
            channel=event.channel,
            received_at=event.received_at,
            compound_code=event.compound_code,
            street_code=event.street_code,
            complaint_ids=frozenset({event.complaint_id}),
            district=event.district,
            category_decision=event.category_decision,
        )
    if case is None:
        raise ValueError(f"{event.event_type} before CaseOpened on case {event.case_id}")
    # One replace per event, the version with the event's changes: replace() copies every field, so a fold
    # of a whole stream (a replay) pays for each copy.
    return replace(case, version=case.version + 1, **_changes(case, event))


def _changes(case: Case, event: DomainEvent) -> dict[str, Any]:
    """The fields one event changes (none, for a fact routing keeps that does not change the state)."""
    if isinstance(event, CaseRouted):
        return {
            "state": CaseState.ROUTED,
            "level": event.level,
            "unit_code": event.unit_code,
            "unit_name": event.unit_name,
            "rule_id": event.rule_id,
            "rules_version": event.rules_version,
        }
    if isinstance(event, CaseEscalated):
        return {
            "state": CaseState.ESCALATED,
            "level": None,
            "unit_code": None,
            "unit_name": None,
            "rule_id": event.rule_id,
            "rules_version": event.rules_version,
            "escalations": (*case.escalations, event.trigger),
            "proposed_lead": event.lead_bureau,
        }
    if isinstance(event, CaseAccepted):
        return {"state": CaseState.ACCEPTED}
    if isinstance(event, CaseProgressNoted):
        return {"state": CaseState.IN_PROGRESS}
    if isinstance(event, CaseResolved):
        return {"state": CaseState.RESOLVED, "callback_outcome": None}
    if isinstance(event, CaseCalledBack):
        return {"callback_outcome": event.outcome}
    if isinstance(event, CaseClosed):
        return {"state": CaseState.CLOSED}
    if isinstance(event, CaseReopened):
        return {
            "state": CaseState.ROUTED,
            "unit_code": event.unit_code,
            "reopen_count": event.reopen_count,
        }
    if isinstance(event, CaseReturned):
        return {"return_count": event.return_count, "refused_units": (*case.refused_units, event.unit_code)}
    if isinstance(event, CaseRecategorised):
        return {"category": event.to_category, "category_decision": event.decision}
    if isinstance(event, CoComplainantAdded):
        return {
            "complainant_count": event.complainant_count,
            "complaint_ids": case.complaint_ids | {event.complaint_id},
        }
    return {}  # a fact routing keeps but that does not change the state
