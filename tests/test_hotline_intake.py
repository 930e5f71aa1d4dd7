"""Reading hotline work orders as a person would: platform labels, kinds, urgencies, phones and times in
the forms real exports use are read and flagged, never refused; what still refuses a record names its line."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from district.directory import load_directory
from eventcore.deadletters import Rejection
from eventcore.settings import Settings
from schemas.categorisation import CategorySource
from schemas.complaints import ComplaintReceived, IntakeFlag
from schemas.hotline import HotlineOrder
from schemas.reference import Category, Channel, ComplaintKind, Urgency
from services.intake.adapters.hotline_file import FileRecord, parse_order
from services.intake.app import intake_context
from services.intake.domain.addresses import resolve_location
from services.intake.domain.complaints import case_id_for, received_complaint
from services.intake.domain.personal_data import complainant_id, mask_phone
from services.intake.handlers import NO_PROBLEM_STATED, Outcome, categorise, hotline_submission

NOW = datetime(2026, 11, 25, 4, 0, tzinfo=UTC)
CTX = replace(intake_context(Settings()), clock=lambda: NOW)
VALID = {
    "order_no": "12345-20261118-000001",
    "received_at": "2026-11-18T09:30:00+08:00",
    "caller_name": "王小明",
    "caller_phone": "13812345678",
    "kind": "complaint",
    "category": "消防隐患",
    "description": "楼道里电动车充电",
    "address": "东街街道某小区3号楼",
    "street": "东街",
    "compound": "",
    "urgency": "urgent",
}


def _record(
    changes: dict[str, Any] | None = None, line_no: int = 7, drop: tuple[str, ...] = ()
) -> FileRecord:
    data = {k: v for k, v in {**VALID, **(changes or {})}.items() if k not in drop}
    return FileRecord("hotline-file:test.jsonl", line_no, json.dumps(data, ensure_ascii=False).encode())


def _parse(line: bytes, line_no: int = 7) -> HotlineOrder | Rejection:
    return parse_order(FileRecord("hotline-file:test.jsonl", line_no, line))


def receive(changes: dict[str, Any] | None = None, drop: tuple[str, ...] = ()) -> ComplaintReceived | Outcome:
    """A record read, categorised and made a complaint, as intake does (without the database)."""
    record = _record(changes, drop=drop)
    order = parse_order(record)
    assert isinstance(order, HotlineOrder), order
    submission = hotline_submission(CTX, order, record, "test")
    assert not isinstance(submission, Rejection)
    [decided] = categorise(CTX, [submission])
    if isinstance(decided, Outcome):
        return decided
    location = resolve_location(
        load_directory(), compound_text=decided.compound, street_text=decided.street, address=decided.address
    )
    return received_complaint(decided, location, "secret")


def complaint(changes: dict[str, Any] | None = None, drop: tuple[str, ...] = ()) -> ComplaintReceived:
    received = receive(changes, drop)
    assert isinstance(received, ComplaintReceived), received
    return received


def test_a_chinese_category_label_is_taken_as_the_platform_label() -> None:
    decision = complaint().category_decision
    assert decision is not None and decision.category is Category.FIRE_HAZARD
    assert decision.source is CategorySource.PLATFORM_LABEL and decision.platform_label == "消防隐患"


def test_a_multi_level_path_in_any_separator_is_mapped_by_its_most_specific_level() -> None:
    for path in (
        "城乡建设 › 物业管理 › 电梯故障",
        "城乡建设>物业管理>电梯故障",
        "城乡建设／物业管理／电梯故障",
        "城乡建设-物业管理-电梯困人",
        "城乡建设＞物业管理＞二次供水",
        "物业管理 | 电梯维保",
    ):
        received = complaint({"category": path, "description": "电梯停在两层之间"})
        assert received.category is Category.ELEVATOR_EQUIPMENT, path
        assert received.category_decision is not None
        assert received.category_decision.source is CategorySource.MAPPING
        assert received.category_decision.platform_label == path


def test_a_numeric_code_sent_apart_from_the_label_is_mapped() -> None:
    received = complaint({"category": "", "category_code": 11020801, "description": "消防通道被占"})
    assert received.category is Category.FIRE_HAZARD
    assert received.category_decision is not None and received.category_decision.platform_code == "11020801"


def test_without_a_label_the_description_is_classified_with_its_evidence() -> None:
    received = complaint({"category": "", "description": "楼道里有人私拉电线给电瓶车充电，太危险了"})
    decision = received.category_decision
    assert decision is not None and decision.source is CategorySource.CLASSIFIER
    assert received.category is Category.FIRE_HAZARD and not decision.needs_triage
    assert any("充电" in word for word in decision.evidence)
    assert (
        next(c.category for c in decision.candidates) is Category.FIRE_HAZARD
        and len(decision.candidates) == 3
    )


def test_a_label_the_taxonomy_does_not_know_is_classified_and_flagged_unmapped() -> None:
    received = complaint(
        {"category": "城乡建设>物业管理>其他物业问题", "description": "小区化粪池满了往外冒粪水"}
    )
    assert received.category is Category.SANITATION
    assert IntakeFlag.CATEGORY_UNMAPPED_LABEL in received.flags


def test_a_vague_description_is_received_for_triage_with_three_candidates() -> None:
    received = complaint({"category": "", "description": "你好，我想反映个情况"})
    decision = received.category_decision
    assert decision is not None and decision.needs_triage and len(decision.candidates) == 3
    assert IntakeFlag.CATEGORY_TRIAGE in received.flags


def test_a_label_the_description_plainly_contradicts_goes_to_triage_keeping_the_label() -> None:
    received = complaint({"category": "环境卫生", "description": "电梯困人两次了，电梯经常停运，维保不来"})
    decision = received.category_decision
    assert decision is not None and decision.contradiction and decision.needs_triage
    assert received.category is Category.SANITATION  # a person chose it; the centre decides
    assert decision.candidates[0].category is Category.ELEVATOR_EQUIPMENT
    assert IntakeFlag.CATEGORY_CONTRADICTION in received.flags


def test_no_description_and_no_label_that_maps_is_refused_naming_the_line() -> None:
    refused = receive({"description": "", "category": "城乡建设>物业管理>其他物业问题"})
    assert isinstance(refused, Outcome) and refused.kind == NO_PROBLEM_STATED
    assert refused.reason is not None and refused.reason.startswith(
        "line 7: nothing says what the problem is"
    )
    labelled = complaint({"description": "", "category": "城乡建设/物业管理/化粪池堵塞"})
    assert labelled.category is Category.SANITATION  # the label says it


def test_request_kinds_in_the_platforms_words_and_an_unknown_one_kept_as_a_complaint() -> None:
    words = {
        "投诉": "complaint",
        "举报类": "report",
        "求助": "help",
        "咨询": "inquiry",
        "意见": "suggestion",
        "建议": "suggestion",
        "表扬类": "praise",
        "Complaint": "complaint",
        "enquiry": "inquiry",
    }
    for word, kind in words.items():
        received = complaint({"kind": word})
        assert received.kind is ComplaintKind(kind) and IntakeFlag.UNKNOWN_KIND not in received.flags, word
    unknown = complaint({"kind": "其他"})
    assert unknown.kind is ComplaintKind.COMPLAINT and IntakeFlag.UNKNOWN_KIND in unknown.flags


def test_urgency_synonyms_and_an_unknown_urgency_taken_as_normal() -> None:
    for word, urgency in {
        "一般": "normal",
        "普通": "normal",
        "紧急": "urgent",
        "特急": "urgent",
        "加急": "urgent",
        "急": "urgent",
        "high": "urgent",
        "critical": "urgent",
    }.items():
        assert complaint({"urgency": word}).urgency is Urgency(urgency), word
    unknown = complaint({"urgency": "whenever"})
    assert unknown.urgency is Urgency.NORMAL and IntakeFlag.UNKNOWN_URGENCY in unknown.flags


def test_phone_numbers_in_every_real_form_give_the_first_usable_callback_number() -> None:
    same_caller = complainant_id("03552021234", "secret")
    for written in (
        "0355-2021234",
        "03552021234",
        "(0355) 202 1234",
        "+86 355 2021234",
        "0355-2021234；13900000000",
    ):
        received = complaint({"caller_phone": written})
        assert received.complainant_id == same_caller and not received.flags, written
    extension = complaint({"caller_phone": "0355-2021234转8012"})
    assert (
        extension.caller_phone_masked.endswith("8012")
        and IntakeFlag.NO_CALLBACK_NUMBER not in extension.flags
    )
    several = complaint({"caller_phone": "13812345678、0355-2021234"})
    assert several.complainant_id == complainant_id("13812345678", "secret")


def test_a_missing_or_malformed_number_is_received_flagged_no_callback_number() -> None:
    for changes, drop in (
        ({"caller_phone": "138-1234"}, ()),
        ({"caller_phone": "无"}, ()),
        ({}, ("caller_phone",)),
    ):
        received = complaint(changes, drop)
        assert IntakeFlag.NO_CALLBACK_NUMBER in received.flags
        assert "1381234" not in received.model_dump_json()  # the raw text stays in intake's own store


def test_times_as_chinese_exports_write_them_are_beijing_time() -> None:
    for written in (
        "2026年11月18日 09:30",
        "2026/11/18 09:30",
        "2026-11-18 09:30:00",
        "2026年11月18日9时30分",
        "2026年11月18日上午9点半",
        "2026-11-18T09:30:00",
    ):
        received = complaint({"received_at": written})
        assert received.received_at == datetime(2026, 11, 18, 1, 30, tzinfo=UTC), written
        assert IntakeFlag.RECEIVED_AT_ASSIGNED not in received.flags


def test_a_missing_or_unreadable_time_is_intakes_clock_flagged() -> None:
    for changes, drop in (({}, ("received_at",)), ({"received_at": "yesterday"}, ())):
        received = complaint(changes, drop)
        assert received.received_at == NOW and IntakeFlag.RECEIVED_AT_ASSIGNED in received.flags


def test_the_fingerprint_is_what_was_sent_not_what_intake_made_of_it() -> None:
    record = _record({"category": "城乡建设>物业管理>其他物业问题", "description": "小区化粪池满了"})
    order = parse_order(record)
    assert isinstance(order, HotlineOrder)
    submission = hotline_submission(CTX, order, record, "test")
    assert not isinstance(submission, Rejection)
    [decided] = categorise(CTX, [submission])
    assert not isinstance(decided, Outcome) and decided.category_decision is not None
    relabelled = replace(
        decided,
        category_decision=decided.category_decision.model_copy(update={"category": Category.FIRE_HAZARD}),
    )
    assert relabelled.fingerprint() == decided.fingerprint()  # a retrained classifier makes no conflicts


def test_invalid_json_is_rejected_naming_the_line_and_column_and_keeping_the_bytes() -> None:
    raw = b'{"order_no": "x",, "received_at": 1}'
    rejection = _parse(raw, line_no=42)
    assert isinstance(rejection, Rejection)
    assert rejection.reason.startswith("line 42: invalid JSON at column")
    assert rejection.payload == raw and rejection.source_ref == "line 42"


def test_each_unsafe_field_is_named() -> None:
    bad = {**VALID, "description": "漏水\u0007", "address": "<b>3号楼</b>"}
    rejection = _parse(json.dumps(bad, ensure_ascii=False).encode())
    assert isinstance(rejection, Rejection)
    assert "field 'description'" in rejection.reason and "field 'address'" in rejection.reason


def test_a_missing_order_number_is_refused() -> None:
    record = {k: v for k, v in VALID.items() if k != "order_no"}
    rejection = _parse(json.dumps(record).encode())
    assert (
        isinstance(rejection, Rejection) and "field 'order_no' (工单编号): Field required" in rejection.reason
    )


def test_a_record_that_is_not_utf8_is_refused_with_the_byte_position() -> None:
    rejection = _parse(json.dumps(VALID, ensure_ascii=False).encode("gb18030"))
    assert isinstance(rejection, Rejection) and "not UTF-8" in rejection.reason
    assert rejection.details["kind"] == "encoding"


def test_the_complaint_carries_a_masked_phone_and_a_pseudonym_never_the_name_or_number() -> None:
    received = complaint()
    published = received.model_dump_json()
    assert "13812345678" not in published and "王小明" not in published
    assert received.original is not None and received.original["caller_phone"] == "138****5678"
    assert received.caller_phone_masked == "138****5678"
    assert received.complainant_id == complainant_id("+86 138-1234-5678", "secret")
    assert received.channel is Channel.HOTLINE
    assert received.case_id == case_id_for("hotline:12345-20261118-000001")


def test_the_same_order_number_always_maps_to_the_same_case() -> None:
    assert case_id_for("hotline:A") == case_id_for("hotline:A") != case_id_for("hotline:B")


def test_street_given_by_short_name_is_resolved() -> None:
    street = load_directory().find_street("东街街道")
    assert street is not None and complaint().street_code == street.code


def test_masking_keeps_only_the_first_three_and_last_four_digits() -> None:
    assert mask_phone("13800000000") == "138****0000"
    assert mask_phone("0355-2021234") == "035****1234"
