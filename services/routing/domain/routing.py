"""Where a new case goes: a level and a unit, or the joint meeting, decided by the rules and the directory."""

from __future__ import annotations

from dataclasses import dataclass

from district.directory import Compound, Directory
from schemas.reference import Bureau, Category, Level, Management, Urgency
from services.routing.domain.rules import RoutingRule, RoutingRules

CENTRE_UNIT = "centre"
CENTRE_TRIAGE_UNIT = "centre-triage"
CENTRE_NAME = "区物业管理服务中心"


@dataclass(frozen=True)
class CaseFacts:
    """What routing needs to know about a new case."""

    category: str
    urgency: str
    compound_code: str | None
    street_code: str | None


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
    compound = directory.compound(facts.compound_code) if facts.compound_code else None
    management: Management | None = compound.management if compound else None
    rule = rules.first_match(Category(facts.category), management, Urgency(facts.urgency))
    if rule.escalate is not None:
        return EscalateToJointMeeting(rule.escalate.lead, rule.escalate.bureaus, rule.id, rule.reason)
    assert rule.level is not None
    return _unit_for(rule, rule.level, compound, facts.street_code, directory)


def _unit_for(
    rule: RoutingRule, level: Level, compound: Compound | None, street_code: str | None, directory: Directory
) -> RouteToUnit:
    street_code = compound.street_code if compound else street_code
    street = directory.street(street_code) if street_code else None
    if level is Level.CENTRE:
        return RouteToUnit(Level.CENTRE, CENTRE_UNIT, CENTRE_NAME, rule.id, rule.reason)
    if level is Level.COMMUNITY and compound is not None:
        community = directory.community(compound.community_code)
        assert community is not None  # the directory validates its references at load
        return RouteToUnit(Level.COMMUNITY, community.code, community.name_zh, rule.id, rule.reason)
    if street is not None:
        why = (
            rule.reason
            if level is Level.STREET
            else f"{rule.reason}; compound unknown, so its street takes it"
        )
        rule_id = rule.id if level is Level.STREET else f"{rule.id}/street-fallback"
        return RouteToUnit(Level.STREET, street.code, street.name_zh, rule_id, why)
    return RouteToUnit(
        Level.CENTRE,
        CENTRE_TRIAGE_UNIT,
        f"{CENTRE_NAME}(分拨)",
        f"{rule.id}/centre-triage",
        f"{rule.reason}; neither compound nor street known, so the centre triages it",
    )
