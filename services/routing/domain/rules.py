"""Routing rules as data: loaded from YAML, validated at start-up with errors that name the rule."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from district.registry import district_policy_path
from schemas.reference import Bureau, Category, Level, Management, Urgency

DEFAULT_RULES_FILE = Path(__file__).resolve().parent.parent / "routing_rules.yaml"


class RulesError(ValueError):
    """The rules file is unusable; the message names the file and what is wrong."""


class Escalation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    lead: Bureau
    bureaus: tuple[Bureau, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _lead_is_a_member(self) -> Escalation:
        if self.lead not in self.bureaus:
            raise ValueError(f"lead bureau {self.lead.value!r} must be one of the bureaus")
        return self


class RoutingRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    categories: tuple[Category, ...] = Field(min_length=1)
    management: tuple[Management, ...] = ()
    urgency: Urgency | None = None
    level: Level | None = None
    escalate: Escalation | None = None
    reason: str = Field(min_length=1)

    @model_validator(mode="after")
    def _exactly_one_outcome(self) -> RoutingRule:
        if (self.level is None) == (self.escalate is None):
            raise ValueError("a rule needs exactly one of 'level' or 'escalate'")
        return self

    def matches(self, category: Category, management: Management | None, urgency: Urgency) -> bool:
        if category not in self.categories:
            return False
        if self.management and management not in self.management:
            return False
        return self.urgency is None or self.urgency == urgency


class EscalationPolicy(BaseModel):
    """When a case goes to the joint meeting for reasons other than its category."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    group_complaint_threshold: int = Field(default=5, ge=2, description="complainants that make a group case")
    max_returns: int = Field(default=2, ge=1, description="the return that reaches this count escalates")
    reopenings_before_escalation: int = Field(
        default=2, ge=1, description="the reopening that reaches this count escalates"
    )
    default: Escalation = Escalation(lead=Bureau.CENTRE, bureaus=(Bureau.CENTRE, Bureau.STREET_OFFICE))


NO_DEADLINES_HERE = (
    "routing rules no longer set deadlines: a case's deadline is its SLA clock's, from the SLA policy "
    "(deadlines/sla_policy.yaml, in working time); remove 'service_levels' from the routing rules"
)


class RoutingRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(min_length=1)
    rules: tuple[RoutingRule, ...] = Field(min_length=1)
    escalation: EscalationPolicy = EscalationPolicy()

    @model_validator(mode="before")
    @classmethod
    def _no_second_deadline_formula(cls, data: object) -> object:
        # Refused rather than ignored: an operator who edits it must learn it has no effect.
        if isinstance(data, dict) and "service_levels" in data:
            raise ValueError(NO_DEADLINES_HERE)
        return data

    @model_validator(mode="after")
    def _ids_unique_and_every_category_covered(self) -> RoutingRules:
        ids = [rule.id for rule in self.rules]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"rule ids must be unique, repeated: {repeated}")
        covered = {
            c for rule in self.rules if not rule.management and rule.urgency is None for c in rule.categories
        }
        uncovered = sorted(c.value for c in Category if c not in covered)
        if uncovered:
            raise ValueError(
                f"categories without an unconditional rule (cases would be unroutable): {uncovered}"
            )
        return self

    def first_match(self, category: Category, management: Management | None, urgency: Urgency) -> RoutingRule:
        for rule in self.rules:
            if rule.matches(category, management, urgency):
                return rule
        raise LookupError(f"no rule for {category.value}")  # unreachable: validation demands coverage

    def matching(
        self, category: Category, management: Management | None, urgency: Urgency
    ) -> list[RoutingRule]:
        """Every rule that matches, in order: a returned case tries the next one."""
        return [rule for rule in self.rules if rule.matches(category, management, urgency)]

    def escalation_for(self, category: Category) -> tuple[str, Escalation]:
        """Who the joint meeting should involve for this category: its joint rule, else the default."""
        for rule in self.rules:
            if rule.escalate is not None and category in rule.categories:
                return rule.id, rule.escalate
        return "escalation-default", self.escalation.default


def rules_file_for(district: str, default: Path = DEFAULT_RULES_FILE) -> Path:
    """The district's own rules (`routing_rules.<district>.yaml` next to the default) replace the default
    for that district when present; every other district uses the default."""
    return district_policy_path(default, district)


def load_rules(path: Path = DEFAULT_RULES_FILE) -> RoutingRules:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise RulesError(f"{path}: cannot read routing rules: {error}") from error
    try:
        return RoutingRules.model_validate(raw)
    except ValidationError as error:
        raise RulesError(f"{path}: invalid routing rules:\n{_describe(error, raw)}") from error


def _describe(error: ValidationError, raw: object) -> str:
    lines = []
    for problem in error.errors():
        location = problem["loc"]
        where = ".".join(str(part) for part in location)
        if len(location) >= 2 and location[0] == "rules" and isinstance(raw, dict):
            rule = (raw.get("rules") or [])[int(location[1])]
            if isinstance(rule, dict) and "id" in rule:
                where = f"rule {rule['id']!r} ({where})"
        lines.append(f"  - {where}: {problem['msg']}")
    return "\n".join(lines)
