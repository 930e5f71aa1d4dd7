"""Working-day deadlines on the Chinese calendar, the district's override file, uncovered years, and the
policy file that names every deadline (cases and joint-meeting tasks)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from deadlines.calendar import (
    BEIJING,
    DAY,
    CalendarError,
    CalendarOverrides,
    WorkingCalendar,
    load_overrides,
)
from deadlines.policy import PolicyError, load_policy
from schemas.reference import Category
from schemas.sla import ClockMeasure

CALENDAR = WorkingCalendar()


def test_five_working_days_across_national_day_count_the_make_up_saturday() -> None:
    # Wed 30 Sep 2026: National Day runs 1-7 Oct (plus Mid-Autumn), Sat 10 Oct is a make-up working day.
    received = datetime(2026, 9, 30, 10, 0, tzinfo=BEIJING)
    deadline = CALENDAR.add_working(received, 5 * DAY)
    # 30 Sep (rest of day), 8 Oct, 9 Oct, Sat 10 Oct (调休), Mon 12 Oct, until 10:00 on Tue 13 Oct
    assert deadline.at == datetime(2026, 10, 13, 10, 0, tzinfo=BEIJING)
    assert deadline.warning is None


def test_a_make_up_sunday_before_the_holiday_is_a_working_day() -> None:
    # Sun 20 Sep 2026 is worked in exchange for the National Day holiday.
    friday_evening = datetime(2026, 9, 18, 18, 0, tzinfo=BEIJING)
    deadline = CALENDAR.add_working(friday_evening, 1 * DAY)
    assert deadline.at == datetime(2026, 9, 20, 18, 0, tzinfo=BEIJING)


def test_working_time_between_skips_the_holiday_week() -> None:
    start = datetime(2026, 9, 30, 12, 0, tzinfo=BEIJING)
    end = datetime(2026, 10, 8, 12, 0, tzinfo=BEIJING)
    assert CALENDAR.working_seconds(start, end) == DAY  # 12h on 30 Sep + 12h on 8 Oct


def test_a_deadline_in_a_year_no_calendar_covers_is_counted_on_weekdays_with_a_warning() -> None:
    # The package knows 2026 only; 5 working days from Wed 30 Dec 2026 run into 2027.
    received = datetime(2026, 12, 30, 9, 0, tzinfo=BEIJING)
    deadline = CALENDAR.add_working(received, 5 * DAY)
    assert deadline.at == datetime(2027, 1, 6, 9, 0, tzinfo=BEIJING)  # Thu 31, Fri 1, Mon 4, Tue 5
    assert deadline.uncovered_years == {2027}
    assert deadline.warning is not None and "2027" in deadline.warning and "override" in deadline.warning


def test_the_district_override_file_covers_the_next_year(tmp_path: Path) -> None:
    overrides = tmp_path / "calendar.yaml"
    overrides.write_text("covers: [2027]\nholidays: [2027-01-01]\nworkdays: [2027-01-09]\n", encoding="utf-8")
    calendar = WorkingCalendar(load_overrides(overrides))
    received = datetime(2026, 12, 30, 9, 0, tzinfo=BEIJING)
    deadline = calendar.add_working(received, 5 * DAY)
    # Thu 31 Dec, (1 Jan off), Mon 4, Tue 5, Wed 6, Thu 7 at 09:00
    assert deadline.at == datetime(2027, 1, 7, 9, 0, tzinfo=BEIJING)
    assert deadline.warning is None
    assert calendar.is_workday(date(2027, 1, 9)) == (True, True)  # a make-up Saturday


def test_an_override_file_that_lists_a_day_both_ways_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "calendar.yaml"
    bad.write_text("holidays: [2027-02-06]\nworkdays: [2027-02-06]\n", encoding="utf-8")
    with pytest.raises(CalendarError, match="2027-02-06"):
        load_overrides(bad)


def test_the_shipped_override_file_and_policy_load() -> None:
    assert isinstance(load_overrides(), CalendarOverrides)
    policy = load_policy()
    assert policy.gaps() == []


def test_a_policy_with_a_gap_is_refused_naming_the_missing_deadline(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text(
        "version: x\nat_risk_share: 0.5\nrules:\n  - id: only-urgent\n    when: {urgency: urgent}\n"
        "    dispatch: 1 hours\n    contact: 2 hours\n    resolve: 3 hours\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyError, match="urgency=normal"):
        load_policy(bad)


def test_a_policy_rule_with_a_bad_duration_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text(
        "version: x\nat_risk_share: 0.5\nrules:\n  - id: sloppy\n    dispatch: soon\n"
        "    contact: 2 hours\n    resolve: 3 hours\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyError, match="rule 'sloppy'.*soon"):
        load_policy(bad)


def test_a_policy_without_a_task_deadline_for_a_category_is_refused_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text(
        "version: x\nat_risk_share: 0.5\nrules:\n  - id: fire-task\n"
        "    when: {level: joint_meeting, category: fire_hazard}\n    task: 5 working_days\n"
        "  - id: all\n    dispatch: 1 hours\n    contact: 2 hours\n    resolve: 3 hours\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyError, match="no rule gives a task deadline .*category=sanitation"):
        load_policy(bad)


def test_a_task_deadline_that_depends_on_the_urgency_is_refused_the_joint_meeting_cannot_know_it(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text(
        "version: x\nat_risk_share: 0.5\nrules:\n  - id: urgent-task\n    when: {urgency: urgent}\n"
        "    task: 1 working_days\n"
        "  - id: all\n    dispatch: 1 hours\n    contact: 2 hours\n    resolve: 3 hours\n"
        "    task: 15 working_days\n",
        encoding="utf-8",
    )
    with pytest.raises(PolicyError, match="rule 'urgent-task'.*chosen by category"):
        load_policy(bad)


def test_the_shipped_policy_gives_fire_hazard_tasks_5_working_days_and_every_other_task_15() -> None:
    policy = load_policy()
    fire = policy.task_deadline(Category.FIRE_HAZARD)
    assert (fire.rule_id, fire.budget.seconds, fire.budget.measure) == (
        "joint-meeting-fire-hazard",
        5 * 86400,
        ClockMeasure.WORKING,
    )
    for category in [c for c in Category if c is not Category.FIRE_HAZARD] + [None]:
        other = policy.task_deadline(category)
        assert (other.rule_id, other.budget.seconds) == ("joint-meeting", 15 * 86400)
