"""Reading hotline work orders: what is accepted, and how refusals name the line and the field."""

from __future__ import annotations

import json

from district.directory import Directory, load_directory
from eventcore.deadletters import Rejection
from schemas.complaints import ComplaintReceived
from schemas.hotline import HotlineOrder
from schemas.reference import Category, Channel
from services.intake.adapters.hotline_file import FileRecord, parse_order
from services.intake.domain.addresses import resolve_location
from services.intake.domain.channels import from_hotline_order
from services.intake.domain.complaints import case_id_for, received_complaint
from services.intake.domain.personal_data import complainant_id, mask_phone

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


def receive_hotline_order(order: HotlineOrder, directory: Directory, secret: str) -> ComplaintReceived:
    submission = from_hotline_order(order, actor="test", raw=b"", original=order.model_dump(mode="json"))
    location = resolve_location(
        directory, compound_text=order.compound, street_text=order.street, address=order.address
    )
    return received_complaint(submission, location, secret)


def _parse(line: bytes, line_no: int = 7) -> HotlineOrder | Rejection:
    return parse_order(FileRecord("hotline-file:test.jsonl", line_no, line))


def test_a_chinese_category_label_is_accepted_as_the_category() -> None:
    order = _parse(json.dumps(VALID, ensure_ascii=False).encode())
    assert isinstance(order, HotlineOrder) and order.category is Category.FIRE_HAZARD


def test_invalid_json_is_rejected_naming_the_line_and_column_and_keeping_the_bytes() -> None:
    raw = b'{"order_no": "x",, "received_at": 1}'
    rejection = _parse(raw, line_no=42)
    assert isinstance(rejection, Rejection)
    assert rejection.reason.startswith("line 42: invalid JSON at column")
    assert rejection.payload == raw and rejection.source_ref == "line 42"


def test_each_wrong_field_is_named() -> None:
    bad = {**VALID, "received_at": "yesterday", "urgency": "whenever"}
    rejection = _parse(json.dumps(bad).encode())
    assert isinstance(rejection, Rejection)
    assert "field 'received_at'" in rejection.reason and "field 'urgency'" in rejection.reason


def test_a_time_without_offset_is_refused_because_it_is_ambiguous() -> None:
    rejection = _parse(json.dumps({**VALID, "received_at": "2026-11-18T09:30:00"}).encode())
    assert isinstance(rejection, Rejection) and "UTC offset" in rejection.reason


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
    order = HotlineOrder.model_validate(VALID)
    complaint = receive_hotline_order(order, load_directory(), "secret")
    published = complaint.model_dump_json()
    assert "13812345678" not in published and "王小明" not in published
    assert complaint.original is not None and complaint.original["caller_phone"] == "138****5678"
    assert complaint.caller_phone_masked == "138****5678"
    assert complaint.complainant_id == complainant_id("+86 138-1234-5678", "secret")
    assert complaint.channel is Channel.HOTLINE
    assert complaint.case_id == case_id_for("hotline:12345-20261118-000001")


def test_the_same_order_number_always_maps_to_the_same_case() -> None:
    assert case_id_for("hotline:A") == case_id_for("hotline:A") != case_id_for("hotline:B")


def test_street_given_by_short_name_is_resolved() -> None:
    complaint = receive_hotline_order(HotlineOrder.model_validate(VALID), load_directory(), "secret")
    street = load_directory().find_street("东街街道")
    assert street is not None and complaint.street_code == street.code


def test_masking_keeps_only_the_first_three_and_last_four_digits() -> None:
    assert mask_phone("13800000000") == "138****0000"
    assert mask_phone("0355-2021234") == "035****1234"
