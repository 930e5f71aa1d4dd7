"""Hotline exports as the platforms write them: CSV with Chinese headers in GB18030 or UTF-8 with a BOM, JSON
lines, and every way a record can be wrong, each named with its line."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventcore.deadletters import Rejection
from schemas.hotline import CSV_HEADER_SYNONYMS_ZH, CSV_HEADERS_ZH, HotlineOrder
from services.intake.adapters.hotline_file import detect_encoding, parse_order, read_hotline_file

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ORDER: dict[str, Any] = {
    "order_no": "12345-20261120-000101",
    "received_at": "2026-11-20T10:15:00+08:00",
    "caller_name": "张三",
    "caller_phone": "13812345678",
    "kind": "complaint",
    "category": "sanitation",
    "description": "楼下垃圾三天没人清运",
    "address": "东街街道丰河华庭3号楼",
    "street": "东街",
    "compound": "",
    "urgency": "normal",
}
CSV_ROW_ZH = {
    "工单编号": "12345-20261120-000102",
    "来电时间": "2026-11-20 10:15:00",
    "来电人": "王五",
    "联系电话": "0355-2021234",
    "诉求类型": "举报",
    "问题分类": "私搭乱建",
    "问题描述": "一楼住户在绿地上私搭彩钢房，多次反映无人管",
    "事发地址": "丰河华庭7号楼东侧",
    "所属街道": "东街街道",
    "所属小区": "丰河华庭",
    "紧急程度": "紧急",
}


def outcomes(path: Path, as_of: datetime | None = NOW) -> list[HotlineOrder | Rejection]:
    return [parse_order(record, as_of=as_of) for record in read_hotline_file(path)]


def csv_text(rows: list[dict[str, str]], header: list[str] | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header or list(CSV_ROW_ZH))
    for row in rows:
        writer.writerow(row.values())
    return out.getvalue()


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-8"])
def test_a_csv_export_with_chinese_headers_is_read_in_gb18030_and_utf8_with_or_without_bom(
    tmp_path: Path, encoding: str
) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(csv_text([CSV_ROW_ZH, {**CSV_ROW_ZH, "工单编号": "X-2"}]).encode(encoding))
    assert detect_encoding(path) == encoding
    first, second = outcomes(path)
    assert isinstance(first, HotlineOrder) and isinstance(second, HotlineOrder)
    # Labels stay as the platform wrote them; intake reads them (tests/test_hotline_intake.py).
    assert (first.category, first.kind, first.urgency, first.caller_name) == ("私搭乱建", "举报", "紧急", "王五")
    assert first.received_at is not None
    assert first.received_at.isoformat() == "2026-11-20T10:15:00+08:00"  # platform local time is Beijing time


def test_english_headers_and_a_description_spanning_lines_keep_later_line_numbers_right(
    tmp_path: Path,
) -> None:
    rows = [
        {**ORDER, "description": "第一行\n第二行"},
        {**ORDER, "order_no": "B", "address": "<b>3号楼</b>"},
    ]
    path = tmp_path / "export.csv"
    path.write_text(
        csv_text([{k: str(v) for k, v in r.items()} for r in rows], list(ORDER)), encoding="utf-8"
    )
    first, second = outcomes(path)
    assert isinstance(first, HotlineOrder) and first.description == "第一行\n第二行"
    assert isinstance(second, Rejection) and second.reason.startswith(
        "line 4: field 'address' (事发地址)"
    )


def test_a_gb18030_json_lines_file_is_detected_not_misread(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_bytes((json.dumps(ORDER, ensure_ascii=False) + "\n").encode("gb18030"))
    [order] = outcomes(path)
    assert detect_encoding(path) == "gb18030"
    assert isinstance(order, HotlineOrder) and order.caller_name == "张三"


def _line(**changes: Any) -> str:
    return json.dumps({**ORDER, **changes}, ensure_ascii=False)


# What still refuses a line (identity, unreadable records, text safety, limits). A mistyped phone, an unknown
# category or kind and a time in Chinese are read instead (tests/test_hotline_intake.py).
BAD_JSON_LINES: dict[str, str] = {
    "missing_field": json.dumps({k: v for k, v in ORDER.items() if k != "order_no"}, ensure_ascii=False),
    "empty_field": _line(order_no="   "),
    "future_time": _line(received_at="2026-11-28T09:00:00+08:00"),
    "too_long": _line(description="很" * 4001),
    "control_characters": _line(description="漏水\u0007严重"),
    "duplicate_key": '{"order_no": "A", "order_no": "B"}',
    "markup": _line(description='<img src=x onerror="alert(1)">'),
    "invalid_json": '{"order_no": "A",, }',
}


def test_what_used_to_be_refused_is_now_read(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    lenient = [
        _line(received_at="2026年11月20日上午10点"),
        _line(caller_phone="138-1234"),
        _line(category="traffic_violation"),
        _line(kind="表扬类", urgency="特急"),
        json.dumps({k: v for k, v in ORDER.items() if k not in ("caller_phone", "received_at")}, ensure_ascii=False),
    ]
    path.write_text("".join(line + "\n" for line in lenient), encoding="utf-8")
    assert all(isinstance(result, HotlineOrder) for result in outcomes(path))


@pytest.mark.parametrize("kind", sorted(BAD_JSON_LINES))
def test_each_kind_of_bad_record_is_named_with_its_line_and_keeps_its_bytes(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text(_line() + "\n" + BAD_JSON_LINES[kind] + "\n", encoding="utf-8")
    good, bad = outcomes(path)
    assert isinstance(good, HotlineOrder)
    assert isinstance(bad, Rejection), kind
    assert bad.details["kind"] == kind and bad.reason.startswith("line 2: ")
    assert bad.payload == BAD_JSON_LINES[kind].encode() and bad.source_ref == "line 2"
    assert "13812345678" not in bad.reason  # reasons reach logs: never the number


def test_a_line_in_another_encoding_is_refused_without_losing_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        (_line() + "\n").encode()
        + (_line(order_no="GBK") + "\n").encode("gb18030")
        + (_line(order_no="Z") + "\n").encode()
    )
    first, bad, last = outcomes(path)
    assert isinstance(first, HotlineOrder) and isinstance(last, HotlineOrder)
    assert (
        isinstance(bad, Rejection)
        and bad.details["kind"] == "encoding"
        and "line 2: not valid UTF-8" in bad.reason
    )


def test_a_truncated_file_names_its_last_record_as_cut_off(tmp_path: Path) -> None:
    jsonl, csv_file = tmp_path / "cut.jsonl", tmp_path / "cut.csv"
    jsonl.write_text(_line() + "\n" + _line(order_no="LAST")[:60], encoding="utf-8")
    text = csv_text([CSV_ROW_ZH, CSV_ROW_ZH])
    csv_file.write_bytes(text[: text.rindex("东街街道")].encode("gb18030"))
    for path in (jsonl, csv_file):
        *_, last = outcomes(path)
        assert isinstance(last, Rejection) and last.details["kind"] == "truncated", path.name
        assert "the file ends inside this record" in last.reason


def test_a_csv_header_naming_a_column_twice_refuses_every_row_and_says_which(tmp_path: Path) -> None:
    header = [*CSV_ROW_ZH, "联系电话"]
    path = tmp_path / "dup.csv"
    path.write_text(csv_text([{**CSV_ROW_ZH, "extra": "13800000000"}], header), encoding="utf-8")
    [bad] = outcomes(path)
    assert isinstance(bad, Rejection) and bad.details["kind"] == "duplicate_key"
    assert "联系电话" in bad.reason and bad.details["header"].startswith("工单编号")


def test_a_csv_row_with_missing_columns_mid_file_is_refused_and_the_next_row_read(tmp_path: Path) -> None:
    text = csv_text([CSV_ROW_ZH]) + "X-9,2026-11-20 10:15:00\r\n" + csv_text([CSV_ROW_ZH]).split("\r\n", 1)[1]
    path = tmp_path / "short.csv"
    path.write_text(text, encoding="utf-8")
    first, short, last = outcomes(path)
    assert isinstance(short, Rejection) and short.details["kind"] == "invalid_csv"
    assert short.reason == f"line 3: 2 columns, the header has {len(CSV_ROW_ZH)}"
    assert isinstance(first, HotlineOrder) and isinstance(last, HotlineOrder)


def test_time_checks_use_the_given_instant_and_files_of_past_periods_can_skip_them(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_text(_line(received_at=(NOW + timedelta(days=1)).isoformat()) + "\n", encoding="utf-8")
    assert isinstance(outcomes(path)[0], Rejection)
    assert isinstance(outcomes(path, as_of=None)[0], HotlineOrder)


def test_the_chinese_headers_cover_every_field_of_a_work_order() -> None:
    assert set(CSV_HEADERS_ZH.values()) == set(HotlineOrder.model_fields)
    assert set(CSV_HEADER_SYNONYMS_ZH.values()) <= set(HotlineOrder.model_fields)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.binary(max_size=120) | st.text(max_size=80).map(str.encode), min_size=1, max_size=6))
def test_no_bytes_whatsoever_make_the_reader_fail_every_line_is_a_complaint_or_a_named_refusal(
    tmp_path: Path, lines: list[bytes]
) -> None:
    for name, first in (("fuzz.jsonl", _line().encode()), ("fuzz.csv", ",".join(CSV_ROW_ZH).encode())):
        path = tmp_path / name
        path.write_bytes(b"\n".join([first, *lines]))
        for result in outcomes(path):
            assert isinstance(result, HotlineOrder | Rejection)
            if isinstance(result, Rejection):
                assert result.details["kind"] and result.reason.startswith("line ")
