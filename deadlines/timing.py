"""The policy and the calendar together: everything a decision needs to compute a deadline.

The SLA service judges its clocks with it, the joint meeting proposes its tasks' deadlines with it, and
routing counts a clock's time left on the same calendar, so no service has a formula of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from deadlines.calendar import WorkingCalendar
from deadlines.policy import Budget, PolicyError, SlaPolicy
from schemas.reference import Category
from schemas.sla import ClockMeasure


@dataclass(frozen=True)
class TaskDue:
    """A bureau's task deadline as the policy proposes it: when, by which rule, in which measure."""

    at: datetime
    rule_id: str
    budget: Budget
    calendar_warning: str | None = None


@dataclass(frozen=True)
class Timing:
    """The policy in force and the calendar.

    `districts` (when given) holds every served district's policy, and `in_district` picks one. The
    calendar (national + city overrides) is the same for every district.
    """

    policy: SlaPolicy
    calendar: WorkingCalendar
    districts: Mapping[str, SlaPolicy] | None = None

    def policy_for(self, district: str) -> SlaPolicy:
        if self.districts is None:
            return self.policy
        try:
            return self.districts[district]
        except KeyError:
            served = ", ".join(self.districts)
            raise PolicyError(
                f"no SLA policy for district {district!r}: this deployment serves {served}"
            ) from None

    def in_district(self, district: str) -> Timing:
        """The timing a clock of that district is judged by."""
        return Timing(self.policy_for(district), self.calendar, self.districts)

    def after(self, measure: ClockMeasure, since: datetime, seconds: float) -> tuple[datetime, str | None]:
        deadline = self.calendar.after(measure, since, seconds)
        return deadline.at, deadline.warning

    def used(self, measure: ClockMeasure, since: datetime, until: datetime) -> float:
        return self.calendar.used(measure, since, until)

    def marks(
        self, measure: ClockMeasure, since: datetime, budget: float, consumed: float
    ) -> tuple[datetime, datetime, str | None]:
        """Deadline and at-risk instant of a clock running since `since` with `consumed` already used."""
        deadline, warning = self.after(measure, since, budget - consumed)
        at_risk, _ = self.after(measure, since, budget * self.policy.at_risk_share - consumed)
        return deadline, at_risk, warning

    def task_due(self, category: Category | None, since: datetime) -> TaskDue:
        """When a task assigned at `since` in a case of this category is due by the policy in force."""
        rule = self.policy.task_deadline(category)
        at, warning = self.after(rule.budget.measure, since, rule.budget.seconds)
        return TaskDue(at, rule.rule_id, rule.budget, warning)


def time_left(
    calendar: WorkingCalendar,
    measure: ClockMeasure,
    deadline: datetime | None,
    now: datetime,
    *,
    paused: bool,
    stopped: bool,
    budget_seconds: float,
    consumed_seconds: float,
) -> float | None:
    """Time left on a clock in its own measure (working seconds for working-time clocks), negative by how
    late it is; a paused clock keeps what it had left; None for a stopped clock or one with no deadline.
    The SLA's clocks and routing's copy of them both count with this."""
    if stopped:
        return None
    if paused:
        return budget_seconds - consumed_seconds
    if deadline is None:
        return None
    return calendar.left(measure, deadline, now)


def standing(
    now: datetime,
    *,
    deadline: datetime | None,
    at_risk_at: datetime | None,
    breached: bool,
    at_risk_alerted: bool,
) -> str:
    """Where a running clock stands: "breached" once past its deadline (or announced so), "at_risk" once
    past its at-risk instant (or announced so), else "on_track"."""
    if breached or (deadline is not None and now >= deadline):
        return "breached"
    if at_risk_alerted or (at_risk_at is not None and now >= at_risk_at):
        return "at_risk"
    return "on_track"
