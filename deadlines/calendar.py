"""Working time on the Chinese calendar: weekends, statutory holidays and make-up working days (调休).

The national calendar comes from `chinese_calendar`, which knows only the years the State Council has
announced (it stops at the last one). The district keeps an override file for later years and for local
changes; a day in a year neither covers falls back to "Monday to Friday" and the deadline says so, so
nobody mistakes a guessed deadline for an official one.

Working time is counted in whole working days (00:00 to 24:00 Beijing time): a deadline of N working days
lands at the same time of day N working days later, skipping days off. A clock's time is counted in its
measure (`after`, `used`, `left`): wall time for clocks that run around the clock, working time otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from schemas.sla import ClockMeasure

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
DAY = 86400.0
DEFAULT_OVERRIDES_FILE = Path(__file__).resolve().parent / "calendar_overrides.yaml"
_MAX_DAYS_SEARCHED = 3660  # ten years: a budget that needs more is a policy error, not a long wait


class CalendarError(ValueError):
    """The override file is unusable; the message names the file and the problem."""


class CalendarOverrides(BaseModel):
    """What the district maintains: years it fully specifies, days off and make-up working days."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    covers: tuple[int, ...] = ()
    holidays: tuple[date, ...] = ()
    workdays: tuple[date, ...] = ()

    @model_validator(mode="after")
    def _no_day_both_ways(self) -> CalendarOverrides:
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise ValueError(f"days listed both as holiday and as workday: {', '.join(map(str, both))}")
        return self


def load_overrides(path: Path | None = None) -> CalendarOverrides:
    source = path or DEFAULT_OVERRIDES_FILE
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
        return CalendarOverrides.model_validate(raw)
    except (OSError, yaml.YAMLError) as error:
        raise CalendarError(f"{source}: cannot read the calendar overrides: {error}") from error
    except ValidationError as error:
        raise CalendarError(f"{source}: {_describe(error)}") from error


def _describe(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in error.errors())


NationalDay = Callable[[date], bool]  # is this a working day? raises NotImplementedError for unknown years


def chinese_calendar_workday(day: date) -> bool:
    import chinese_calendar

    return bool(chinese_calendar.is_workday(day))


@dataclass(frozen=True)
class Deadline:
    at: datetime
    uncovered_years: frozenset[int] = frozenset()

    @property
    def warning(self) -> str | None:
        if not self.uncovered_years:
            return None
        years = ", ".join(map(str, sorted(self.uncovered_years)))
        return (
            f"no calendar covers {years}: counted Monday to Friday only; add the announced holidays "
            "and make-up working days to the district calendar override file"
        )


@dataclass
class WorkingCalendar:
    overrides: CalendarOverrides = field(default_factory=CalendarOverrides)
    national: NationalDay = chinese_calendar_workday
    _known: dict[date, tuple[bool, bool]] = field(default_factory=dict, repr=False)

    def is_workday(self, day: date) -> tuple[bool, bool]:
        """(working?, covered?) — covered is False where the answer is only a weekday guess."""
        known = self._known.get(day)
        if known is None:
            known = self._decide(day)
            self._known[day] = known
        return known

    def _decide(self, day: date) -> tuple[bool, bool]:
        if day in self.overrides.holidays:
            return False, True
        if day in self.overrides.workdays:
            return True, True
        if day.year in self.overrides.covers:
            return day.weekday() < 5, True
        try:
            return self.national(day), True
        except NotImplementedError:
            return day.weekday() < 5, False

    def covers_year(self, year: int) -> bool:
        return self.is_workday(date(year, 6, 1))[1]

    def add_working(self, start: datetime, seconds: float) -> Deadline:
        """The instant when `seconds` of working time have passed since `start`."""
        local = start.astimezone(BEIJING)
        day, offset = local.date(), _seconds_into_day(local)
        uncovered: set[int] = set()
        remaining = max(seconds, 0.0)
        for _ in range(_MAX_DAYS_SEARCHED):
            working, covered = self.is_workday(day)
            if not covered:
                uncovered.add(day.year)
            if working:
                available = DAY - offset
                if remaining <= available:
                    return Deadline(_at(day, offset + remaining), frozenset(uncovered))
                remaining -= available
            day, offset = day + timedelta(days=1), 0.0
        raise ValueError(f"{seconds:.0f} working seconds from {start.isoformat()} is beyond ten years")

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Working time between two instants (0 when end is not after start)."""
        if end <= start:
            return 0.0
        a, b = start.astimezone(BEIJING), end.astimezone(BEIJING)
        total, day = 0.0, a.date()
        while day <= b.date():
            if self.is_workday(day)[0]:
                lo = _seconds_into_day(a) if day == a.date() else 0.0
                hi = _seconds_into_day(b) if day == b.date() else DAY
                total += max(hi - lo, 0.0)
            day += timedelta(days=1)
        return total

    def after(self, measure: ClockMeasure, since: datetime, seconds: float) -> Deadline:
        """The instant when `seconds` of the measure have passed since `since`."""
        if measure is ClockMeasure.WALL:
            return Deadline(since + timedelta(seconds=max(seconds, 0.0)))
        return self.add_working(since, seconds)

    def used(self, measure: ClockMeasure, since: datetime, until: datetime) -> float:
        """Time of the measure between two instants (0 when until is not after since)."""
        if measure is ClockMeasure.WALL:
            return max((until - since).total_seconds(), 0.0)
        return self.working_seconds(since, until)

    def left(self, measure: ClockMeasure, deadline: datetime, now: datetime) -> float:
        """Time of the measure left until `deadline`; negative by how late it is past it."""
        if now <= deadline:
            return self.used(measure, now, deadline)
        return -self.used(measure, deadline, now)

    def uncovered_years(self, years: Iterable[int]) -> list[int]:
        return [year for year in years if not self.covers_year(year)]


def _seconds_into_day(moment: datetime) -> float:
    return moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6


def _at(day: date, seconds: float) -> datetime:
    return datetime.combine(day, time(), BEIJING) + timedelta(seconds=seconds)
