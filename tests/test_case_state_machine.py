"""Property-based: no sequence of staff commands and incoming facts reaches an invalid case or loses an event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.base import DomainEvent
from schemas.cases import (
    CallbackOutcome,
    CaseClosed,
    CaseEscalated,
    CaseReopened,
    CaseResolved,
    CaseReturned,
    CaseRouted,
    EscalationTrigger,
    ResolvedBy,
)
from schemas.jointmeeting import JointEnforcementCompleted
from schemas.reference import Category, Management
from services.routing.domain.access import Actor
from services.routing.domain.case import facts_of, open_case
from services.routing.domain.lifecycle import (
    BEING_HANDLED,
    WITH_A_UNIT,
    Case,
    CaseCommandError,
    CaseState,
)
from services.routing.domain.routing import RouteToUnit, decide_route
from tests.test_case_lifecycle import CENTRE, DIRECTORY, POLICY, complaint, compound, handler, merged

NOW = datetime(2026, 11, 20, tzinfo=UTC)
CENTRE_COMMANDS = frozenset({"route", "sla_escalation", "callback", "reopen"})
STRANGER = Actor(DIRECTORY.communities[-1].code, "stranger")
Command = Callable[[Case], list[DomainEvent]]


@dataclass(frozen=True)
class Step:
    name: str
    who: str  # "right" (whoever may do it), "centre" or "stranger"
    arg: int

    def actor(self, case: Case) -> Actor:
        if self.who == "centre" or (self.who == "right" and self.name in CENTRE_COMMANDS):
            return CENTRE
        if self.who == "stranger" or case.unit_code is None:
            return STRANGER
        return handler(case)

    def command(self, case: Case) -> Command:
        actor = self.actor(case)
        outcomes = list(CallbackOutcome)
        units = [u.code for u in DIRECTORY.streets[:2]] + [c.code for c in DIRECTORY.communities[:2]]
        commands: dict[str, Command] = {
            "accept": lambda c: c.accept(actor),
            "progress": lambda c: c.note_progress(actor, "working on it", []),
            "resolve": lambda c: c.resolve(actor, "fixed"),
            "return": lambda c: c.return_to_routing(actor, "not ours", POLICY),
            "route": lambda c: c.route_to(actor, _unit(units[self.arg % len(units)]), POLICY),
            "unit_escalation": lambda c: c.request_escalation(
                actor, EscalationTrigger.UNIT_REQUEST, "need help", POLICY
            ),
            "sla_escalation": lambda c: c.request_escalation(
                actor, EscalationTrigger.SLA_WATCH, "late", POLICY
            ),
            "callback": lambda c: c.record_callback(actor, outcomes[self.arg % 3], "", POLICY),
            "reopen": lambda c: c.reopen(actor, "called again", POLICY),
            "merge": lambda c: c.add_co_complainant(merged(2 + self.arg), POLICY),
            "joint_done": lambda c: c.complete_joint_enforcement(_done()),
        }
        return commands[self.name]


def _unit(code: str) -> RouteToUnit:
    unit = POLICY.unit(code)
    assert unit is not None
    return unit


def _done() -> JointEnforcementCompleted:
    return JointEnforcementCompleted(
        case_id="case-1", file_id="jm-1", verified_by="jm", verified_at=NOW, tasks_done=2, summary="done"
    )


steps = st.builds(
    Step,
    # Weighted towards the lifecycle's forward path, so runs reach callbacks and reopenings, not only
    # the escalations that end most random walks early.
    name=st.sampled_from(
        ["accept"] * 4
        + ["progress"] * 2
        + ["resolve"] * 4
        + ["callback"] * 4
        + ["reopen"] * 2
        + ["joint_done"] * 3
        + ["return", "route", "unit_escalation", "sla_escalation", "merge"]
    ),
    who=st.sampled_from(["right"] * 4 + ["centre", "stranger"]),
    arg=st.integers(min_value=0, max_value=8),
)
starts = st.sampled_from(
    [
        (Category.SANITATION, Management.PROFESSIONAL),
        (Category.SECURITY_ACCESS, Management.SELF_MANAGED),
        (Category.FIRE_HAZARD, Management.PROFESSIONAL),
        (Category.NOISE_POLLUTION, None),
        (Category.MAINTENANCE_FUND, Management.FORMERLY_UNMANAGED),
    ]
)


def _check(case: Case, history: list[DomainEvent]) -> None:
    rebuilt = Case.rebuild(history)
    assert rebuilt == case, "folding the stored events must give the very same case"
    assert case.version == len(history)
    assert case.state is not CaseState.OPENED
    if case.state in WITH_A_UNIT:
        assert case.unit_code is not None and case.level is not None
    if case.state is CaseState.ESCALATED:
        assert case.unit_code is None
    latest = [e for e in history if isinstance(e, CaseClosed | CaseReopened)]
    assert (case.state is CaseState.CLOSED) == bool(latest and isinstance(latest[-1], CaseClosed))
    assert case.reopen_count == sum(isinstance(e, CaseReopened) for e in history)
    assert case.return_count == sum(isinstance(e, CaseReturned) for e in history)


def _check_transitions(history: list[DomainEvent]) -> None:
    """Each fact followed from the state before it: no resolution without acceptance, no endless bouncing."""
    case: Case | None = None
    limit = POLICY.rules.escalation.max_returns
    for index, event in enumerate(history):
        before = case
        case = Case.rebuild(history[: index + 1])
        if isinstance(event, CaseResolved) and before is not None:
            expected = (
                {CaseState.ESCALATED} if event.resolved_by is ResolvedBy.JOINT_MEETING else BEING_HANDLED
            )
            assert before.state in expected
        if isinstance(event, CaseReturned):
            following = history[index + 1]
            assert isinstance(following, CaseRouted | CaseEscalated)
            if event.return_count >= limit:
                assert isinstance(following, CaseEscalated)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(start=starts, plan=st.lists(steps, max_size=60))
def test_no_sequence_of_commands_reaches_an_invalid_case_or_loses_an_event(
    start: tuple[Category, Management | None], plan: list[Step]
) -> None:
    category, management = start
    received = complaint(category, where=compound(management) if management else None)
    decision = decide_route(facts_of(received), POLICY.rules, DIRECTORY)
    history: list[DomainEvent] = list(open_case(received, decision, POLICY.rules.version))
    case = Case.rebuild(history)
    assert case is not None
    for step in plan:
        try:
            events = step.command(case)(case)
        except CaseCommandError:
            continue  # refused: nothing recorded, nothing changed
        case = case.then(events)
        history += events
        _check(case, history)
    _check_transitions(history)
