"""The joint meeting's rules on files, meetings, tasks, reports, overdue marking and completion (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from deadlines.calendar import BEIJING
from schemas.base import DomainEvent
from schemas.bureau import ReportKind, TaskStatus
from schemas.jointmeeting import (
    CaseAddedToFile,
    EnforcementTaskAssigned,
    EnforcementTaskConfirmed,
    EnforcementTaskOverdue,
    FileReferredToMeeting,
    JointEnforcementCompleted,
    JointMeetingFileOpened,
)
from schemas.reference import Bureau, Category
from services.jointmeeting.domain.completion import verify_file
from services.jointmeeting.domain.errors import Conflict, InvalidCommand, WrongBureau
from services.jointmeeting.domain.files import add_case, file_id_for, open_file
from services.jointmeeting.domain.meetings import Decision, hold_meeting, schedule_meeting
from services.jointmeeting.domain.notices import notice_for, notices_for
from services.jointmeeting.domain.rules import RULES_FILE, InvalidRules, load_rules
from services.jointmeeting.domain.state import FileState, evolve, fold
from services.jointmeeting.domain.tasks import (
    assign_task,
    cancel_task,
    extend_task,
    mark_overdue,
    reassign_task,
    record_report,
)
from tests.test_jointmeeting_support import (
    NOW,
    RULES,
    TIMING,
    fire_hazard_escalation,
    opened_fire_file,
    report,
)


def apply(state: FileState, events: list[DomainEvent]) -> FileState:
    for event in events:
        state = evolve(state, event)
    return state


def finish(state: FileState, task_id: str, report_id: str = "done-1") -> FileState:
    bureau = state.tasks[task_id].bureau
    return apply(state, record_report(state, report(task_id, bureau, ReportKind.DONE, report_id), "http"))


def test_fire_hazard_complaint_escalates_to_fire_rescue_leading_the_street_and_the_centre() -> None:
    events = open_file(fire_hazard_escalation(), NOW, RULES, "jm-fire-1", TIMING)
    tasks = [e for e in events if isinstance(e, EnforcementTaskAssigned)]
    assert [(t.bureau, t.is_lead) for t in tasks] == [
        (Bureau.FIRE_RESCUE, True),
        (Bureau.STREET_OFFICE, False),
        (Bureau.CENTRE, False),
    ]
    # fire hazards get 5 working days (the SLA policy): from a Wednesday morning, the next Wednesday's
    assert all(t.due_at == NOW + timedelta(days=7) for t in tasks)


def test_a_fire_hazards_tasks_are_due_in_5_working_days_skipping_national_day_counting_its_make_up_day() -> (
    None
):
    before_the_holiday = datetime(2026, 9, 30, 9, 30, tzinfo=BEIJING)  # Wednesday; 1-7 October are off
    fire = open_file(fire_hazard_escalation(), before_the_holiday, RULES, "jm-fire-1", TIMING)
    noise = fire_hazard_escalation("case-noise").model_copy(update={"category": Category.NOISE_POLLUTION})
    other = open_file(noise, before_the_holiday, RULES, "jm-noise-1", TIMING)
    # 30 Sep, then 8, 9, 10 (the make-up Saturday), 12 and 13 October: 5 working days
    assert {e.due_at for e in fire if isinstance(e, EnforcementTaskAssigned)} == {
        datetime(2026, 10, 13, 9, 30, tzinfo=BEIJING)
    }
    # every other joint-meeting task: 15 working days
    assert {e.due_at for e in other if isinstance(e, EnforcementTaskAssigned)} == {
        datetime(2026, 10, 27, 9, 30, tzinfo=BEIJING)
    }


def test_a_new_task_without_a_date_is_due_by_the_policy_and_a_confirmation_without_one_keeps_its_date() -> (
    None
):
    state = opened_fire_file()
    state = apply(state, schedule_meeting(state, NOW + timedelta(days=1), "", NOW))
    held_at = datetime(2026, 11, 20, 16, 0, tzinfo=BEIJING)  # a Friday afternoon
    kept = state.tasks[f"{state.file_id}-t1"].due_at
    events = hold_meeting(
        state,
        f"{state.file_id}-m1",
        [Bureau.FIRE_RESCUE],
        [
            Decision("Remove the blocked exits", None, "Exits clear", task_id=f"{state.file_id}-t1"),
            Decision("Secure the site", None, "Patrol log", bureau=Bureau.PUBLIC_SECURITY),
        ],
        "",
        held_at,
        TIMING,
    )
    confirmed, new = events[1], events[2]
    assert isinstance(confirmed, EnforcementTaskConfirmed) and confirmed.due_at == kept
    # 5 working days from Friday 16:00: the weekend does not count
    assert isinstance(new, EnforcementTaskAssigned)
    assert new.due_at == datetime(2026, 11, 27, 16, 0, tzinfo=BEIJING)
    state = apply(state, events)
    [assigned] = assign_task(state, Bureau.JUSTICE, "Mediate", None, "Record signed", held_at, TIMING)
    assert isinstance(assigned, EnforcementTaskAssigned) and assigned.due_at == new.due_at


def test_a_rules_file_still_setting_task_periods_is_refused_pointing_to_the_sla_policy(
    tmp_path: Path,
) -> None:
    text = RULES_FILE.read_text(encoding="utf-8")
    for old, field in (
        (text.replace('version: "', 'default_period_days: 15\nversion: "', 1), "default_period_days"),
        (
            text.replace(
                "    bureaus: [fire_rescue, street_office, centre]\n",
                "    bureaus: [fire_rescue, street_office, centre]\n    period_days: 7\n",
            ),
            "period_days",
        ),
    ):
        assert field in old
        path = tmp_path / "old_rules.yaml"
        path.write_text(old, encoding="utf-8")
        with pytest.raises(InvalidRules, match=rf"no longer set task deadlines.*sla_policy\.yaml.*'{field}'"):
            load_rules(path)


def test_unreasonable_fees_are_led_by_market_supervision_with_the_centre() -> None:
    escalation = fire_hazard_escalation().model_copy(
        update={"category": Category.UNREASONABLE_FEES, "bureaus": [], "lead_bureau": Bureau.CENTRE}
    )
    proposal = RULES.propose(Category(escalation.category), [])
    assert (proposal.lead, proposal.bureaus) == (
        Bureau.MARKET_SUPERVISION,
        (Bureau.MARKET_SUPERVISION, Bureau.CENTRE),
    )


def test_an_access_control_case_is_led_by_public_security_overriding_routings_proposal_and_saying_why() -> (
    None
):
    escalation = fire_hazard_escalation().model_copy(
        update={
            "category": Category.SECURITY_ACCESS,
            "bureaus": [Bureau.CENTRE, Bureau.STREET_OFFICE],
            "lead_bureau": Bureau.CENTRE,
            "rule_id": "escalation-default",
        }
    )
    opened, *tasks = open_file(escalation, NOW, RULES, "jm-gate-1", TIMING)
    assert isinstance(opened, JointMeetingFileOpened) and opened.lead_decision is not None
    decided = opened.lead_decision
    assert (opened.lead_bureau, decided.lead_bureau, decided.proposed_lead_bureau) == (
        Bureau.PUBLIC_SECURITY,
        Bureau.PUBLIC_SECURITY,
        Bureau.CENTRE,
    )
    assert decided.overrode_proposal and decided.decided_by == f"{RULES.version}/security_access"
    assert "routing proposed centre (rule escalation-default), overridden" in decided.reason
    assert (
        opened.member_bureaus
        == decided.member_bureaus
        == [
            Bureau.PUBLIC_SECURITY,
            Bureau.STREET_OFFICE,
            Bureau.CENTRE,  # routing named it: it joins as a member
        ]
    )
    state = fold([opened, *tasks])
    assert state is not None
    notice = notice_for(state, tasks[1])
    assert notice is not None and (notice.bureau, notice.is_lead, notice.lead_bureau) == (
        Bureau.STREET_OFFICE,
        False,
        Bureau.PUBLIC_SECURITY,
    )
    [added] = add_case(state, escalation.model_copy(update={"case_id": "case-gate-2"}))
    assert isinstance(added, CaseAddedToFile) and added.lead_decision is not None
    assert (added.lead_decision.lead_bureau, added.lead_decision.overrode_proposal) == (
        Bureau.PUBLIC_SECURITY,
        True,
    )


def test_a_second_case_about_the_same_compound_and_problem_joins_the_open_file_once() -> None:
    state = opened_fire_file()
    second = fire_hazard_escalation("case-fire-2")
    added = add_case(state, second)
    assert [type(e) for e in added] == [CaseAddedToFile]
    state = apply(state, added)
    assert state.case_ids == ("case-fire-1", "case-fire-2")
    assert add_case(state, second) == []


def test_a_meeting_confirms_an_assigned_task_and_gives_a_new_bureau_a_new_task() -> None:
    state = opened_fire_file()
    state = apply(state, schedule_meeting(state, NOW + timedelta(days=1), "Street office", NOW))
    [meeting_id] = state.meetings
    due = NOW + timedelta(days=5)
    events = hold_meeting(
        state,
        meeting_id,
        [Bureau.FIRE_RESCUE, Bureau.STREET_OFFICE, Bureau.PUBLIC_SECURITY],
        [
            Decision("Remove the blocked exits", due, "Exits clear", task_id=f"{state.file_id}-t1"),
            Decision("Keep the site secure", due, "Patrol log", bureau=Bureau.PUBLIC_SECURITY),
        ],
        "minutes",
        NOW + timedelta(days=1),
        TIMING,
    )
    state = apply(state, events)
    assert isinstance(events[1], EnforcementTaskConfirmed) and state.tasks[events[1].task_id].due_at == due
    assert isinstance(events[2], EnforcementTaskAssigned) and events[2].meeting_id == meeting_id
    assert state.tasks[f"{state.file_id}-t4"].bureau is Bureau.PUBLIC_SECURITY
    with pytest.raises(Conflict):
        hold_meeting(state, meeting_id, [Bureau.CENTRE], [], "", NOW + timedelta(days=1), TIMING)


def test_the_same_report_twice_records_one_fact_and_another_bureau_cannot_report() -> None:
    state = opened_fire_file()
    task_id = f"{state.file_id}-t1"
    accepted = report(task_id, Bureau.FIRE_RESCUE, ReportKind.ACCEPTED)
    state = apply(state, record_report(state, accepted, "topic"))
    assert state.tasks[task_id].status is TaskStatus.ACCEPTED
    assert record_report(state, accepted, "http") == []
    with pytest.raises(WrongBureau):
        record_report(state, report(task_id, Bureau.STREET_OFFICE, ReportKind.DONE, "r-2"), "http")


def test_unable_puts_the_file_on_the_next_meetings_agenda_until_a_meeting_is_held() -> None:
    state = opened_fire_file()
    task_id = f"{state.file_id}-t2"
    unable = report(task_id, Bureau.STREET_OFFICE, ReportKind.UNABLE, reason="No access to the basement")
    events = record_report(state, unable, "http")
    assert isinstance(events[-1], FileReferredToMeeting)
    state = apply(state, events)
    assert state.needs_meeting and state.tasks[task_id].status is TaskStatus.UNABLE
    state = apply(state, schedule_meeting(state, NOW + timedelta(hours=2), "", NOW))
    state = apply(state, hold_meeting(state, f"{state.file_id}-m1", [Bureau.CENTRE], [], "", NOW, TIMING))
    assert not state.needs_meeting


def test_a_task_goes_overdue_once_per_deadline_and_again_after_an_extension_runs_out() -> None:
    state = opened_fire_file()
    late = NOW + timedelta(days=8)
    events = mark_overdue(state, late)
    assert sum(isinstance(e, EnforcementTaskOverdue) for e in events) == 3
    state = apply(state, events)
    assert mark_overdue(state, late + timedelta(hours=1)) == []
    task_id = f"{state.file_id}-t1"
    state = apply(state, extend_task(state, task_id, late + timedelta(days=2), "contractor booked", late))
    assert not state.tasks[task_id].overdue
    again = [
        e for e in mark_overdue(state, late + timedelta(days=3)) if isinstance(e, EnforcementTaskOverdue)
    ]
    assert [e.task_id for e in again] == [task_id]


def test_an_extension_must_move_the_deadline_later_and_into_the_future() -> None:
    state = opened_fire_file()
    with pytest.raises(InvalidCommand):
        extend_task(state, f"{state.file_id}-t1", NOW - timedelta(hours=1), "why", NOW)


def test_the_file_completes_only_when_every_counting_task_is_done_then_each_case_gets_its_completion() -> (
    None
):
    state = opened_fire_file()
    state = apply(state, add_case(state, fire_hazard_escalation("case-fire-2")))
    state = finish(state, f"{state.file_id}-t1")
    with pytest.raises(Conflict, match="not done"):
        verify_file(state, "staff-1", NOW, "checked on site")
    state = apply(
        state, reassign_task(state, f"{state.file_id}-t2", Bureau.PUBLIC_SECURITY, "their remit", NOW)
    )
    state = apply(state, cancel_task(state, f"{state.file_id}-t3", "company already fixed it"))
    state = finish(state, f"{state.file_id}-t4")
    completed = verify_file(state, "staff-1", NOW, "checked on site")
    assert [(e.case_id, e.tasks_done) for e in completed if isinstance(e, JointEnforcementCompleted)] == [
        ("case-fire-1", 2),
        ("case-fire-2", 2),
    ]
    state = apply(state, completed)
    with pytest.raises(Conflict, match="complete"):
        record_report(
            state, report(f"{state.file_id}-t1", Bureau.FIRE_RESCUE, ReportKind.PROGRESS, "r-9"), "http"
        )


def test_a_bureau_notice_carries_the_task_but_no_caller_data() -> None:
    escalation = fire_hazard_escalation()
    events = open_file(escalation, NOW, RULES, file_id_for(escalation.case_id), TIMING)
    state = apply(evolve(None, events[0]), events[1:2])
    notice = notice_for(state, events[1])
    assert notice is not None and notice.bureau is Bureau.FIRE_RESCUE and notice.status is TaskStatus.ASSIGNED
    assert not {"caller_phone_masked", "complainant_id", "description", "address"} & set(notice.model_dump())


def test_a_reassigned_task_closes_for_the_old_bureau_and_opens_for_the_new_one_with_its_deadline() -> None:
    state = opened_fire_file()
    due = NOW + timedelta(days=3)
    events = reassign_task(state, f"{state.file_id}-t3", Bureau.MARKET_SUPERVISION, "fees involved", NOW, due)
    state = apply(state, events)
    assert state.tasks[f"{state.file_id}-t3"].status is TaskStatus.REASSIGNED
    new = state.tasks[f"{state.file_id}-t4"]
    assert (new.bureau, new.due_at, new.status) == (Bureau.MARKET_SUPERVISION, due, TaskStatus.ASSIGNED)
    with pytest.raises(Conflict):
        record_report(state, report(f"{state.file_id}-t3", Bureau.CENTRE, ReportKind.DONE, "late"), "http")


def test_a_file_decided_on_stays_as_it_was_while_the_decision_is_folded_into_a_new_one() -> None:
    before = opened_fire_file()
    task_id = f"{before.file_id}-t1"
    bureau = before.tasks[task_id].bureau
    after = finish(before, task_id)
    after = apply(after, add_case(after, fire_hazard_escalation("case-fire-2")))
    assert after.tasks[task_id].status is TaskStatus.DONE and after.tasks[task_id].report_ids == {"done-1"}
    assert before.tasks[task_id].status is TaskStatus.ASSIGNED and not before.tasks[task_id].report_ids
    assert before.case_ids == ("case-fire-1",) and after.case_ids == ("case-fire-1", "case-fire-2")
    # the same report on the old state is still new to it: nothing folded into another state leaked back
    assert record_report(before, report(task_id, bureau, ReportKind.DONE, "done-1"), "http") != []
    with pytest.raises(TypeError):
        before.tasks[task_id] = after.tasks[task_id]  # type: ignore[index]


def test_each_bureau_is_told_of_its_task_as_it_stood_right_after_each_change() -> None:
    state = opened_fire_file()
    task_id = f"{state.file_id}-t1"
    later = NOW + timedelta(days=20)
    [meeting] = schedule_meeting(state, NOW + timedelta(hours=2), "", NOW)
    state = evolve(state, meeting)
    revised = [Decision("revised", None, "done", task_id)]
    held = hold_meeting(state, f"{state.file_id}-m1", [Bureau.FIRE_RESCUE], revised, "", NOW, TIMING)
    events = [*held, *extend_task(apply(state, held), task_id, later, "owner away", NOW)]
    notices = notices_for(state, events)
    assert [(n.notice.value, n.action, n.due_at) for n in notices] == [
        ("confirmed", "revised", state.tasks[task_id].due_at),
        ("extended", "revised", later),
    ]
