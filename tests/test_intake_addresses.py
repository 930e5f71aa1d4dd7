"""Where a hotline complaint is: resolved from messy addresses with a stated confidence, never refused for it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from district.directory import load_directory
from schemas.reference import Channel, ComplaintKind, Urgency
from services.intake.adapters.category_files import DEFAULT_PLATFORM, categoriser
from services.intake.domain.addresses import Resolution, resolve_location
from services.intake.domain.complaints import received_complaint
from services.intake.domain.submission import Submission

DIRECTORY = load_directory()


@pytest.mark.parametrize(
    ("compound", "street", "address", "resolution", "confidence"),
    [
        ("丰河华庭", "", "", Resolution.COMPOUND_FIELD, 1.0),
        ("CP0001", "", "", Resolution.COMPOUND_FIELD, 1.0),
        ("丰河华庭小区", "", "", Resolution.COMPOUND_ALIAS, 0.95),
        ("丰河华庭东区", "", "", Resolution.COMPOUND_FIELD_TEXT, 0.85),
        ("", "", "东街街道建设路12号丰河华庭5号楼", Resolution.ADDRESS_NAME, 0.85),
        ("", "", "建设路12号 丰河 3号楼2单元", Resolution.ADDRESS_ABBREVIATION, 0.6),
        ("", "", "金峰公寓8号楼", Resolution.ADDRESS_NAME, 0.65),  # it has 3 buildings: less sure
        ("金峰公寓", "西街", "", Resolution.COMPOUND_FIELD, 0.7),  # the street says otherwise: less sure
    ],
)
def test_the_compound_is_found_and_the_way_it_was_found_is_stated(
    compound: str, street: str, address: str, resolution: Resolution, confidence: float
) -> None:
    location = resolve_location(DIRECTORY, compound_text=compound, street_text=street, address=address)
    assert location.compound is not None and location.compound.code in ("CP0001", "CP0002")
    assert (location.resolution, location.confidence) == (resolution, confidence)
    assert location.street is not None and location.street.code == location.compound.street_code


def test_a_short_alias_inside_a_road_name_is_not_taken_for_the_compound() -> None:
    location = resolve_location(DIRECTORY, compound_text="", street_text="", address="丰河路88号门口")
    assert location.resolution is Resolution.MANUAL_TRIAGE


def test_without_a_compound_the_street_is_kept_and_without_either_the_centre_triages() -> None:
    street_only = resolve_location(DIRECTORY, compound_text="", street_text="西街", address="某某路口")
    nowhere = resolve_location(DIRECTORY, compound_text="不存在的小区", street_text="", address="路边")
    assert street_only.resolution is Resolution.STREET_ONLY and street_only.street is not None
    assert nowhere.resolution is Resolution.MANUAL_TRIAGE and nowhere.needs_triage


def test_a_complaint_with_a_hopeless_address_is_still_received_marked_for_triage() -> None:
    submission = Submission(
        channel=Channel.HOTLINE,
        source_ref="X-1",
        received_at=datetime(2026, 11, 20, tzinfo=UTC),
        kind=ComplaintKind.COMPLAINT,
        category_label="sanitation",
        description="垃圾没人清运",
        address="就在那边",
        street="",
        compound="",
        urgency=Urgency.NORMAL,
        caller_name="",
        caller_phone="13800000000",
        actor="test",
    )
    decision = categoriser().decide(DEFAULT_PLATFORM, "luzhou", submission.category_label, submission.description)
    submission = replace(submission, category_decision=decision)
    location = resolve_location(DIRECTORY, compound_text="", street_text="", address=submission.address)
    complaint = received_complaint(submission, location, "secret")
    assert complaint.needs_triage and complaint.compound_resolution == "manual_triage"
    assert complaint.compound_code is None and complaint.street_code is None
