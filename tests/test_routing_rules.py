"""Routing decisions, one test per rule family, against the real district directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from district.directory import Compound, load_directory
from schemas.reference import Bureau, Category, Level, Management
from services.routing.domain.routing import (
    CENTRE_TRIAGE_UNIT,
    CaseFacts,
    Decision,
    EscalateToJointMeeting,
    RouteToUnit,
    decide_route,
)
from services.routing.domain.rules import RulesError, load_rules

RULES = load_rules()
DIRECTORY = load_directory()


def _compound(management: Management) -> Compound:
    return next(c for c in DIRECTORY.compounds if c.management is management)


def _route(
    category: Category, compound: Compound | None = None, street: str | None = None, urgency: str = "normal"
) -> Decision:
    facts = CaseFacts(category.value, urgency, compound.code if compound else None, street)
    return decide_route(facts, RULES, DIRECTORY)


def test_fire_hazard_complaint_escalates_to_fire_rescue_leading_the_street_and_the_centre() -> None:
    decision = _route(Category.FIRE_HAZARD, _compound(Management.PROFESSIONAL))
    assert isinstance(decision, EscalateToJointMeeting)
    assert decision.lead is Bureau.FIRE_RESCUE
    assert set(decision.bureaus) == {Bureau.FIRE_RESCUE, Bureau.STREET_OFFICE, Bureau.CENTRE}


def test_unreasonable_fees_escalate_with_market_supervision_leading() -> None:
    decision = _route(Category.UNREASONABLE_FEES)
    assert isinstance(decision, EscalateToJointMeeting) and decision.lead is Bureau.MARKET_SUPERVISION


def test_illegal_construction_escalates_with_city_appearance_housing_and_the_street() -> None:
    decision = _route(Category.ILLEGAL_CONSTRUCTION, _compound(Management.SELF_MANAGED))
    assert isinstance(decision, EscalateToJointMeeting)
    assert decision.bureaus[0] is Bureau.CITY_APPEARANCE
    assert Bureau.HOUSING_CONSTRUCTION in decision.bureaus and Bureau.STREET_OFFICE in decision.bureaus


def test_sanitation_in_a_known_compound_goes_to_that_compounds_community() -> None:
    compound = _compound(Management.PROFESSIONAL)
    decision = _route(Category.SANITATION, compound)
    assert isinstance(decision, RouteToUnit)
    assert (decision.level, decision.unit_code) == (Level.COMMUNITY, compound.community_code)
    assert decision.rule_id == "community-daily"


def test_service_quality_in_a_self_managed_compound_goes_to_its_street() -> None:
    compound = _compound(Management.SELF_MANAGED)
    decision = _route(Category.SERVICE_QUALITY, compound)
    assert isinstance(decision, RouteToUnit)
    assert (decision.level, decision.unit_code, decision.rule_id) == (
        Level.STREET,
        compound.street_code,
        "street-self-managed-service",
    )


def test_maintenance_fund_questions_go_to_the_district_centre() -> None:
    decision = _route(Category.MAINTENANCE_FUND, _compound(Management.FORMERLY_UNMANAGED))
    assert isinstance(decision, RouteToUnit) and decision.level is Level.CENTRE


def test_urgent_elevator_fault_goes_to_the_centre_but_a_normal_one_to_the_street() -> None:
    compound = _compound(Management.PROFESSIONAL)
    urgent = _route(Category.ELEVATOR_EQUIPMENT, compound, urgency="urgent")
    normal = _route(Category.ELEVATOR_EQUIPMENT, compound)
    assert isinstance(urgent, RouteToUnit) and urgent.level is Level.CENTRE
    assert isinstance(normal, RouteToUnit) and normal.level is Level.STREET


def test_daily_complaint_without_a_known_compound_goes_to_the_street_if_known() -> None:
    street = DIRECTORY.streets[3]
    decision = _route(Category.COMMON_AREA_REPAIR, street=street.code)
    assert isinstance(decision, RouteToUnit)
    assert (decision.level, decision.unit_code) == (Level.STREET, street.code)
    assert decision.rule_id == "community-daily/street-fallback"


def test_complaint_with_neither_compound_nor_street_goes_to_the_centres_triage_queue() -> None:
    decision = _route(Category.NOISE_POLLUTION)
    assert isinstance(decision, RouteToUnit)
    assert (decision.level, decision.unit_code) == (Level.CENTRE, CENTRE_TRIAGE_UNIT)


def test_every_category_has_a_rule() -> None:
    for category in Category:
        assert _route(category) is not None


def test_a_rules_file_with_a_broken_rule_is_refused_naming_the_rule(tmp_path: Path) -> None:
    broken = tmp_path / "rules.yaml"
    broken.write_text(
        "version: '1'\nrules:\n"
        "  - {id: everything, categories: ["
        + ", ".join(c.value for c in Category)
        + "], level: street, reason: x}\n"
        "  - {id: bad-one, categories: [sanitation], level: moon, reason: y}\n",
        encoding="utf-8",
    )
    with pytest.raises(RulesError) as raised:
        load_rules(broken)
    assert "rule 'bad-one'" in str(raised.value) and "level" in str(raised.value)
    assert str(broken) in str(raised.value)


def test_a_rules_file_leaving_a_category_unroutable_is_refused(tmp_path: Path) -> None:
    partial = tmp_path / "rules.yaml"
    partial.write_text(
        "version: '1'\nrules:\n  - {id: only, categories: [sanitation], level: street, reason: x}\n"
    )
    with pytest.raises(RulesError, match="fire_hazard"):
        load_rules(partial)


def test_a_rules_file_still_setting_deadlines_is_refused_pointing_to_the_sla_policy(tmp_path: Path) -> None:
    old = tmp_path / "rules.yaml"
    everything = ", ".join(c.value for c in Category)
    old.write_text(
        f"version: '1'\nrules:\n  - {{id: all, categories: [{everything}], level: street, reason: x}}\n"
        "service_levels: {normal_hours: 120, urgent_hours: 24}\n",
        encoding="utf-8",
    )
    with pytest.raises(RulesError, match=r"no longer set deadlines.*sla_policy\.yaml"):
        load_rules(old)


# Where each category goes, for a compound of each management type: (level or joint-meeting lead, rule id).
EXPECTED_FAMILIES: dict[tuple[Category, Management], tuple[str, str]] = {
    **{
        (c, m): ("community", "community-daily")
        for c in (Category.SANITATION, Category.COMMON_AREA_REPAIR, Category.NOISE_POLLUTION)
        for m in Management
    },
    **{
        (c, m): ("community", "community-daily")
        for c in (Category.SECURITY_ACCESS, Category.SERVICE_QUALITY)
        for m in (Management.PROFESSIONAL, Management.FORMERLY_UNMANAGED)
    },
    **{
        (c, Management.SELF_MANAGED): ("street", "street-self-managed-service")
        for c in (Category.SECURITY_ACCESS, Category.SERVICE_QUALITY)
    },
    **{
        (c, m): ("centre", "centre-regulatory")
        for c in (Category.PROPERTY_FEES, Category.MAINTENANCE_FUND, Category.COMPANY_EXIT_TAKEOVER)
        for m in Management
    },
    **{
        (c, m): ("street", "street-governance")
        for c in (
            Category.OWNERS_COMMITTEE,
            Category.OWNER_COMPANY_DISPUTE,
            Category.UNMANAGED_COMPOUND,
            Category.ELEVATOR_EQUIPMENT,
        )
        for m in Management
    },
    **{
        (Category.UNREASONABLE_FEES, m): ("market_supervision", "joint-unreasonable-fees") for m in Management
    },
    **{
        (Category.ILLEGAL_CONSTRUCTION, m): ("city_appearance", "joint-illegal-construction")
        for m in Management
    },
    **{(Category.FIRE_HAZARD, m): ("fire_rescue", "joint-fire-hazard") for m in Management},
}


@pytest.mark.parametrize(("category", "management"), sorted(EXPECTED_FAMILIES, key=str))
def test_every_category_and_management_type_goes_to_its_rule_family_and_the_compounds_own_unit(
    category: Category, management: Management
) -> None:
    where = _compound(management)
    decision = _route(category, where)
    target, rule_id = EXPECTED_FAMILIES[(category, management)]
    assert decision.rule_id == rule_id
    if isinstance(decision, EscalateToJointMeeting):
        assert decision.lead.value == target
        return
    assert decision.level.value == target
    expected_unit = {"community": where.community_code, "street": where.street_code, "centre": "centre"}[
        target
    ]
    assert decision.unit_code == expected_unit


def test_the_expected_families_cover_every_category_and_management_type() -> None:
    assert set(EXPECTED_FAMILIES) == {(c, m) for c in Category for m in Management}
