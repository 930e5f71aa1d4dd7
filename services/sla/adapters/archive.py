"""What closed cases the watch no longer holds in memory still count for: the rates and time-to histograms.

The watch keeps open cases in memory (their timers must fire). A case closed and left alone for a while
is archived: its part of the month's rates (per district, dimension and unit) and of the time-to
histograms is added to the tallies here, and the case itself is dropped, so memory follows the open
cases, not every case ever received. A stopped clock never changes again, so what an archived case
contributes does not depend on the time it is read. Should the case move again (reopened), the watch
loads it from the store and takes its archived part out of the tallies (`subtract`), so nothing counts
twice.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, fields
from datetime import datetime

from deadlines.calendar import BEIJING
from schemas.sla import ClockKind
from services.sla.domain.clocks import CaseClocks, ClockState
from services.sla.domain.rates import Dimension, Period, RateRow, Tally, rates

HOUR = 3600.0
# Upper bounds of the time-to histograms' buckets (the last bucket, +Inf, is implicit).
BUCKETS = (
    0.25 * HOUR,
    0.5 * HOUR,
    HOUR,
    2 * HOUR,
    4 * HOUR,
    8 * HOUR,
    24 * HOUR,
    48 * HOUR,
    72 * HOUR,
    120 * HOUR,
    168 * HOUR,
    360 * HOUR,
    720 * HOUR,
)
TIMED_KINDS = (ClockKind.DISPATCH, ClockKind.CONTACT, ClockKind.RESOLVE)
RateKey = tuple[Period, str, Dimension, str]  # month received, district, dimension, unit


@dataclass
class Durations:
    """One histogram's content: how many observations fell at or under each bound, their count and sum."""

    per_bucket: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    count: int = 0
    total: float = 0.0

    def add(self, seconds: float, sign: int = 1) -> None:
        self.per_bucket[bisect.bisect_left(BUCKETS, seconds)] += sign
        self.count += sign
        self.total += sign * seconds

    def cumulative(self) -> list[int]:
        running, out = 0, []
        for n in self.per_bucket:
            running += n
            out.append(running)
        return out


def timed_durations(case: CaseClocks) -> list[tuple[ClockKind, str, float]]:
    """What a case adds to the time-to histograms: each dispatch, contact and resolve clock that stopped
    on its own fact (a clock CaseClosed stopped measures nothing)."""
    return [
        (clock.kind, clock.scope.district, (clock.stopped_at - clock.started_at).total_seconds())
        for clock in case.clocks.values()
        if clock.kind in TIMED_KINDS and clock.stopped_at is not None and clock.cause not in ("CaseClosed",)
    ]


def is_settled(case: CaseClocks) -> bool:
    """Called back, and nothing left running or paused: the case can leave memory once left alone."""
    return case.callback_outcome is not None and all(
        c.state is ClockState.STOPPED for c in case.clocks.values()
    )


def month_of(moment: datetime) -> Period:
    return Period.month(moment.astimezone(BEIJING).strftime("%Y-%m"))


@dataclass
class Archive:
    tallies: dict[RateKey, Tally] = field(default_factory=dict)
    durations: dict[tuple[ClockKind, str], Durations] = field(default_factory=dict)
    cases: int = 0

    def add(self, case: CaseClocks, now: datetime, sign: int = 1) -> None:
        """Add a case's part (or with sign -1 take it out again)."""
        self.cases += sign
        for kind, district, seconds in timed_durations(case):
            self.durations.setdefault((kind, district), Durations()).add(seconds, sign)
        if case.received_at is None:
            return
        period = month_of(case.received_at)
        for row in rates([case], period, now):
            tally = self.tallies.setdefault((period, row.district, row.dimension, row.unit_code), Tally())
            for name in (f.name for f in fields(Tally)):
                setattr(tally, name, getattr(tally, name) + sign * getattr(row.tally, name))

    def subtract(self, case: CaseClocks, now: datetime) -> None:
        self.add(case, now, sign=-1)

    def clear(self) -> None:
        self.tallies.clear()
        self.durations.clear()
        self.cases = 0

    def with_rates(
        self, rows: list[RateRow], period: Period, dimension: Dimension, districts: list[str] | None
    ) -> list[RateRow]:
        """The rows computed from the cases in memory, with the archived cases' tallies added."""
        merged = {(row.district, row.unit_code): row.tally for row in rows}
        for (month, district, dim, unit), archived in self.tallies.items():
            if (
                month != period
                or dim is not dimension
                or (districts is not None and district not in districts)
            ):
                continue
            tally = merged.setdefault((district, unit), Tally())
            for name in (f.name for f in fields(Tally)):
                setattr(tally, name, getattr(tally, name) + getattr(archived, name))
        return [
            RateRow(dimension, unit, tally, district) for (district, unit), tally in sorted(merged.items())
        ]
