"""Where a new case goes: a level and a unit, or the joint meeting, decided by the rules and the directory."""

from __future__ import annotations

from dataclasses import dataclass

from district.directory import Compound, Directory
from schemas.reference import Bureau, Category, Level, Management, Urgency
from services.routing.domain.rules import RoutingRules

CENTRE_UNIT = "centre"
CENTRE_TRIAGE_UNIT = "centre-triage"
CENTRE_NAME = "区物业管理服务中心"
CATEGORY_TRIAGE_RULE = "category-triage"


@dataclass(frozen=True)
class CaseFacts:
    """What routing needs to know about a new case."""

    category: str
    urgency: str
    compound_code: str | None
    street_code: str | None
    # Why the category must be decided by a person first (intake was unsure, or label and text disagree),
    # with the candidates; None when the category stands.
    category_triage: str | None = None


@dataclass(frozen=True)
class RouteToUnit:
    level: Level
    unit_code: str
    unit_name: str
    rule_id: str
    reason: str


@dataclass(frozen=True)
class EscalateToJointMeeting:
    lead: Bureau
    bureaus: tuple[Bureau, ...]
    rule_id: str
    reason: str


Decision = RouteToUnit | EscalateToJointMeeting


def decide_route(facts: CaseFacts, rules: RoutingRules, directory: Directory) -> Decision:
    if facts.category_triage is not None:
        # Before any rule: a rule chosen on an uncertain category would send the case to the wrong unit,
        # or the wrong bureaus; the centre's triage decides the category (and so the route) first.
        return RouteToUnit(
            Level.CENTRE,
            CENTRE_TRIAGE_UNIT,
            f"{CENTRE_NAME}(分拨)",
            CATEGORY_TRIAGE_RULE,
            facts.category_triage,
        )
    compound = directory.compound(facts.compound_code) if facts.compound_code else None
    management: Management | None = compound.management if compound else None
    rule = rules.first_match(Category(facts.category), management, Urgency(facts.urgency))
    if rule.escalate is not None:
        return EscalateToJointMeeting(rule.escalate.lead, rule.escalate.bureaus, rule.id, rule.reason)
    assert rule.level is not None
    return _unit_for(rule.id, rule.reason, rule.level, compound, facts.street_code, directory)


_LEVEL_ABOVE: dict[Level, Level] = {Level.COMMUNITY: Level.STREET, Level.STREET: Level.CENTRE}


def decide_reroute(
    facts: CaseFacts,
    rules: RoutingRules,
    directory: Directory,
    current_rule_id: str,
    current_level: Level,
    refused: frozenset[str],
) -> RouteToUnit | None:
    """Where a returned case goes: the next matching rule's unit, else one level up, never a unit that
    already returned it. None when nobody is left, so the case escalates instead."""
    compound = directory.compound(facts.compound_code) if facts.compound_code else None
    management = compound.management if compound else None
    matching = rules.matching(Category(facts.category), management, Urgency(facts.urgency))
    base = current_rule_id.split("/")[0]
    ids = [rule.id for rule in matching]
    for rule in matching[ids.index(base) + 1 if base in ids else len(ids) :]:
        if rule.level is None:
            continue  # a joint-meeting rule is not a unit to re-route to
        decision = _unit_for(rule.id, rule.reason, rule.level, compound, facts.street_code, directory)
        if decision.unit_code not in refused:
            return decision
    level = current_level
    while level in _LEVEL_ABOVE:
        level = _LEVEL_ABOVE[level]
        reason = f"returned by the {current_level.value} unit, so one level up: the {level.value} takes it"
        decision = _unit_for(
            f"{base}/up-to-{level.value}", reason, level, compound, facts.street_code, directory
        )
        if decision.unit_code not in refused:
            return decision
    return None


def _unit_for(
    rule_id: str,
    reason: str,
    level: Level,
    compound: Compound | None,
    street_code: str | None,
    directory: Directory,
) -> RouteToUnit:
    street_code = compound.street_code if compound else street_code
    street = directory.street(street_code) if street_code else None
    if level is Level.CENTRE:
        return RouteToUnit(Level.CENTRE, CENTRE_UNIT, CENTRE_NAME, rule_id, reason)
    if level is Level.COMMUNITY and compound is not None:
        community = directory.community(compound.community_code)
        assert community is not None  # the directory validates its references at load
        return RouteToUnit(Level.COMMUNITY, community.code, community.name_zh, rule_id, reason)
    if street is not None:
        why = reason if level is Level.STREET else f"{reason}; compound unknown, so its street takes it"
        street_rule = rule_id if level is Level.STREET else f"{rule_id}/street-fallback"
        return RouteToUnit(Level.STREET, street.code, street.name_zh, street_rule, why)
    return RouteToUnit(
        Level.CENTRE,
        CENTRE_TRIAGE_UNIT,
        f"{CENTRE_NAME}(分拨)",
        f"{rule_id}/centre-triage",
        f"{reason}; neither compound nor street known, so the centre triages it",
    )


@dataclass(frozen=True)
class RoutingPolicy:
    """The rules and the directory together: what the case aggregate consults when it must decide again."""

    rules: RoutingRules
    directory: Directory

    def route(self, facts: CaseFacts) -> Decision:
        return decide_route(facts, self.rules, self.directory)

    def reroute(
        self, facts: CaseFacts, current_rule_id: str, current_level: Level, refused: frozenset[str]
    ) -> RouteToUnit | None:
        return decide_reroute(facts, self.rules, self.directory, current_rule_id, current_level, refused)

    def unit(self, unit_code: str) -> RouteToUnit | None:
        """A unit named by hand (the centre re-routing), as a routing to it; None for an unknown code."""
        reason = "routed by hand by the centre"
        if unit_code == CENTRE_UNIT:
            return RouteToUnit(Level.CENTRE, CENTRE_UNIT, CENTRE_NAME, "manual", reason)
        if (street := self.directory.street(unit_code)) is not None:
            return RouteToUnit(Level.STREET, street.code, street.name_zh, "manual", reason)
        if (community := self.directory.community(unit_code)) is not None:
            return RouteToUnit(Level.COMMUNITY, community.code, community.name_zh, "manual", reason)
        return None

    def known_unit(self, unit_code: str) -> bool:
        return self.unit(unit_code) is not None
