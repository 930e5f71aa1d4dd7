"""The joint meeting's rules data: which bureaus a problem needs, who leads, what each is asked to do.

How long a bureau gets is not here: a task's default deadline is the SLA policy's `task` budget, in working
time on the working calendar (deadlines/), the same code the SLA's task clocks count with.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from district.registry import load_per_district
from schemas.reference import Bureau, Category

RULES_FILE = Path(__file__).resolve().parent.parent / "joint_meeting_rules.yaml"
DEFAULT = "default"


class InvalidRules(ValueError):
    """The rules file is unusable; the message names the entry that is wrong."""


class _Proposal(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    lead: Bureau
    bureaus: list[Bureau] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _no_period(cls, data: object) -> object:
        if isinstance(data, dict) and "period_days" in data:
            raise ValueError(NO_PERIODS_HERE.format(field="period_days"))
        return data

    @model_validator(mode="after")
    def _lead_is_a_member(self) -> _Proposal:
        if self.lead not in self.bureaus:
            raise ValueError(f"lead {self.lead.value!r} must be one of its bureaus")
        return self


class _Action(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    action: str = Field(min_length=1)
    done_when: str = Field(min_length=1)


NO_PERIODS_HERE = (
    "the joint meeting's rules no longer set task deadlines: a task's default deadline is the SLA policy's "
    "'task' budget (deadlines/sla_policy.yaml, in working days); remove '{field}' from the joint-meeting rules"
)


class _RulesFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str
    proposals: dict[str, _Proposal]
    actions: dict[Bureau, _Action]

    @model_validator(mode="after")
    def _complete(self) -> _RulesFile:
        unknown = set(self.proposals) - {c.value for c in Category} - {DEFAULT}
        if unknown:
            raise ValueError(f"proposals name unknown categories: {sorted(unknown)}")
        if DEFAULT not in self.proposals:
            raise ValueError("proposals need a 'default' entry for categories without their own")
        missing = set(Bureau) - set(self.actions)
        if missing:
            raise ValueError(f"actions missing for bureaus: {sorted(b.value for b in missing)}")
        return self

    @model_validator(mode="before")
    @classmethod
    def _no_default_period(cls, data: object) -> object:
        # Refused rather than ignored: an operator who edits it must learn it has no effect.
        if isinstance(data, dict) and "default_period_days" in data:
            raise ValueError(NO_PERIODS_HERE.format(field="default_period_days"))
        return data


@dataclass(frozen=True)
class Proposal:
    """What the office decides when a file opens: lead first, then the other members. `entry` names the
    rule that decided (the category's, or `default`)."""

    lead: Bureau
    bureaus: tuple[Bureau, ...]
    entry: str = DEFAULT


@dataclass(frozen=True)
class JointMeetingRules:
    version: str
    _file: _RulesFile

    def propose(self, category: Category, named_by_escalation: list[Bureau]) -> Proposal:
        """The joint meeting's own rule for the category decides the lead; bureaus routing named beyond
        it join as members, so nobody routing asked for is left out."""
        name = category.value if category.value in self._file.proposals else DEFAULT
        entry = self._file.proposals[name]
        members = [entry.lead] + [b for b in entry.bureaus if b != entry.lead]
        members += [b for b in named_by_escalation if b not in members]
        return Proposal(entry.lead, tuple(members), name)

    def action_for(self, bureau: Bureau) -> tuple[str, str]:
        action = self._file.actions[bureau]
        return action.action, action.done_when


def load_rules(path: Path = RULES_FILE) -> JointMeetingRules:
    try:
        parsed = _RulesFile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as error:
        raise InvalidRules(f"{path}: {error}") from error
    return JointMeetingRules(parsed.version, parsed)


def load_district_rules(districts: Iterable[str], default: Path = RULES_FILE) -> dict[str, JointMeetingRules]:
    """Each district's rules: its own file when present (it replaces the default whole), else the default.

    Every district has its own joint meeting, so a district may propose other bureaus; a partial override
    would leave readers guessing which entries came from where. (Its tasks' periods are in its SLA policy.)
    """
    return load_per_district(load_rules, default, districts)
