"""The case aggregate, pure: the lifecycle, returns and re-routing, reopening and escalations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from district.directory import Compound, load_directory
from schemas.cases import (
    CallbackOutcome,
    CaseCalledBack,
    CaseClosed,
    CaseEscalated,
    CaseReopened,
    CaseResolved,
    CaseReturned,
    CaseRouted,
    CoComplainantAdded,
    EscalationTrigger,
    ReopenReason,
    ResolvedBy,
)
from schemas.complaints import ComplaintMerged, ComplaintReceived
from schemas.jointmeeting import JointEnforcementCompleted
from schemas.reference import Bureau, Category, Channel, ComplaintKind, Level, Management, Urgency
from services.routing.domain.access import Actor
from services.routing.domain.case import facts_of, open_case
from services.routing.domain.learnt import JointDecision
from services.routing.domain.lifecycle import Case, CaseState, InvalidTransition, NotPermitted
from services.routing.domain.routing import CENTRE_TRIAGE_UNIT, RoutingPolicy, decide_route
from services.routing.domain.rules import EscalationPolicy, load_rules

DIRECTORY = load_directory()
RULES = load_rules()
POLICY = RoutingPolicy(RULES, DIRECTORY)
BEIJING = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
CENTRE = Actor("centre", "callback-01")


def compound(management: Management = Management.PROFESSIONAL) -> Compound:
    return next(c for c in DIRECTORY.compounds if c.management is management)


def complaint(
    category: Category = Category.SANITATION,
    where: Compound | None = None,
    street: str | None = None,
    case_id: str = "case-1",
) -> ComplaintReceived:
    return ComplaintReceived(
        case_id=case_id,
        complaint_id=f"hotline:{case_id}",
        channel=Channel.HOTLINE,
        source_ref=case_id,
        received_at=datetime(2026, 11, 18, 9, 30, tzinfo=BEIJING),
        kind=ComplaintKind.COMPLAINT,
        category=category,
        description="垃圾堆放",
        address="某路1号",
        compound_code=where.code if where else None,
        street_code=where.street_code if where else street,
        urgency=Urgency.NORMAL,
        complainant_id="p-1",
        caller_phone_masked="138****0000",
    )


def opened(received: ComplaintReceived, policy: RoutingPolicy = POLICY) -> Case:
    decision = decide_route(facts_of(received), policy.rules, policy.directory)
    case = Case.rebuild(open_case(received, decision, policy.rules.version))
    assert case is not None
    return case


def handler(case: Case) -> Actor:
    assert case.unit_code is not None
    return Actor("centre" if case.unit_code == CENTRE_TRIAGE_UNIT else case.unit_code, "staff-7")


def resolved(case: Case) -> Case:
    case = case.then(case.accept(handler(case)))
    case = case.then(case.note_progress(handler(case), "cleared half", ["photo://1"]))
    return case.then(case.resolve(handler(case), "rubbish removed, bins added"))


def merged(count: int, case_id: str = "case-1") -> ComplaintMerged:
    return ComplaintMerged(
        case_id=case_id,
        complaint_id=f"hotline:m{count}",
        channel=Channel.HOTLINE,
        source_ref=f"m{count}",
        received_at=NOW,
        category=Category.SANITATION,
        compound_code=None,
        complainant_id=f"p-{count}",
        caller_phone_masked="139****0000",
        merge_rule="same-compound-category",
        merge_reason="same compound, same category, within 7 days",
        complainant_count=count,
    )


def test_sanitation_case_goes_from_its_community_through_resolution_and_a_satisfied_callback_to_closed() -> (
    None
):
    where = compound()
    case = resolved(opened(complaint(where=where)))
    assert (case.state, case.unit_code) == (CaseState.RESOLVED, where.community_code)
    events = case.record_callback(CENTRE, CallbackOutcome.SATISFIED, "thanks", POLICY)
    assert [type(e) for e in events] == [CaseCalledBack, CaseClosed]
    closed = case.then(events)
    assert closed.state is CaseState.CLOSED and closed.callback_outcome is CallbackOutcome.SATISFIED
    assert closed.version == 7


def test_a_case_nobody_accepted_cannot_be_resolved_and_the_error_names_the_state() -> None:
    case = opened(complaint(where=compound()))
    with pytest.raises(InvalidTransition, match="it is routed"):
        case.resolve(handler(case), "done")


def test_a_community_cannot_accept_another_communitys_case() -> None:
    case = opened(complaint(where=compound()))
    other = next(c for c in DIRECTORY.communities if c.code != case.unit_code)
    with pytest.raises(NotPermitted, match=other.code):
        case.accept(Actor(other.code, "x"))


def test_only_the_centre_records_callbacks() -> None:
    case = resolved(opened(complaint(where=compound())))
    with pytest.raises(NotPermitted):
        case.record_callback(handler(case), CallbackOutcome.SATISFIED, "", POLICY)


def test_a_dissatisfied_callback_reopens_the_case_to_the_unit_that_resolved_it_with_a_count() -> None:
    case = resolved(opened(complaint(where=compound())))
    events = case.record_callback(CENTRE, CallbackOutcome.DISSATISFIED, "still dirty", POLICY)
    reopened = events[-1]
    assert isinstance(reopened, CaseReopened)
    assert (reopened.reason, reopened.reopen_count, reopened.unit_code) == (
        ReopenReason.DISSATISFIED,
        1,
        case.unit_code,
    )
    assert reopened.due_at is None  # no deadline of routing's own: the SLA starts the fresh resolve clock
    after = case.then(events)
    assert (after.state, after.unit_code) == (CaseState.ROUTED, case.unit_code)


def test_a_case_reopened_again_escalates_to_the_joint_meeting_led_by_the_centre_with_the_street_office() -> (
    None
):
    case = resolved(opened(complaint(where=compound())))
    case = case.then(case.record_callback(CENTRE, CallbackOutcome.DISSATISFIED, "", POLICY))
    case = resolved(case)
    events = case.record_callback(CENTRE, CallbackOutcome.DISSATISFIED, "", POLICY)
    escalated = events[-1]
    assert isinstance(escalated, CaseEscalated)
    assert escalated.trigger is EscalationTrigger.REPEATED_REOPENING
    assert (escalated.lead_bureau, escalated.bureaus) == (
        Bureau.CENTRE,
        [Bureau.CENTRE, Bureau.STREET_OFFICE],
    )
    assert escalated.rule_id == "escalation-default"


def test_a_community_returning_its_case_sends_it_up_to_the_compounds_street() -> None:
    where = compound()
    case = opened(complaint(where=where))
    events = case.return_to_routing(handler(case), "the wall belongs to the next compound", POLICY)
    returned, routed = events
    assert isinstance(returned, CaseReturned) and returned.return_count == 1
    assert isinstance(routed, CaseRouted)
    assert (routed.level, routed.unit_code) == (Level.STREET, where.street_code)
    assert routed.rule_id == "community-daily/up-to-street"
    assert routed.due_at is None  # the deadline is the SLA resolve clock's, which a re-routing keeps


def test_a_street_returning_a_self_managed_security_case_passes_it_to_the_next_rule_the_community() -> None:
    where = compound(Management.SELF_MANAGED)
    case = opened(complaint(Category.SECURITY_ACCESS, where=where))
    assert case.unit_code == where.street_code
    routed = case.return_to_routing(handler(case), "gate is the community's project", POLICY)[-1]
    assert isinstance(routed, CaseRouted)
    assert (routed.unit_code, routed.rule_id) == (where.community_code, "community-daily")


def test_a_case_returned_twice_escalates_instead_of_bouncing_on() -> None:
    case = opened(complaint(where=compound()))
    case = case.then(case.return_to_routing(handler(case), "not ours", POLICY))
    events = case.return_to_routing(handler(case), "not ours either", POLICY)
    escalated = events[-1]
    assert isinstance(escalated, CaseEscalated) and escalated.trigger is EscalationTrigger.REPEATED_RETURN
    assert case.then(events).state is CaseState.ESCALATED


def test_a_case_bouncing_between_the_same_two_units_escalates_even_below_the_return_limit() -> None:
    lenient = RoutingPolicy(
        RULES.model_copy(update={"escalation": EscalationPolicy(max_returns=5)}), DIRECTORY
    )
    case = opened(complaint(where=compound()), lenient)
    community = case.unit_code
    assert community is not None
    case = case.then(case.return_to_routing(handler(case), "not ours", lenient))
    target = lenient.unit(community)
    assert target is not None
    case = case.then(case.route_to(CENTRE, target, lenient))  # the centre sends it back by hand
    events = case.return_to_routing(handler(case), "still not ours", lenient)
    escalated = events[-1]
    assert isinstance(escalated, CaseEscalated) and escalated.trigger is EscalationTrigger.REPEATED_RETURN
    assert "bouncing" in escalated.reason and case.return_count == 1


def test_the_centres_triage_queue_returning_a_case_escalates_since_nobody_is_above_it() -> None:
    case = opened(complaint(Category.NOISE_POLLUTION))
    assert case.unit_code == CENTRE_TRIAGE_UNIT
    escalated = case.return_to_routing(CENTRE, "no address at all", POLICY)[-1]
    assert isinstance(escalated, CaseEscalated) and escalated.trigger is EscalationTrigger.REPEATED_RETURN


def test_enough_co_complainants_make_a_group_complaint_that_escalates_once() -> None:
    case = opened(complaint(where=compound()))
    threshold = RULES.escalation.group_complaint_threshold
    for count in range(2, threshold):
        events = case.add_co_complainant(merged(count), POLICY)
        assert [type(e) for e in events] == [CoComplainantAdded]
        case = case.then(events)
    events = case.add_co_complainant(merged(threshold), POLICY)
    assert [type(e) for e in events] == [CoComplainantAdded, CaseEscalated]
    escalated = events[-1]
    assert isinstance(escalated, CaseEscalated) and escalated.trigger is EscalationTrigger.GROUP_COMPLAINT
    case = case.then(events)
    assert case.add_co_complainant(merged(threshold), POLICY) == []  # the same complaint again
    more = case.add_co_complainant(merged(threshold + 1), POLICY)
    assert [type(e) for e in more] == [CoComplainantAdded]


def test_a_repeat_complaint_about_a_closed_case_reopens_it() -> None:
    case = resolved(opened(complaint(where=compound())))
    case = case.then(case.record_callback(CENTRE, CallbackOutcome.BASICALLY_SATISFIED, "", POLICY))
    events = case.add_co_complainant(merged(2), POLICY)
    reopened = events[-1]
    assert isinstance(reopened, CaseReopened) and reopened.reason is ReopenReason.REPEAT_COMPLAINT
    assert case.then(events).state is CaseState.ROUTED


def test_joint_enforcement_completed_resolves_a_fire_hazard_case_which_a_callback_then_closes() -> None:
    case = opened(complaint(Category.FIRE_HAZARD, where=compound()))
    assert case.state is CaseState.ESCALATED
    done = JointEnforcementCompleted(
        case_id="case-1",
        file_id="jm-1",
        verified_by="jm-07",
        verified_at=NOW,
        tasks_done=3,
        summary="hallway cleared, e-bike charging moved outdoors",
    )
    [resolved_event] = case.complete_joint_enforcement(done)
    assert isinstance(resolved_event, CaseResolved) and resolved_event.resolved_by is ResolvedBy.JOINT_MEETING
    case = case.then([resolved_event])
    assert case.complete_joint_enforcement(done) == []  # a repeated completion changes nothing
    closed = case.then(case.record_callback(CENTRE, CallbackOutcome.SATISFIED, "", POLICY))
    assert closed.state is CaseState.CLOSED


def test_reopening_a_joint_meeting_case_sends_it_back_to_the_joint_meeting() -> None:
    case = opened(complaint(Category.ILLEGAL_CONSTRUCTION, where=compound()))
    case = case.then(
        [
            CaseResolved(
                case_id="case-1", resolved_by=ResolvedBy.JOINT_MEETING, unit_code=None, resolution="gone"
            )
        ]
    )
    events = case.record_callback(CENTRE, CallbackOutcome.DISSATISFIED, "it is back", POLICY)
    escalated = events[-1]
    assert isinstance(escalated, CaseEscalated)
    assert (
        escalated.lead_bureau is Bureau.CITY_APPEARANCE and escalated.rule_id == "joint-illegal-construction"
    )


def test_an_access_control_case_reopened_after_joint_enforcement_proposes_the_lead_the_joint_meeting_decided() -> (
    None
):
    case = opened(complaint(Category.SECURITY_ACCESS, where=compound()))
    [escalated] = case.request_escalation(
        handler(case), EscalationTrigger.UNIT_REQUEST, "gate broken", POLICY
    )
    assert isinstance(escalated, CaseEscalated)
    assert (escalated.lead_bureau, escalated.rule_id) == (Bureau.CENTRE, "escalation-default")  # the proposal
    decided = JointDecision(
        "jm-1",
        Category.SECURITY_ACCESS,
        Bureau.PUBLIC_SECURITY,
        (Bureau.PUBLIC_SECURITY, Bureau.STREET_OFFICE),
    )
    case = case.then([escalated]).knowing(decided)
    case = case.then(
        [
            CaseResolved(
                case_id="case-1", resolved_by=ResolvedBy.JOINT_MEETING, unit_code=None, resolution="ok"
            )
        ]
    )
    again = case.record_callback(CENTRE, CallbackOutcome.DISSATISFIED, "gate broken again", POLICY)[-1]
    assert isinstance(again, CaseEscalated)
    assert (again.lead_bureau, again.bureaus, again.rule_id) == (
        Bureau.PUBLIC_SECURITY,
        [Bureau.PUBLIC_SECURITY, Bureau.STREET_OFFICE],
        "joint-meeting-decision/jm-1",
    )


def test_only_the_centre_escalates_for_lateness_and_a_unit_may_ask_for_its_own_case() -> None:
    case = opened(complaint(where=compound()))
    with pytest.raises(NotPermitted):
        case.request_escalation(handler(case), EscalationTrigger.SLA_WATCH, "late", POLICY)
    sla = case.request_escalation(CENTRE, EscalationTrigger.SLA_WATCH, "5 days over", POLICY)[-1]
    asked = case.request_escalation(handler(case), EscalationTrigger.UNIT_REQUEST, "needs bureaus", POLICY)[
        -1
    ]
    assert isinstance(sla, CaseEscalated) and sla.trigger is EscalationTrigger.SLA_WATCH
    assert isinstance(asked, CaseEscalated) and asked.trigger is EscalationTrigger.UNIT_REQUEST
