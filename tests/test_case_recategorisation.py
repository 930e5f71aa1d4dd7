"""The category of a case, pure: an uncertain category goes to the centre's triage, and the centre's
correction (CaseRecategorised) routes the case again when the new category needs another unit or the joint
meeting."""

from __future__ import annotations

import pytest

from schemas.cases import CaseEscalated, CaseRecategorised, CaseRouted, EscalationTrigger
from schemas.categorisation import CategoryCandidate, CategoryDecision, CategorySource
from schemas.reference import Bureau, Category, Level, Management
from services.routing.domain.access import Actor
from services.routing.domain.lifecycle import CaseState, InvalidTransition, NotPermitted
from services.routing.domain.routing import CATEGORY_TRIAGE_RULE, CENTRE_TRIAGE_UNIT
from tests.test_case_lifecycle import CENTRE, POLICY, complaint, compound, handler, opened


def uncertain(category: Category = Category.SANITATION) -> CategoryDecision:
    return CategoryDecision(
        category=category,
        source=CategorySource.CLASSIFIER,
        confidence=0.31,
        platform="12345-default",
        platform_label="城乡建设>物业管理>综合类",
        evidence=["楼道"],
        candidates=[
            CategoryCandidate(category=category, score=0.31),
            CategoryCandidate(category=Category.FIRE_HAZARD, score=0.28),
            CategoryCandidate(category=Category.COMMON_AREA_REPAIR, score=0.12),
        ],
        needs_triage=True,
    )


def test_an_uncertain_category_goes_to_the_centres_triage_with_its_candidates() -> None:
    received = complaint(where=compound()).model_copy(update={"category_decision": uncertain()})
    case = opened(received)
    assert (case.unit_code, case.rule_id, case.level) == (
        CENTRE_TRIAGE_UNIT,
        CATEGORY_TRIAGE_RULE,
        Level.CENTRE,
    )


def test_a_fire_hazard_guessed_uncertainly_is_not_escalated_before_the_centre_decides() -> None:
    received = complaint(Category.FIRE_HAZARD, compound()).model_copy(
        update={"category_decision": uncertain(Category.FIRE_HAZARD)}
    )
    case = opened(received)
    assert case.state is CaseState.ROUTED and case.unit_code == CENTRE_TRIAGE_UNIT


def test_a_triaged_case_recategorised_goes_to_the_unit_of_its_new_category() -> None:
    where = compound()
    case = opened(complaint(where=where).model_copy(update={"category_decision": uncertain()}))
    events = case.recategorise(CENTRE, Category.COMMON_AREA_REPAIR, "围墙开裂，是公共设施维修", POLICY)
    recategorised, routed = events
    assert isinstance(recategorised, CaseRecategorised) and isinstance(routed, CaseRouted)
    assert (recategorised.from_category, recategorised.to_category) == (
        Category.SANITATION,
        Category.COMMON_AREA_REPAIR,
    )
    assert recategorised.replaced_decision == case.category_decision
    assert (
        recategorised.decision.source is CategorySource.STAFF
        and recategorised.recategorised_by == "centre/callback-01"
    )
    assert routed.unit_code == where.community_code and routed.reason.startswith(
        "recategorised from sanitation"
    )
    after = case.then(events)
    assert after.category is Category.COMMON_AREA_REPAIR and after.version == case.version + 2


def test_confirming_a_triaged_category_takes_it_out_of_triage() -> None:
    where = compound()
    case = opened(complaint(where=where).model_copy(update={"category_decision": uncertain()}))
    events = case.recategorise(CENTRE, Category.SANITATION, "确是垃圾清运问题", POLICY)
    assert [type(e) for e in events] == [CaseRecategorised, CaseRouted]
    assert case.then(events).unit_code == where.community_code


def test_recategorising_to_a_cross_department_category_escalates_to_the_joint_meeting() -> None:
    case = opened(complaint(where=compound()))
    events = case.recategorise(CENTRE, Category.FIRE_HAZARD, "楼道电动车充电，是消防隐患", POLICY)
    escalated = events[1]
    assert isinstance(escalated, CaseEscalated) and escalated.trigger is EscalationTrigger.CROSS_DEPARTMENT
    assert escalated.category is Category.FIRE_HAZARD and escalated.lead_bureau is Bureau.FIRE_RESCUE
    assert case.then(events).state is CaseState.ESCALATED


def test_a_unit_that_also_handles_the_new_category_keeps_the_case() -> None:
    case = opened(complaint(Category.SANITATION, compound()))
    events = case.recategorise(CENTRE, Category.NOISE_POLLUTION, "其实是噪音", POLICY)
    assert [type(e) for e in events] == [CaseRecategorised]  # community-daily takes both
    assert case.then(events).unit_code == case.unit_code


def test_only_the_centre_recategorises_and_not_a_case_the_joint_meeting_has() -> None:
    case = opened(complaint(where=compound(Management.PROFESSIONAL)))
    with pytest.raises(NotPermitted):
        case.recategorise(handler(case), Category.NOISE_POLLUTION, "不是我们的", POLICY)
    with pytest.raises(NotPermitted):
        case.recategorise(Actor("centre", "x", "shangdang"), Category.NOISE_POLLUTION, "其他区", POLICY)
    with pytest.raises(InvalidTransition):
        case.recategorise(CENTRE, Category.SANITATION, "一样", POLICY)
    escalated = case.then(case.recategorise(CENTRE, Category.ILLEGAL_CONSTRUCTION, "私搭乱建", POLICY))
    with pytest.raises(InvalidTransition):
        escalated.recategorise(CENTRE, Category.SANITATION, "改回去", POLICY)
