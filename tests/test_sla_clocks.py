"""Clocks start, pause, resume and stop from case and task facts; deadlines follow the policy."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from deadlines.calendar import BEIJING, WorkingCalendar
from deadlines.policy import load_policy
from deadlines.timing import Timing
from schemas.base import DomainEvent
from schemas.cases import (
    CallbackOutcome,
    CaseAccepted,
    CaseCalledBack,
    CaseClosed,
    CaseEscalated,
    CaseOpened,
    CaseReopened,
    CaseResolved,
    CaseRouted,
    EscalationTrigger,
    ReopenReason,
    ResolvedBy,
)
from schemas.jointmeeting import (
    EnforcementTaskAssigned,
    EnforcementTaskConfirmed,
    EnforcementTaskExtended,
    JointMeetingFileOpened,
)
from schemas.reference import Bureau, Category, Channel, Level, Urgency
from schemas.sla import (
    ClockKind,
    ClockMeasure,
    SlaClockRetargeted,
    SlaClockStopped,
    SlaLeadBureauRecorded,
)
from services.sla.domain.clocks import (
    AlertKind,
    CaseClocks,
    ClockConflict,
    ClockState,
    evolve,
    pausable,
    pause_clock,
    resume_clock,
    time_left,
)
from services.sla.domain.reactions import Reactor

MONDAY = datetime(2026, 11, 16, 9, 0, tzinfo=BEIJING)
TIMING = Timing(load_policy(), WorkingCalendar())
REACTOR = Reactor(
    TIMING, lambda _district, compound: ("C-community", "P-company") if compound else (None, None)
)


def opened(urgency: Urgency = Urgency.NORMAL, category: Category = Category.SANITATION) -> CaseOpened:
    return CaseOpened(
        case_id="case-1",
        complaint_id="hotline:1",
        channel=Channel.HOTLINE,
        category=category,
        urgency=urgency,
        received_at=MONDAY,
        compound_code="CP-1",
        street_code="S-01",
        complainant_id="p",
    )


def routed(unit: str = "COMM-1") -> CaseRouted:
    return CaseRouted(
        case_id="case-1",
        level=Level.COMMUNITY,
        unit_code=unit,
        unit_name="x",
        rule_id="r",
        rules_version="1",
        reason="test",
    )


def feed(case: CaseClocks, *facts: tuple[DomainEvent, datetime]) -> tuple[CaseClocks, list[DomainEvent]]:
    """The case's clocks after the facts, and the events they decided."""
    events: list[DomainEvent] = []
    for fact, at in facts:
        reaction = REACTOR.react(case, fact, at)
        case = reaction.case
        events.extend(reaction.events)
    return case, events


def test_an_ordinary_case_gets_one_working_day_to_dispatch_and_five_to_resolve() -> None:
    case, _ = feed(CaseClocks("case-1"), (opened(), MONDAY), (routed(), MONDAY + timedelta(hours=2)))
    dispatch, contact, resolve = (
        case.clock(k) for k in (ClockKind.DISPATCH, ClockKind.CONTACT, ClockKind.RESOLVE)
    )
    assert dispatch and dispatch.state is ClockState.STOPPED and dispatch.on_time
    assert resolve and resolve.deadline == datetime(2026, 11, 23, 11, 0, tzinfo=BEIJING)
    assert resolve.scope.community_code == "C-community" and resolve.scope.company_code == "P-company"
    assert contact and contact.deadline == datetime(2026, 11, 17, 11, 0, tzinfo=BEIJING)
    assert resolve.at_risk_at == datetime(2026, 11, 20, 11, 0, tzinfo=BEIJING)  # 80% of five days


def test_an_urgent_case_runs_around_the_clock() -> None:
    case, _ = feed(CaseClocks("case-1"), (opened(Urgency.URGENT), MONDAY), (routed(), MONDAY))
    contact = case.clock(ClockKind.CONTACT)
    assert contact and contact.deadline == MONDAY + timedelta(hours=2)


def test_a_case_in_the_triage_queue_is_not_dispatched_yet() -> None:
    case, _ = feed(CaseClocks("case-1"), (opened(), MONDAY), (routed("centre-triage"), MONDAY))
    dispatch = case.clock(ClockKind.DISPATCH)
    assert dispatch and dispatch.state is ClockState.RUNNING
    assert case.clock(ClockKind.RESOLVE) is None


def test_a_pause_waiting_for_the_complainant_moves_the_deadline_by_the_paused_working_time() -> None:
    case, _ = feed(CaseClocks("case-1"), (opened(), MONDAY), (routed(), MONDAY))
    resolve = case.clock(ClockKind.RESOLVE)
    assert resolve is not None
    case = evolve(
        case, pause_clock(TIMING, resolve, MONDAY + timedelta(days=1), "waiting for the complainant")
    )
    resolve = case.clocks[resolve.clock_id]
    assert resolve.state is ClockState.PAUSED and resolve.next_alert() is None
    with pytest.raises(ClockConflict, match="not running"):
        pause_clock(TIMING, resolve, MONDAY + timedelta(days=2), "again")
    # paused from Tue 09:00 to Thu 09:00: two working days do not count
    case = evolve(case, resume_clock(TIMING, resolve, MONDAY + timedelta(days=3)))
    resolve = case.clocks[resolve.clock_id]
    assert resolve.deadline == datetime(2026, 11, 25, 9, 0, tzinfo=BEIJING)
    with pytest.raises(ClockConflict, match="not paused"):
        resume_clock(TIMING, resolve, MONDAY + timedelta(days=4))


def test_accepting_stops_the_contact_clock_and_resolving_the_resolve_clock() -> None:
    case, events = feed(
        CaseClocks("case-1"),
        (opened(), MONDAY),
        (routed(), MONDAY),
        (CaseAccepted(case_id="case-1", unit_code="COMM-1"), MONDAY + timedelta(hours=1)),
        (
            CaseResolved(
                case_id="case-1", resolved_by=ResolvedBy.UNIT, unit_code="COMM-1", resolution="fixed"
            ),
            MONDAY + timedelta(days=1),
        ),
    )
    stops = [e for e in events if isinstance(e, SlaClockStopped)]
    assert [s.clock_id for s in stops] == ["case-1/dispatch", "case-1/contact", "case-1/resolve/0"]
    assert all(s.on_time for s in stops)
    assert not case.is_open()


def test_a_reopened_case_gets_a_fresh_resolve_clock_and_closing_stops_it() -> None:
    case, _ = feed(
        CaseClocks("case-1"),
        (opened(), MONDAY),
        (routed(), MONDAY),
        (
            CaseResolved(case_id="case-1", resolved_by=ResolvedBy.UNIT, unit_code="COMM-1", resolution="x"),
            MONDAY,
        ),
        (CaseCalledBack(case_id="case-1", outcome=CallbackOutcome.DISSATISFIED), MONDAY + timedelta(hours=3)),
        (
            CaseReopened(
                case_id="case-1", reason=ReopenReason.DISSATISFIED, reopen_count=1, unit_code="COMM-1"
            ),
            MONDAY + timedelta(days=1),
        ),
    )
    fresh = case.clock(ClockKind.RESOLVE)
    assert fresh and fresh.clock_id == "case-1/resolve/1" and fresh.started_at == MONDAY + timedelta(days=1)
    assert fresh.deadline == datetime(2026, 11, 24, 9, 0, tzinfo=BEIJING)
    assert case.callback_outcome == "dissatisfied"
    case, _ = feed(
        case,
        (
            CaseClosed(case_id="case-1", outcome=CallbackOutcome.SATISFIED, reopen_count=1),
            MONDAY + timedelta(days=2),
        ),
    )
    assert case.clocks[fresh.clock_id].state is ClockState.STOPPED and not case.is_open()


def test_escalation_gives_the_resolve_clock_the_joint_meeting_deadline() -> None:
    escalated = CaseEscalated(
        case_id="case-1",
        trigger=EscalationTrigger.CROSS_DEPARTMENT,
        category=Category.FIRE_HAZARD,
        compound_code="CP-1",
        street_code="S-01",
        bureaus=[Bureau.FIRE_RESCUE, Bureau.STREET_OFFICE],
        lead_bureau=Bureau.FIRE_RESCUE,
        rule_id="r",
        rules_version="1",
        reason="fire",
    )
    case, _ = feed(CaseClocks("case-1"), (opened(category=Category.FIRE_HAZARD), MONDAY), (escalated, MONDAY))
    resolve = case.clock(ClockKind.RESOLVE)
    assert resolve and resolve.policy_rule == "joint-meeting" and resolve.scope.level == "joint_meeting"
    assert resolve.deadline == datetime(2026, 12, 7, 9, 0, tzinfo=BEIJING)  # 15 working days


def test_a_bureau_task_is_due_when_the_meeting_said_and_an_extension_moves_it() -> None:
    due = MONDAY + timedelta(days=3)
    assigned = EnforcementTaskAssigned(
        case_id="case-1",
        file_id="f",
        task_id="t1",
        bureau=Bureau.FIRE_RESCUE,
        is_lead=True,
        action="clear",
        due_at=due,
        done_when="clear",
    )
    case, _ = feed(CaseClocks("case-1"), (opened(), MONDAY), (assigned, MONDAY))
    task = case.clocks["case-1/task/t1"]
    assert task.deadline == due and task.next_alert() == (MONDAY + timedelta(days=3 * 0.8), AlertKind.AT_RISK)
    later = due + timedelta(days=2)
    case, _ = feed(
        case,
        (
            EnforcementTaskExtended(
                case_id="case-1",
                file_id="f",
                task_id="t1",
                bureau=Bureau.FIRE_RESCUE,
                previous_due_at=due,
                due_at=later,
                reason="rain",
            ),
            MONDAY,
        ),
    )
    assert case.clocks["case-1/task/t1"].deadline == later


def test_a_clock_stopped_after_its_deadline_is_reported_late_for_a_breach() -> None:
    case, _ = feed(CaseClocks("case-1"), (opened(), MONDAY), (routed(), MONDAY))
    reaction = REACTOR.react(
        case, CaseAccepted(case_id="case-1", unit_code="COMM-1"), MONDAY + timedelta(days=3)
    )
    assert [c.clock_id for c in reaction.late] == ["case-1/contact"]


def assigned_task(due: datetime, task_id: str = "t1") -> EnforcementTaskAssigned:
    return EnforcementTaskAssigned(
        case_id="case-1",
        file_id="f",
        task_id=task_id,
        bureau=Bureau.FIRE_RESCUE,
        is_lead=True,
        action="clear",
        due_at=due,
        done_when="clear",
    )


def test_a_meetings_decision_on_a_tasks_deadline_moves_its_clock_there_once_with_the_reason() -> None:
    case, _ = feed(
        CaseClocks("case-1"), (opened(), MONDAY), (assigned_task(MONDAY + timedelta(days=15)), MONDAY)
    )
    revised = MONDAY + timedelta(days=3)  # the meeting wants it sooner
    confirmed = EnforcementTaskConfirmed(
        case_id="case-1",
        file_id="f",
        task_id="t1",
        meeting_id="f-m1",
        bureau=Bureau.FIRE_RESCUE,
        action="clear the lane",
        due_at=revised,
        done_when="lane clear",
    )
    case, [moved] = feed(case, (confirmed, MONDAY + timedelta(days=1)))
    assert isinstance(moved, SlaClockRetargeted)
    assert (moved.deadline, moved.cause, moved.reason) == (
        revised,
        "EnforcementTaskConfirmed",
        "meeting f-m1 decided the deadline",
    )
    task = case.clocks["case-1/task/t1"]
    assert task.deadline == revised and task.at_risk_at == MONDAY + timedelta(days=3 * 0.8)
    assert feed(case, (confirmed, MONDAY + timedelta(days=1)))[1] == []  # the same decision again: no move


def test_a_tasks_clock_keeps_the_decided_date_and_counts_its_time_in_working_days_like_its_policy() -> None:
    friday = datetime(2026, 11, 20, 16, 0, tzinfo=BEIJING)
    due = datetime(2026, 11, 27, 16, 0, tzinfo=BEIJING)  # 5 working days: the weekend does not count
    case, _ = feed(
        CaseClocks("case-1"), (opened(category=Category.FIRE_HAZARD), friday), (assigned_task(due), friday)
    )
    task = case.clocks["case-1/task/t1"]
    assert (task.deadline, task.measure, task.policy_rule) == (
        due,
        ClockMeasure.WORKING,
        "joint-meeting-fire-hazard",
    )
    assert task.budget_seconds == 5 * 86400
    # at risk after 80% of the working time: 4 working days after Friday 16:00 is Thursday 16:00
    assert task.at_risk_at == datetime(2026, 11, 26, 16, 0, tzinfo=BEIJING)
    saturday = datetime(2026, 11, 21, 12, 0, tzinfo=BEIJING)
    assert time_left(TIMING, task, saturday) == 5 * 86400 - 8 * 3600  # Friday's last 8 hours are gone
    revised = datetime(2026, 11, 24, 12, 0, tzinfo=BEIJING)  # a meeting wants it by Tuesday noon
    case, [moved] = feed(
        case,
        (
            EnforcementTaskConfirmed(
                case_id="case-1",
                file_id="f",
                task_id="t1",
                meeting_id="f-m1",
                bureau=Bureau.FIRE_RESCUE,
                action="clear",
                due_at=revised,
                done_when="clear",
            ),
            saturday,
        ),
    )
    assert isinstance(moved, SlaClockRetargeted) and moved.deadline == revised
    task = case.clocks["case-1/task/t1"]
    assert task.budget_seconds == 8 * 3600 + 86400 + 12 * 3600  # Friday 8 h, Monday, Tuesday morning
    assert time_left(TIMING, task, saturday) == 86400 + 12 * 3600


def test_the_lead_the_joint_meeting_decided_owns_the_case_clocks_whichever_topic_arrives_first() -> None:
    escalated = CaseEscalated(
        case_id="case-1",
        trigger=EscalationTrigger.UNIT_REQUEST,
        category=Category.SECURITY_ACCESS,
        compound_code="CP-1",
        street_code="S-01",
        bureaus=[Bureau.CENTRE, Bureau.STREET_OFFICE],
        lead_bureau=Bureau.CENTRE,  # routing's proposal
        rule_id="escalation-default",
        rules_version="1",
        reason="gate",
    )
    file_opened = JointMeetingFileOpened(
        case_id="case-1",
        file_id="f",
        category=Category.SECURITY_ACCESS,
        compound_code="CP-1",
        street_code="S-01",
        lead_bureau=Bureau.PUBLIC_SECURITY,
        member_bureaus=[Bureau.PUBLIC_SECURITY, Bureau.STREET_OFFICE, Bureau.CENTRE],
    )
    facts = [(opened(category=Category.SECURITY_ACCESS), MONDAY), (routed(), MONDAY)]
    in_order, _ = feed(CaseClocks("case-1"), *facts, (escalated, MONDAY), (file_opened, MONDAY))
    file_first, recorded = feed(CaseClocks("case-1"), *facts, (file_opened, MONDAY), (escalated, MONDAY))
    [lead] = [e for e in recorded if isinstance(e, SlaLeadBureauRecorded)]
    assert lead.lead_bureau is Bureau.PUBLIC_SECURITY
    for case in (in_order, file_first):
        resolve, contact = case.clock(ClockKind.RESOLVE), case.clock(ClockKind.CONTACT)
        assert resolve and contact and resolve.scope.unit_code == contact.scope.unit_code == "public_security"
        assert resolve.policy_rule == "joint-meeting"
    assert feed(in_order, (file_opened, MONDAY))[1] == []  # decided once


def test_a_pause_stops_the_case_clocks_but_never_a_bureaus_task_clock() -> None:
    case, _ = feed(
        CaseClocks("case-1"),
        (opened(), MONDAY),
        (routed(), MONDAY),
        (assigned_task(MONDAY + timedelta(days=3)), MONDAY),
    )
    assert sorted(c.clock_id for c in pausable(case.running(), "case-1")) == [
        "case-1/contact",
        "case-1/resolve/0",
    ]
    with pytest.raises(ClockConflict, match="extends it instead"):
        pausable([case.clocks["case-1/task/t1"]], "case-1")
