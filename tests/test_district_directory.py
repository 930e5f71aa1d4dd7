"""The district directory holds the seed's Luzhou District, and the sample hotline feed counts what it says."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from district import generate, platform_export, sample_hotline
from district.directory import (
    DEFAULT_PATH,
    Community,
    Compound,
    Directory,
    MemberBureau,
    PropertyCompany,
    Street,
    load_directory,
)
from schemas.reference import (
    BUREAU_LABELS_ZH,
    Bureau,
    Management,
)

SAMPLE = sample_hotline.SAMPLES_DIR / sample_hotline.FEED_NAME
SAMPLE_EXPECTED = sample_hotline.SAMPLES_DIR / sample_hotline.EXPECTED_NAME


@pytest.fixture(scope="module")
def luzhou() -> Directory:
    return load_directory()


# -- the seed's figures ------------------------------------------------------------------------------


def test_directory_holds_the_seeds_1151_compounds_by_management_type(luzhou: Directory) -> None:
    assert luzhou.counts()["compounds"] == 1151
    assert luzhou.count_by_management() == {
        Management.PROFESSIONAL: 504,
        Management.SELF_MANAGED: 520,
        Management.FORMERLY_UNMANAGED: 127,
    }


def test_185_companies_51_with_a_party_organisation(luzhou: Directory) -> None:
    assert len(luzhou.companies) == 185
    assert luzhou.count_companies_with_party_org() == 51
    assert all(1 <= company.rating <= 5 for company in luzhou.companies)


def test_unmanaged_compounds_are_split_by_street_among_five_appointed_companies(luzhou: Directory) -> None:
    appointed = {company.code for company in luzhou.appointed_companies()}
    assert len(appointed) == 5
    companies_per_street: dict[str, set[str | None]] = defaultdict(set)
    unmanaged = [c for c in luzhou.compounds if c.management is Management.FORMERLY_UNMANAGED]
    for compound in unmanaged:
        companies_per_street[compound.street_code].add(compound.company_code)
    assert len(unmanaged) == 127
    assert all(len(codes) == 1 for codes in companies_per_street.values()), companies_per_street
    assert set().union(*companies_per_street.values()) == appointed
    for street_code, codes in companies_per_street.items():
        company = luzhou.appointed_company_for_street(street_code)
        assert company is not None and {company.code} == codes


def test_16_streets_and_towns_each_with_4_to_12_communities(luzhou: Directory) -> None:
    assert len(luzhou.streets) == 16
    for street in luzhou.streets:
        assert 4 <= len(luzhou.communities_in_street(street.code)) <= 12, street.name_zh
    assert {"东街街道", "英雄中路街道", "马厂镇", "西白兔乡"} <= {s.name_zh for s in luzhou.streets}


def test_every_community_belongs_to_a_known_street(luzhou: Directory) -> None:
    for community in luzhou.communities:
        assert luzhou.street(community.street_code) is not None, community


def test_every_compound_sits_in_a_community_of_its_own_street(luzhou: Directory) -> None:
    for compound in luzhou.compounds:
        community = luzhou.community(compound.community_code)
        assert community is not None and community.street_code == compound.street_code, compound
    assert all(luzhou.compounds_in_community(c.code) for c in luzhou.communities)


def test_who_manages_each_compound_follows_its_management_type(luzhou: Directory) -> None:
    for compound in luzhou.compounds:
        if compound.management is Management.SELF_MANAGED:
            assert compound.company_code is None, compound
        else:
            assert compound.company_code is not None and luzhou.company(compound.company_code) is not None
    professional = {c.company_code for c in luzhou.compounds if c.management is Management.PROFESSIONAL}
    assert professional == {company.code for company in luzhou.companies}


def test_joint_meeting_has_the_nine_member_bureaus(luzhou: Directory) -> None:
    assert {bureau.code for bureau in luzhou.bureaus} == set(Bureau)
    assert luzhou.bureau(Bureau.FIRE_RESCUE).name_zh == BUREAU_LABELS_ZH[Bureau.FIRE_RESCUE]


def test_compound_names_are_unique_and_each_has_one_or_two_aliases(luzhou: Directory) -> None:
    names = [c.name_zh for c in luzhou.compounds]
    aliases = [a for c in luzhou.compounds for a in c.aliases]
    assert len(set(names)) == len(names)
    assert len(set(aliases)) == len(aliases) and not set(aliases) & set(names)
    assert all(1 <= len(c.aliases) <= 2 for c in luzhou.compounds)


def test_directory_file_declares_itself_synthetic(luzhou: Directory) -> None:
    assert luzhou.meta["synthetic"] is True
    assert luzhou.meta["seed"] == generate.SEED


def test_default_directory_is_read_once(luzhou: Directory) -> None:
    assert load_directory() is luzhou


# -- the generator -----------------------------------------------------------------------------------


def test_generator_is_deterministic(tmp_path: Path) -> None:
    regenerated = generate.write(tmp_path / "luzhou.json")
    assert regenerated.read_bytes() == DEFAULT_PATH.read_bytes()
    assert DEFAULT_PATH.stat().st_size < 600_000


def test_apportion_keeps_the_total() -> None:
    assert generate.apportion(127, [9, 8, 9, 7]) == [35, 31, 34, 27]
    assert sum(generate.apportion(1151, [5, 7, 11])) == 1151


# -- finding places in what callers say --------------------------------------------------------------


def test_compound_found_in_messy_address(luzhou: Directory) -> None:
    compound = next(c for c in luzhou.compounds if c.management is Management.PROFESSIONAL)
    spaced = "\u3000".join(compound.name_zh)
    address = f" 长治市潞州区 英雄中路 128号{spaced} 3号楼2单元\t501室 "
    assert luzhou.find_compound_in_address(address) == compound


def test_every_compound_is_found_by_its_name_in_an_address(luzhou: Directory) -> None:
    for compound in luzhou.compounds:
        assert luzhou.find_compound_in_address(f"潞州区八一路3号{compound.name_zh}东门") == compound


def test_address_without_a_compound_finds_none(luzhou: Directory) -> None:
    assert luzhou.find_compound_in_address("长治市潞州区英雄中路与太行西街交叉口菜市场门口") is None
    assert luzhou.find_compound_in_address("") is None


def test_street_found_by_short_name(luzhou: Directory) -> None:
    yingxiong = luzhou.find_street("英雄中路街道")
    assert yingxiong is not None
    assert luzhou.find_street("英雄中路") == yingxiong
    assert luzhou.find_street(f" {yingxiong.code} ") == yingxiong
    machang = luzhou.find_street("马厂")
    assert machang is not None and machang.name_zh == "马厂镇"
    xibaitu = luzhou.find_street("西白兔")
    assert xibaitu is not None and xibaitu.name_zh == "西白兔乡"
    assert luzhou.find_street("东 街") == luzhou.find_street("东街街道") != luzhou.find_street("太行东街")
    assert luzhou.find_street("朝阳街道") is None


def test_compound_found_by_code_name_or_alias_ignoring_whitespace(luzhou: Directory) -> None:
    compound = luzhou.compounds[42]
    assert luzhou.find_compound(compound.code) == compound
    assert luzhou.find_compound(" ".join(compound.name_zh)) == compound
    for alias in compound.aliases:
        assert luzhou.find_compound(alias) == compound
    assert luzhou.find_compound("不存在的小区") is None


def _tiny(compounds: list[Compound], *, streets: list[Street] | None = None) -> Directory:
    return Directory(
        streets=streets or [Street(code="S1", name_zh="东街街道", name_en="Dongjie Subdistrict")],
        communities=[Community(code="S1-C1", name_zh="府后社区", street_code="S1")],
        companies=[
            PropertyCompany(
                code="P1", name_zh="甲物业", has_party_org=True, appointed_for_unmanaged=True, rating=5
            ),
            PropertyCompany(
                code="P2", name_zh="乙物业", has_party_org=False, appointed_for_unmanaged=False, rating=3
            ),
        ],
        compounds=compounds,
        bureaus=[MemberBureau(code=b, name_zh=BUREAU_LABELS_ZH[b]) for b in Bureau],
    )


def _compound(code: str, name: str, *aliases: str, **changes: Any) -> Compound:
    fields: dict[str, Any] = {
        "code": code,
        "name_zh": name,
        "aliases": aliases,
        "community_code": "S1-C1",
        "street_code": "S1",
        "management": Management.PROFESSIONAL,
        "company_code": "P2",
        "buildings": 3,
    }
    return Compound(**{**fields, **changes})


def test_longest_name_wins_and_short_aliases_do_not_match_road_names() -> None:
    tiny = _tiny(
        [
            _compound("K1", "太行苑", "太行"),
            _compound("K2", "新太行苑"),
            _compound("K3", "和平小区", "和平"),
            _compound("K4", "锦绣花园", "锦绣"),
        ]
    )
    assert tiny.find_compound_in_address("太行东街8号新太行苑5号楼") == tiny.compound("K2")
    assert tiny.find_compound_in_address("和平路8号锦绣花园3号楼") == tiny.compound("K4")
    assert tiny.find_compound_in_address("和平路8号") is None
    assert tiny.find_compound("和平") == tiny.compound("K3")
    # Equal length: the one the caller wrote first.
    assert tiny.find_compound_in_address("锦绣花园对面和平小区") == tiny.compound("K4")
    assert tiny.find_compound_in_address("和平小区对面锦绣花园") == tiny.compound("K3")


def test_formerly_unmanaged_compound_needs_an_appointed_company() -> None:
    with pytest.raises(ValueError, match="not appointed"):
        _tiny([_compound("K1", "太行苑", management=Management.FORMERLY_UNMANAGED, company_code="P2")])
    _tiny([_compound("K1", "太行苑", management=Management.FORMERLY_UNMANAGED, company_code="P1")])


def test_two_compounds_may_not_share_an_alias() -> None:
    with pytest.raises(ValueError, match="'太行'"):
        _tiny([_compound("K1", "太行苑", "太行"), _compound("K2", "太行花园", "太行")])


# -- refusing a bad file -----------------------------------------------------------------------------


def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DEFAULT_PATH.read_text(encoding="utf-8"))
    return document


def _break_community_street(doc: dict[str, Any]) -> None:
    doc["communities"][0]["street_code"] = "ST99"


def _break_compound_company(doc: dict[str, Any]) -> None:
    next(c for c in doc["compounds"] if c["management"] == "professional")["company_code"] = "PC999"


def _break_rating(doc: dict[str, Any]) -> None:
    doc["companies"][0]["rating"] = 7


def _drop_bureau(doc: dict[str, Any]) -> None:
    doc["bureaus"] = [b for b in doc["bureaus"] if b["code"] != "fire_rescue"]


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        (_break_community_street, "points at unknown street 'ST99'"),
        (_break_compound_company, "points at unknown company 'PC999'"),
        (_break_rating, "companies.0.rating"),
        (_drop_bureau, "members missing: fire_rescue"),
    ],
)
def test_malformed_directory_file_is_refused_with_the_reason(
    tmp_path: Path, breakage: Any, reason: str
) -> None:
    doc = _document()
    breakage(doc)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ValueError, match="broken.json") as refused:
        load_directory(path)
    assert reason in str(refused.value)


def test_file_that_is_not_json_is_refused_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text(DEFAULT_PATH.read_text(encoding="utf-8")[:5000], encoding="utf-8")
    with pytest.raises(ValueError, match=r"cut\.json: not valid UTF-8 JSON"):
        load_directory(path)
    with pytest.raises(ValueError, match="file not found"):
        load_directory(tmp_path / "missing.json")


# -- the sample hotline feed -------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _defect(raw: bytes) -> tuple[str | None, dict[str, Any]]:
    """Why a hotline line cannot become a complaint (None if it can), judged independently of the generator:
    only what a person could not use either (unreadable, no order number, nothing said, unsafe text)."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "encoding", {}
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return ("invalid_json" if line.rstrip().endswith("}") else "truncated"), {}
    description = str(record.get("description", ""))
    checks: list[tuple[bool, str]] = [
        (not record.get("order_no"), "missing_field"),
        (not description.strip() and "其他" in str(record.get("category", "")), "no_problem_stated"),
        (bool(_CONTROL.search(description)), "control_characters"),
        ("<script" in description, "markup"),
        (record.get("district", "") not in ("", "luzhou", "shangdang"), "unknown_district"),
    ]
    for failed, reason in checks:
        if failed:
            return reason, record
    return None, record


def _recount(path: Path) -> dict[str, Any]:
    lines = path.read_bytes().splitlines()
    bad: dict[str, str] = {}
    first_seen: dict[str, bytes] = {}
    duplicates: list[int] = []
    for number, line in enumerate(lines, start=1):
        reason, record = _defect(line)
        if reason is not None:
            bad[str(number)] = reason
        elif record["order_no"] in first_seen:
            assert first_seen[record["order_no"]] == line, (
                f"line {number} reuses an order_no with new content"
            )
            duplicates.append(number)
        else:
            first_seen[record["order_no"]] = line
    return {
        "total_lines": len(lines),
        "bad_lines": len(bad),
        "duplicates": len(duplicates),
        "unique_valid": len(first_seen),
        "bad_line_numbers": bad,
        "duplicate_line_numbers": duplicates,
    }


def _valid_records() -> list[dict[str, Any]]:
    return [
        record
        for line in SAMPLE.read_bytes().splitlines()
        if (found := _defect(line))[0] is None
        for record in [found[1]]
    ]


def test_sample_expected_counts_match_a_recount_of_the_sample() -> None:
    expected = json.loads(SAMPLE_EXPECTED.read_text(encoding="utf-8"))
    recount = _recount(SAMPLE)
    assert {key: expected[key] for key in recount} == recount
    assert (expected["total_lines"], expected["bad_lines"], expected["duplicates"]) == (300, 8, 12)
    assert expected["unique_valid"] == 300 - 8 - 12


def test_sample_bad_lines_are_each_wrong_in_a_different_way() -> None:
    reasons = list(_recount(SAMPLE)["bad_line_numbers"].values())
    assert sorted(reasons) == sorted(sample_hotline.BAD_LINES)


def test_sample_is_a_platform_export_in_its_own_taxonomy_and_words() -> None:
    expected = json.loads(SAMPLE_EXPECTED.read_text(encoding="utf-8"))
    assert min(expected["by_category"].values()) >= 8 and expected["cross_department"] >= 30
    records = _valid_records()
    leaves = {re.split(r"›|>|/|-|＞|\|", r["category"])[-1].strip() for r in records if r["category"]}
    assert len(leaves & platform_export.platform_labels()) >= 40
    assert any(">" in r["category"] or "›" in r["category"] for r in records)
    assert any(r["category_code"] and not r["category"] for r in records)
    assert any(not r["category"] and not r["category_code"] for r in records)
    assert {"投诉", "举报", "咨询", "求助"} <= {r["kind"] for r in records}
    assert any(r["caller_phone"].startswith("0355") for r in records)
    assert any("转" in r["caller_phone"] for r in records)
    assert any("年" in r["received_at"] for r in records) and any("/" in r["received_at"] for r in records)


def test_sample_places_are_in_the_directory(luzhou: Directory) -> None:
    records = _valid_records()
    for record in records:
        assert not record["street"] or luzhou.find_street(record["street"]) is not None, record
        if record["compound"]:
            compound = luzhou.find_compound(record["compound"])
            assert compound is not None and luzhou.find_compound_in_address(record["address"]) == compound
    assert any(not r["compound"] and r["street"] for r in records)
    assert any(not r["compound"] and not r["street"] for r in records)


def test_sample_generator_is_deterministic(tmp_path: Path) -> None:
    feed, expected = sample_hotline.write(tmp_path)
    assert feed.read_bytes() == SAMPLE.read_bytes()
    assert expected.read_bytes() == SAMPLE_EXPECTED.read_bytes()
    csv_name = sample_hotline.CSV_NAME
    assert (tmp_path / csv_name).read_bytes() == (sample_hotline.SAMPLES_DIR / csv_name).read_bytes()
