"""One deployment serves a whole city: the district registry and the district every event carries."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace
from uuid import uuid4

import pytest
from typer.testing import CliRunner

from caseline.cli import app
from district.registry import (
    DEFAULT_REGISTRY,
    UnknownDistrict,
    load_districts,
    read_registry,
    stray_policy_files,
)
from eventcore.cloudevents import headers_for, parse_record
from eventcore.consumer import InboundMessage, decode
from schemas.base import EventMetadata
from schemas.reference import FOUNDING_DISTRICT
from tests.factories import case_opened


def test_the_city_registry_serves_luzhou_as_founding_district_and_shangdang() -> None:
    registry = load_districts()
    assert registry.codes == ("luzhou", "shangdang")
    assert registry.founding.code == FOUNDING_DISTRICT


@pytest.mark.parametrize(
    "written", ["shangdang", "上党区", "上党", "Shangdang District", " ＳＨＡＮＧＤＡＮＧ "]
)
def test_a_district_is_found_by_code_or_by_the_name_outside_systems_write(written: str) -> None:
    assert load_districts().find(written).code == "shangdang"


def test_an_unknown_district_names_the_districts_the_deployment_serves() -> None:
    with pytest.raises(
        UnknownDistrict, match=r"unknown district '朝阳区': this deployment serves luzhou, shangdang"
    ):
        load_districts().find("朝阳区")
    with pytest.raises(UnknownDistrict, match="unknown district 'xinhe'"):
        load_districts().get("xinhe")


def test_founding_district_ids_stay_as_they_were_and_other_districts_ids_carry_their_prefix() -> None:
    registry = load_districts()
    assert registry.get("luzhou").scoped_id("petition:XF-1") == "petition:XF-1"
    assert registry.get("shangdang").scoped_id("petition:XF-1") == "shangdang/petition:XF-1"


def test_directory_codes_are_district_local_so_the_same_street_code_names_two_streets() -> None:
    registry = load_districts()
    luzhou_st01 = registry.directory("luzhou").street("ST01")
    shangdang_st01 = registry.directory("shangdang").street("ST01")
    assert luzhou_st01 is not None and shangdang_st01 is not None
    assert luzhou_st01.name_zh != shangdang_st01.name_zh


def _registry_text(founding: str = "luzhou", prefix: str = "shangdang/", code: str = "shangdang") -> str:
    return (
        f"founding: {founding}\n"
        "districts:\n"
        "  luzhou: {name_zh: 潞州区, name_en: Luzhou District, directory: data/luzhou.json, id_prefix: ''}\n"
        f"  {code}: {{name_zh: 上党区, name_en: Shangdang District, directory: data/shangdang.json, "
        f"id_prefix: '{prefix}'}}\n"
    )


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (_registry_text(founding="changzhi"), "founding district 'changzhi' is not listed"),
        (_registry_text(prefix=""), "two districts share an id_prefix"),
        (_registry_text(code="Shang-Dang"), "districts.Shang-Dang"),
        ("founding: [", "not valid YAML"),
    ],
)
def test_a_broken_registry_is_refused_with_the_reason(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "districts.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=complaint):
        read_registry(path)


def test_directories_are_found_next_to_the_registry_file(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_REGISTRY.parent / "data", tmp_path / "data")
    (tmp_path / "districts.yaml").write_text(_registry_text(), encoding="utf-8")
    registry = read_registry(tmp_path / "districts.yaml")
    assert registry.get("shangdang").directory_path == tmp_path / "data" / "shangdang.json"
    assert registry.directory("shangdang").counts()["compounds"] > 0


def test_caseline_districts_list_shows_each_district_and_fails_on_a_broken_directory(tmp_path: Path) -> None:
    listed = CliRunner().invoke(app, ["districts", "list"], env={"COLUMNS": "300"})
    assert listed.exit_code == 0, listed.output
    assert "luzhou (founding)" in listed.output and "上党区 Shangdang District" in listed.output
    assert "1,151" in listed.output  # Luzhou's compounds, from the seed

    (tmp_path / "data").mkdir()
    shutil.copy(DEFAULT_REGISTRY.parent / "data" / "luzhou.json", tmp_path / "data")
    (tmp_path / "data" / "shangdang.json").write_text("{}", encoding="utf-8")
    (tmp_path / "districts.yaml").write_text(_registry_text(), encoding="utf-8")
    broken = CliRunner().invoke(
        app,
        ["districts", "list"],
        env={"COLUMNS": "300", "CASELINE_DISTRICTS_FILE": str(tmp_path / "districts.yaml")},
    )
    assert broken.exit_code == 1
    assert "wrong layout" in broken.output


def _record(headers: dict[str, str], value: bytes) -> SimpleNamespace:
    return SimpleNamespace(
        topic="caseline.cases.v1",
        partition=0,
        offset=7,
        key=b"k",
        headers=[(name, text.encode()) for name, text in headers.items()],
        value=value,
    )


def test_every_event_carries_its_district_in_the_ce_district_header_and_effects_inherit_it() -> None:
    event = case_opened("case-1").event.model_copy(update={"district": "shangdang"})
    metadata = EventMetadata(correlation_id="c-1", actor="intake", district="shangdang")
    headers = headers_for(event_id=uuid4(), event=event, metadata=metadata, source="/caseline/routing")
    assert headers["ce_district"] == "shangdang"

    message = decode(_record(headers, event.model_dump_json().encode()))
    assert isinstance(message, InboundMessage)
    assert getattr(message.event, "district", None) == "shangdang"
    caused = message.metadata_for_effects("routing", "fallback")
    assert (caused.district, caused.correlation_id, caused.actor) == ("shangdang", "c-1", "routing")


def test_a_record_published_before_districts_existed_belongs_to_the_founding_district() -> None:
    event = case_opened("case-2").event
    headers = headers_for(
        event_id=uuid4(), event=event, metadata=EventMetadata(correlation_id="c", actor="intake"), source="s"
    )
    del headers["ce_district"]
    assert parse_record(_record(headers, b"{}").headers, b"{}").district == FOUNDING_DISTRICT


def test_a_policy_file_naming_no_served_district_is_reported_as_stray(tmp_path: Path) -> None:
    default = tmp_path / "sla_policy.yaml"
    for name in ("sla_policy.yaml", "sla_policy.shangdang.yaml", "sla_policy.shangdnag.yaml", "other.x.yaml"):
        (tmp_path / name).write_text("version: x\n", encoding="utf-8")
    assert stray_policy_files(default, ["luzhou", "shangdang"]) == {
        tmp_path / "sla_policy.shangdnag.yaml": "shangdnag"
    }
