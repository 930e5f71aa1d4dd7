"""The SLA policy as data: per channel × urgency × category × level, how long to dispatch, contact, resolve,
and how long a joint-meeting bureau gets for its enforcement task.

Rules are tried in order; for each deadline the first rule that matches the case *and* names that deadline
wins, so a rule may set only what differs. Validation at start-up proves every combination of channel,
urgency, category and level gets all three case deadlines, and every category a task deadline, and names
the rule at fault otherwise.

A task deadline is chosen by category alone (at level joint_meeting): the joint meeting assigns tasks
without knowing the case's channel or urgency, so a rule that gives `task` may not match on those.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from district.registry import load_per_district
from schemas.reference import Category, Channel, Urgency
from schemas.sla import ClockKind, ClockMeasure

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent / "sla_policy.yaml"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(seconds?|minutes?|hours?|working[_ ]days?)\s*$")
_UNIT_SECONDS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "working_day": 86400.0}
CASE_KINDS = (ClockKind.DISPATCH, ClockKind.CONTACT, ClockKind.RESOLVE)


class PolicyError(ValueError):
    """The policy file is unusable; the message names the file, the rule and the problem."""


class PolicyLevel(StrEnum):
    """Where the case is handled; a case escalated to the joint meeting is judged on its own deadlines."""

    CENTRE = "centre"
    STREET = "street"
    COMMUNITY = "community"
    JOINT_MEETING = "joint_meeting"


class Budget(BaseModel):
    """How much time a clock has: wall-clock seconds, or working seconds on the calendar."""

    model_config = ConfigDict(frozen=True)

    seconds: float
    measure: ClockMeasure

    @classmethod
    def parse(cls, text: str) -> Budget:
        match = _DURATION.match(text)
        if not match:
            raise ValueError(
                f"{text!r} is not a duration: write e.g. '2 hours', '30 minutes' or '5 working_days'"
            )
        amount, unit = float(match[1]), match[2].replace(" ", "_").rstrip("s")
        measure = ClockMeasure.WORKING if unit == "working_day" else ClockMeasure.WALL
        return cls(seconds=amount * _UNIT_SECONDS[unit], measure=measure)


class Match(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: tuple[Channel, ...] = ()
    urgency: tuple[Urgency, ...] = ()
    category: tuple[Category, ...] = ()
    level: tuple[PolicyLevel, ...] = ()

    @field_validator("channel", "urgency", "category", "level", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class PolicyRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    when: Match = Match()
    dispatch: Budget | None = None
    contact: Budget | None = None
    resolve: Budget | None = None
    task: Budget | None = Field(
        default=None,
        description="A joint-meeting bureau's task, from its assignment, unless the office decides",
    )
    escalate_on_breach: bool | None = Field(
        default=None, description="Ask routing to escalate when this rule's resolve clock breaches"
    )
    source: str = ""

    @field_validator("dispatch", "contact", "resolve", "task", mode="before")
    @classmethod
    def _parse_duration(cls, value: object) -> object:
        return Budget.parse(value) if isinstance(value, str) else value

    def budget(self, kind: ClockKind) -> Budget | None:
        return {
            ClockKind.DISPATCH: self.dispatch,
            ClockKind.CONTACT: self.contact,
            ClockKind.RESOLVE: self.resolve,
            ClockKind.TASK: self.task,
        }.get(kind)

    def matches(
        self,
        channel: Channel | None,
        urgency: Urgency | None,
        category: Category | None,
        level: PolicyLevel | None,
    ) -> bool:
        """None is "not known": it matches only a rule that does not ask for that dimension."""
        w = self.when
        return (
            (not w.channel or channel in w.channel)
            and (not w.urgency or urgency in w.urgency)
            and (not w.category or category in w.category)
            and (not w.level or level in w.level)
        )

    @model_validator(mode="after")
    def _task_by_category_only(self) -> PolicyRule:
        if self.task is None:
            return self
        if self.when.channel or self.when.urgency:
            raise ValueError(
                "a task deadline is chosen by category (and level) only: the joint meeting assigns tasks "
                "without knowing the case's channel or urgency; give 'task' in a rule whose 'when' names "
                "neither"
            )
        if self.when.level and PolicyLevel.JOINT_MEETING not in self.when.level:
            raise ValueError(
                "'task' is a joint-meeting bureau's deadline: the rule must match level joint_meeting"
            )
        return self


class Deadline(BaseModel):
    """What the policy says for one clock of one case."""

    model_config = ConfigDict(frozen=True)

    budget: Budget
    rule_id: str
    escalate_on_breach: bool


class SlaPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    at_risk_share: float = Field(gt=0, lt=1, description="Share of the time used that makes a clock at risk")
    rules: tuple[PolicyRule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> SlaPolicy:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self

    def deadline(
        self,
        kind: ClockKind,
        channel: Channel | None,
        urgency: Urgency | None,
        category: Category | None,
        level: PolicyLevel | None,
    ) -> Deadline:
        escalate: bool | None = None
        for rule in self.rules:
            if not rule.matches(channel, urgency, category, level):
                continue
            if escalate is None and kind is ClockKind.RESOLVE:
                escalate = rule.escalate_on_breach
            budget = rule.budget(kind)
            if budget is not None:
                return Deadline(budget=budget, rule_id=rule.id, escalate_on_breach=bool(escalate))
        raise PolicyError(
            f"no rule gives a {kind.value} deadline for channel={_named(channel)} urgency={_named(urgency)} "
            f"category={_named(category)} level={_named(level)}"
        )

    def task_deadline(self, category: Category | None) -> Deadline:
        """A joint-meeting bureau's task deadline for a case of this category (None: not known yet)."""
        return self.deadline(ClockKind.TASK, None, None, category, PolicyLevel.JOINT_MEETING)

    def gaps(self) -> list[str]:
        """Every combination that lacks a deadline (empty for a usable policy)."""
        problems = []
        levels: list[PolicyLevel | None] = [None, *PolicyLevel]
        for channel, urgency, category, level in itertools.product(Channel, Urgency, Category, levels):
            for kind in CASE_KINDS:
                try:
                    self.deadline(kind, channel, urgency, category, level)
                except PolicyError as error:
                    problems.append(str(error))
        for known in [*Category, None]:
            try:
                self.task_deadline(known)
            except PolicyError as error:
                problems.append(str(error))
        return problems


def _named(value: StrEnum | None) -> str:
    return value.value if value is not None else "-"


def load_policies(districts: Iterable[str], path: Path | None = None) -> dict[str, SlaPolicy]:
    """Every district's policy: its own file when present, else the default file."""
    return load_per_district(load_policy, path or DEFAULT_POLICY_FILE, districts)


def load_policy(path: Path | None = None) -> SlaPolicy:
    source = path or DEFAULT_POLICY_FILE
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
        policy = SlaPolicy.model_validate(raw)
    except (OSError, yaml.YAMLError) as error:
        raise PolicyError(f"{source}: cannot read the SLA policy: {error}") from error
    except ValidationError as error:
        raise PolicyError(f"{source}: {_describe(error, raw)}") from error
    gaps = policy.gaps()
    if gaps:
        raise PolicyError(f"{source}: {len(gaps)} combinations have no deadline, e.g. {gaps[0]}")
    return policy


def _describe(error: ValidationError, raw: object) -> str:
    parts = []
    for e in error.errors():
        loc = list(e["loc"])
        where = ".".join(map(str, loc))
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int) and isinstance(raw, dict):
            rules = raw.get("rules") or []
            rule_id = (
                rules[loc[1]].get("id") if loc[1] < len(rules) and isinstance(rules[loc[1]], dict) else None
            )
            where = f"rule {rule_id or loc[1]!r}: {'.'.join(map(str, loc[2:]))}"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)
