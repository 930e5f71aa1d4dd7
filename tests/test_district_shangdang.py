"""The synthetic second district, Shangdang (上党区): its own figures, the same code shapes as Luzhou."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from district import generate
from district.directory import Directory, load_directory
from district.sample_hotline import write_synthetic_orders
from schemas.reference import Bureau, Management

SHANGDANG_PATH = generate.DATA_DIR / "shangdang.json"


@pytest.fixture(scope="module")
def shangdang() -> Directory:
    return load_directory(SHANGDANG_PATH)


@pytest.fixture(scope="module")
def luzhou() -> Directory:
    return load_directory()


# -- the planned figures -----------------------------------------------------------------------------


def test_shangdang_has_420_compounds_by_management_type(shangdang: Directory) -> None:
    assert shangdang.counts()["compounds"] == 420
    assert shangdang.count_by_management() == {
        Management.PROFESSIONAL: 150,
        Management.SELF_MANAGED: 190,
        Management.FORMERLY_UNMANAGED: 80,
    }


def test_70_companies_20_with_a_party_organisation_every_one_managing_an_estate(
    shangdang: Directory,
) -> None:
    assert len(shangdang.companies) == 70
    assert shangdang.count_companies_with_party_org() == 20
    professional = {c.company_code for c in shangdang.compounds if c.management is Management.PROFESSIONAL}
    assert professional == {company.code for company in shangdang.companies}
    assert all("上党区" in c.name_zh or "长治" in c.name_zh for c in shangdang.companies)


def test_unmanaged_compounds_are_split_by_street_area_among_three_appointed_companies(
    shangdang: Directory,
) -> None:
    appointed = {company.code for company in shangdang.appointed_companies()}
    assert len(appointed) == 3
    assert all(c.has_party_org and c.rating == 5 for c in shangdang.appointed_companies())
    streets_of: dict[str | None, set[str]] = defaultdict(set)
    for compound in shangdang.compounds:
        if compound.management is Management.FORMERLY_UNMANAGED:
            streets_of[compound.company_code].add(compound.street_code)
            company = shangdang.appointed_company_for_street(compound.street_code)
            assert company is not None and company.code == compound.company_code, compound
    assert set(streets_of) == appointed
    # Each company covers its own area: no street is shared, and together they cover every street.
    areas = list(streets_of.values())
    assert sum(len(a) for a in areas) == len(set().union(*areas)) == len(shangdang.streets)


def test_eleven_towns_of_the_former_county_with_every_member_bureau(shangdang: Directory) -> None:
    assert len(shangdang.streets) == 11
    assert {"韩店街道", "苏店镇", "荫城镇", "西火镇", "八义镇", "郝家庄镇", "南宋乡"} <= {
        s.name_zh for s in shangdang.streets
    }
    assert shangdang.find_street("郝家庄") == shangdang.find_street("郝家庄镇") is not None
    assert all(shangdang.compounds_in_community(c.code) for c in shangdang.communities)
    assert {bureau.code for bureau in shangdang.bureaus} == set(Bureau)


def test_shangdang_file_says_its_figures_are_invented(shangdang: Directory) -> None:
    assert shangdang.meta["synthetic"] is True
    assert shangdang.meta["seed"] == generate.SHANGDANG.seed != generate.SEED
    assert "NOT come from the seed article" in str(shangdang.meta["note"])
    assert "seed/" not in str(shangdang.meta["source"])


# -- district-local codes ----------------------------------------------------------------------------


def test_codes_have_the_same_shapes_in_both_districts_and_mean_different_places(
    shangdang: Directory, luzhou: Directory
) -> None:
    for kind in ("streets", "communities", "companies", "compounds"):
        shared = {r.code for r in getattr(shangdang, kind)} & {r.code for r in getattr(luzhou, kind)}
        assert shared, kind
    assert {"ST01", "ST01-CM01", "CP0001", "PC001"} <= {
        *(s.code for s in shangdang.streets),
        *(c.code for c in shangdang.communities),
        *(c.code for c in shangdang.compounds),
        *(c.code for c in shangdang.companies),
    }
    st01_sd, st01_lz = shangdang.street("ST01"), luzhou.street("ST01")
    assert st01_sd is not None and st01_lz is not None and st01_sd.name_zh != st01_lz.name_zh


def test_a_compound_name_both_districts_use_resolves_to_each_districts_own_compound(
    shangdang: Directory, luzhou: Directory
) -> None:
    shared = sorted({c.name_zh for c in shangdang.compounds} & {c.name_zh for c in luzhou.compounds})
    assert shared  # realistic: cities repeat estate names across districts
    pairs = [(shangdang.find_compound(name), luzhou.find_compound(name)) for name in shared]
    for (in_shangdang, in_luzhou), name in zip(pairs, shared, strict=True):
        assert in_shangdang is not None and in_luzhou is not None
        assert in_shangdang.name_zh == in_luzhou.name_zh == name
    # Neither the name nor the code identifies a compound city-wide: only (district, code) does.
    assert any(sd.code != lz.code for sd, lz in pairs if sd is not None and lz is not None)


# -- the generator -----------------------------------------------------------------------------------


def test_shangdang_file_regenerates_byte_identically(tmp_path: Path) -> None:
    regenerated = generate.write(tmp_path / "shangdang.json", plan=generate.SHANGDANG)
    assert regenerated.read_bytes() == SHANGDANG_PATH.read_bytes()


def test_cli_writes_one_district_where_told(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate.main(["--district", "shangdang", "--out", str(tmp_path / "sd.json")])
    assert (tmp_path / "sd.json").read_bytes() == SHANGDANG_PATH.read_bytes()
    assert "sd.json" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        generate.main(["--out", str(tmp_path / "which.json")])


def test_a_plan_the_generator_cannot_honour_is_refused_naming_the_district() -> None:
    with pytest.raises(ValueError, match=r"'shangdang'.*street areas"):
        generate.DistrictPlan(**{**vars(generate.SHANGDANG), "appointed_company_count": 4})


# -- synthetic hotline records for the district ------------------------------------------------------


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_synthetic_orders_for_shangdang_name_its_places_and_carry_the_district(
    tmp_path: Path, shangdang: Directory
) -> None:
    path = tmp_path / "orders.jsonl"
    write_synthetic_orders(path, 150, prefix="SD", district="shangdang")
    records = _records(path)
    assert len(records) == 150 and {r["district"] for r in records} == {"shangdang"}
    named = [r for r in records if r["compound"]]
    assert len(named) > 50
    for record in named:
        compound = shangdang.find_compound(record["compound"])
        assert compound is not None, record
        assert shangdang.find_compound_in_address(record["address"]) == compound, record
    assert all(shangdang.find_street(r["street"]) is not None for r in records if r["street"])
    assert not any("潞州区" in r["address"] for r in records)


def test_synthetic_orders_without_a_district_stay_untagged(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    write_synthetic_orders(path, 20, prefix="LZ")
    assert not any("district" in record for record in _records(path))
