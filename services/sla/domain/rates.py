"""The three rates (响应率, 解决率, 满意率) and the on-time rate, per unit, over a period.

A case counts in the period it was received. Directory codes are district-local (ST01, PC001 exist in every
district), so every row is one unit *of one district*: two districts' ST01 are never added up. Per unit:
- response rate: cases whose contact clock stopped on time / cases whose contact clock is decided (stopped,
  or still running past its deadline) — a case still within its time is not counted either way;
- resolution rate: cases resolved / cases resolved or due (their resolve clock past its deadline, or stopped
  without a resolution, e.g. closed);
- satisfaction rate: callbacks satisfied or basically satisfied / cases called back (latest callback);
- on-time rate: resolve clocks (every generation) stopped in time / resolve clocks decided (stopped, or
  still running past the deadline). For a bureau: its enforcement tasks done in time / tasks decided
  (cancelled and reassigned tasks do not count).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from deadlines.calendar import BEIJING
from schemas.reference import FOUNDING_DISTRICT
from schemas.sla import ClockKind
from services.sla.domain.clocks import CaseClocks, Clock, ClockState

SATISFIED = frozenset({"satisfied", "basically_satisfied"})
_NOT_JUDGED = frozenset({"EnforcementTaskCancelled", "EnforcementTaskReassigned"})


class Dimension(StrEnum):
    STREET = "street"
    COMMUNITY = "community"
    BUREAU = "bureau"
    COMPANY = "company"


@dataclass(frozen=True)
class Period:
    start: date  # inclusive, Beijing date
    end: date  # exclusive

    @classmethod
    def month(cls, text: str) -> Period:
        """'2026-11' → the month of November 2026."""
        try:
            year, month = (int(part) for part in text.split("-"))
            start = date(year, month, 1)
        except ValueError as error:
            raise ValueError(f"period {text!r} must be a month written YYYY-MM, e.g. 2026-11") from error
        end = date(year + (month == 12), month % 12 + 1, 1)
        return cls(start, end)

    def contains(self, moment: datetime) -> bool:
        return self.start <= moment.astimezone(BEIJING).date() < self.end

    @property
    def label(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


@dataclass
class Tally:
    cases: int = 0
    contact_clocks: int = 0
    responded_on_time: int = 0
    resolved: int = 0
    resolution_due: int = 0
    called_back: int = 0
    satisfied: int = 0
    decided: int = 0
    on_time: int = 0
    breached: int = 0

    def add_case(self, case: CaseClocks, now: datetime) -> None:
        self.cases += 1
        contact = case.clock(ClockKind.CONTACT)
        if contact is not None and (contact.state is ClockState.STOPPED or contact.is_overdue(now)):
            self.contact_clocks += 1
            self.responded_on_time += int(contact.state is ClockState.STOPPED and bool(contact.on_time))
        self.count_resolution(case, now)
        if case.callback_outcome is not None:
            self.called_back += 1
            self.satisfied += int(case.callback_outcome in SATISFIED)
        self.add_clocks([c for c in case.clocks.values() if c.kind is ClockKind.RESOLVE], now)

    def count_resolution(self, case: CaseClocks, now: datetime) -> None:
        resolve = case.clock(ClockKind.RESOLVE)
        if is_resolved(case):
            self.resolved += 1
            self.resolution_due += 1
        elif resolve is not None and (resolve.state is ClockState.STOPPED or resolve.is_overdue(now)):
            self.resolution_due += 1

    def add_clocks(self, clocks: Iterable[Clock], now: datetime) -> None:
        for clock in clocks:
            if clock.cause in _NOT_JUDGED:
                continue
            self.breached += int(clock.is_overdue(now))
            if clock.state is ClockState.STOPPED:
                self.decided += 1
                self.on_time += int(bool(clock.on_time))
            elif clock.is_overdue(now):
                self.decided += 1


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class RateRow:
    dimension: Dimension
    unit_code: str
    tally: Tally
    district: str = FOUNDING_DISTRICT

    @property
    def response_rate(self) -> float | None:
        return rate(self.tally.responded_on_time, self.tally.contact_clocks)

    @property
    def resolution_rate(self) -> float | None:
        return rate(self.tally.resolved, self.tally.resolution_due)

    @property
    def satisfaction_rate(self) -> float | None:
        return rate(self.tally.satisfied, self.tally.called_back)

    @property
    def on_time_rate(self) -> float | None:
        return rate(self.tally.on_time, self.tally.decided)


def is_resolved(case: CaseClocks) -> bool:
    resolves = [c for c in case.clocks.values() if c.kind is ClockKind.RESOLVE]
    if not resolves or resolves[-1].state is not ClockState.STOPPED:
        return False
    return resolves[-1].cause == "CaseResolved" or any(c.cause == "CaseResolved" for c in resolves)


def units_of(case: CaseClocks, dimension: Dimension) -> set[str]:
    scope = case.scope
    if dimension is Dimension.BUREAU:
        return {
            c.scope.bureau.value for c in case.clocks.values() if c.kind is ClockKind.TASK and c.scope.bureau
        }
    if scope is None:
        return set()
    code = {
        Dimension.STREET: scope.street_code,
        Dimension.COMMUNITY: scope.community_code,
        Dimension.COMPANY: scope.company_code,
    }[dimension]
    return {code} if code else set()


def in_scope(case: CaseClocks, period: Period, districts: Collection[str] | None) -> bool:
    """Received in the period, in one of the districts asked for (None: every district)."""
    received = case.received_at
    if received is None or not period.contains(received):
        return False
    return districts is None or case.district in districts


def rates(
    cases: Iterable[CaseClocks],
    period: Period,
    now: datetime,
    dimensions: Iterable[Dimension] = tuple(Dimension),
    districts: Collection[str] | None = None,
) -> list[RateRow]:
    """One row per (district, dimension, unit), sorted by district, dimension and unit."""
    chosen = list(dimensions)
    tallies: dict[tuple[str, Dimension, str], Tally] = {}
    for case in cases:
        if not in_scope(case, period, districts):
            continue
        for dimension in chosen:
            for unit in units_of(case, dimension):
                tally = tallies.setdefault((case.district, dimension, unit), Tally())
                if dimension is Dimension.BUREAU:
                    tally.cases += 1
                    tally.count_resolution(case, now)
                    if case.callback_outcome is not None:
                        tally.called_back += 1
                        tally.satisfied += int(case.callback_outcome in SATISFIED)
                    tally.add_clocks(
                        [
                            c
                            for c in case.clocks.values()
                            if c.kind is ClockKind.TASK and c.scope.bureau == unit
                        ],
                        now,
                    )
                else:
                    tally.add_case(case, now)
    return [RateRow(d, u, t, district) for (district, d, u), t in sorted(tallies.items())]


@dataclass
class CompoundScore:
    compound_code: str
    complaints: int = 0
    resolved: int = 0
    called_back: int = 0
    satisfied: int = 0


@dataclass
class CompanyScore:
    """The input for the seed's evaluation: priority for good companies, exit for failing ones.

    A company is scored per district: its code is district-local, and each district's centre grades the
    companies working in it (a company with projects in two districts gets one card in each)."""

    company_code: str
    compounds: dict[str, CompoundScore] = field(default_factory=dict)
    district: str = FOUNDING_DISTRICT

    @property
    def complaints(self) -> int:
        return sum(c.complaints for c in self.compounds.values())

    @property
    def resolution_rate(self) -> float | None:
        return rate(sum(c.resolved for c in self.compounds.values()), self.complaints)

    @property
    def satisfaction_rate(self) -> float | None:
        return rate(
            sum(c.satisfied for c in self.compounds.values()),
            sum(c.called_back for c in self.compounds.values()),
        )


def scorecard(
    cases: Iterable[CaseClocks], period: Period, districts: Collection[str] | None = None
) -> list[CompanyScore]:
    """Company cards, per district: by district, then most complaints first."""
    companies: dict[tuple[str, str], CompanyScore] = {}
    for case in cases:
        scope = case.scope
        if scope is None or not in_scope(case, period, districts):
            continue
        if not scope.company_code or not scope.compound_code:
            continue
        company = companies.setdefault(
            (case.district, scope.company_code), CompanyScore(scope.company_code, district=case.district)
        )
        compound = company.compounds.setdefault(scope.compound_code, CompoundScore(scope.compound_code))
        compound.complaints += 1
        compound.resolved += int(is_resolved(case))
        if case.callback_outcome is not None:
            compound.called_back += 1
            compound.satisfied += int(case.callback_outcome in SATISFIED)
    return sorted(companies.values(), key=lambda c: (c.district, -c.complaints, c.company_code))
