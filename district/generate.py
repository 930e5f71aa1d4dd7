"""Generate the synthetic district directories: `python -m district.generate [--district CODE [--out PATH]]`.

A `DistrictPlan` holds everything that differs between districts (figures, streets, seed, company name
forms, provenance); the same generator turns each plan into a deterministic, sorted JSON file under
district/data/<code>.json, so a checked-in file can be regenerated and diffed.

`LUZHOU` (潞州区, the founding district): the figures come from the seed article
(seed/000_ec9b9905728da9f1.txt): 16 streets and towns, 1,151 compounds (504 with a professional property
company, 520 self-managed, 127 formerly unmanaged), 185 property companies of which 51 have a Party
organisation, and 5 companies appointed to the 127 formerly unmanaged compounds, split by street area.
The 16 street and town names are real place names of the Luzhou District area as far as we know, but the
seed does not list them and the official division may differ (it has been reorganised since the 2018
merger).

`SHANGDANG` (上党区, the former 长治县): a second district for multi-district tenancy. Its figures are
invented, not from the seed article: 11 streets and towns, 420 compounds (150 professional, 190
self-managed, 80 formerly unmanaged), 70 property companies of which 20 have a Party organisation, and 3
appointed companies split by street area. The town names are those of the former county as far as we
know; the official division may differ.

In both plans every community, compound and company name, every code, the street areas, ratings and
building counts are synthetic. Codes have the same shapes in every district (ST01, ST01-CM01, CP0001,
PC001) on purpose: they are district-local, and the system must scope them by district. For the same
reason compound names may coincide across districts, as they do in real cities.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from district.directory import (
    DEFAULT_PATH,
    Community,
    Compound,
    Directory,
    MemberBureau,
    PropertyCompany,
    Street,
)
from schemas.reference import BUREAU_LABELS_ZH, Bureau, Management

DATA_DIR = DEFAULT_PATH.parent


@dataclass(frozen=True)
class StreetPlan:
    """One street or town and how its compounds lean: weights per management type, communities, area."""

    name_zh: str
    name_en: str
    communities: int
    professional: int
    self_managed: int
    unmanaged: int
    area: int  # which appointed company takes over its formerly unmanaged compounds (0..appointed-1)


@dataclass(frozen=True)
class DistrictPlan:
    """Everything that makes one district's directory differ from another's."""

    code: str
    name_zh: str
    name_en: str
    seed: int
    streets: tuple[StreetPlan, ...]
    compounds_by_management: Mapping[Management, int]
    company_count: int
    companies_with_party_org: int
    appointed_company_count: int
    company_forms: tuple[str, ...]
    note: str
    source: str

    def __post_init__(self) -> None:
        # A plan the generator cannot honour fails here, naming the district, not deep in the generator.
        problems = [
            message
            for failed, message in (
                (
                    {s.area for s in self.streets} != set(range(self.appointed_company_count)),
                    "street areas must be exactly 0..appointed_company_count-1",
                ),
                (
                    self.companies_with_party_org < self.appointed_company_count,
                    "every appointed company has a Party organisation",
                ),
                (
                    self.compounds_by_management[Management.PROFESSIONAL] < self.company_count,
                    "every company needs at least one professional compound",
                ),
                (set(self.compounds_by_management) != set(Management), "a count per management type"),
            )
            if failed
        ]
        if problems:
            raise ValueError(f"district plan {self.code!r}: {'; '.join(problems)}")

    def compounds(self, management: Management) -> int:
        return self.compounds_by_management[management]

    @property
    def compound_count(self) -> int:
        return sum(self.compounds_by_management.values())


# Weights are synthetic: the old town centre has many unit-built, self-managed and unmanaged compounds;
# the newer streets have more professionally managed estates; the towns have few compounds.
LUZHOU = DistrictPlan(
    code="luzhou",
    name_zh="潞州区",
    name_en="Luzhou District",
    seed=3_561_050,  # 356 km², 1.05 million people
    streets=(
        StreetPlan("东街街道", "Dongjie Subdistrict", 9, 5, 9, 9, 0),
        StreetPlan("西街街道", "Xijie Subdistrict", 9, 4, 10, 8, 0),
        StreetPlan("北街街道", "Beijie Subdistrict", 7, 5, 7, 9, 0),
        StreetPlan("南街街道", "Nanjie Subdistrict", 8, 6, 8, 7, 1),
        StreetPlan("英雄南路街道", "Yingxiong Nanlu Subdistrict", 10, 9, 7, 6, 1),
        StreetPlan("延安南路街道", "Yan'an Nanlu Subdistrict", 9, 8, 6, 6, 1),
        StreetPlan("英雄中路街道", "Yingxiong Zhonglu Subdistrict", 11, 9, 8, 7, 2),
        StreetPlan("太行东街街道", "Taihang Dongjie Subdistrict", 10, 7, 8, 7, 2),
        StreetPlan("长北街道", "Changbei Subdistrict", 7, 5, 6, 5, 2),
        StreetPlan("太行西街街道", "Taihang Xijie Subdistrict", 12, 10, 8, 6, 3),
        StreetPlan("紫金街街道", "Zijinjie Subdistrict", 10, 10, 6, 5, 3),
        StreetPlan("常青街道", "Changqing Subdistrict", 8, 7, 6, 5, 3),
        StreetPlan("大辛庄镇", "Daxinzhuang Town", 5, 2, 3, 4, 4),
        StreetPlan("马厂镇", "Machang Town", 6, 3, 3, 5, 4),
        StreetPlan("黄碾镇", "Huangnian Town", 4, 2, 2, 3, 4),
        StreetPlan("西白兔乡", "Xibaitu Township", 4, 1, 2, 4, 4),
    ),
    compounds_by_management={
        Management.PROFESSIONAL: 504,
        Management.SELF_MANAGED: 520,
        Management.FORMERLY_UNMANAGED: 127,
    },
    company_count=185,
    companies_with_party_org=51,
    appointed_company_count=5,
    company_forms=(
        "长治市{}物业服务有限公司",
        "山西{}物业管理有限公司",
        "长治{}物业有限公司",
        "潞州区{}物业服务有限公司",
    ),
    note=(
        "Figures (16 streets/towns, 1151 compounds: 504 professional, 520 self-managed, "
        "127 formerly unmanaged split by street area among 5 appointed companies; 185 property "
        "companies, 51 with a Party organisation) come from the seed article. Street and town "
        "names are real place names of the area as far as known; community, compound and company "
        "names, codes, ratings and building counts are synthetic."
    ),
    source="seed/000_ec9b9905728da9f1.txt",
)

# The former county: the county seat (韩店) holds most estates, the towns are mostly old self-managed
# or unmanaged compounds. Area 0 is the seat and its neighbour, 1 the north and east, 2 the south and west.
SHANGDANG = DistrictPlan(
    code="shangdang",
    name_zh="上党区",
    name_en="Shangdang District",
    seed=7_001_420,  # synthetic; any fixed value other than Luzhou's
    streets=(
        StreetPlan("韩店街道", "Handian Subdistrict", 10, 30, 20, 12, 0),
        StreetPlan("苏店镇", "Sudian Town", 6, 8, 8, 6, 1),
        StreetPlan("荫城镇", "Yincheng Town", 5, 3, 6, 6, 2),
        StreetPlan("西火镇", "Xihuo Town", 4, 2, 5, 5, 2),
        StreetPlan("八义镇", "Bayi Town", 4, 2, 5, 5, 2),
        StreetPlan("贾掌镇", "Jiazhang Town", 4, 3, 5, 5, 1),
        StreetPlan("郝家庄镇", "Haojiazhuang Town", 5, 4, 6, 5, 1),
        StreetPlan("南宋乡", "Nansong Township", 3, 1, 4, 4, 2),
        StreetPlan("西池乡", "Xichi Township", 3, 1, 4, 4, 2),
        StreetPlan("东和乡", "Donghe Township", 3, 2, 4, 4, 0),
        StreetPlan("南呈乡", "Nancheng Township", 3, 1, 4, 4, 1),
    ),
    compounds_by_management={
        Management.PROFESSIONAL: 150,
        Management.SELF_MANAGED: 190,
        Management.FORMERLY_UNMANAGED: 80,
    },
    company_count=70,
    companies_with_party_org=20,
    appointed_company_count=3,
    company_forms=(
        "上党区{}物业服务有限公司",
        "长治市上党区{}物业管理有限公司",
        "长治市{}物业服务有限公司",
        "长治{}物业有限公司",
    ),
    note=(
        "Synthetic second district for multi-district tenancy. The figures (11 streets/towns, 420 "
        "compounds: 150 professional, 190 self-managed, 80 formerly unmanaged split by street area among "
        "3 appointed companies; 70 property companies, 20 with a Party organisation) are invented and do "
        "NOT come from the seed article. Street and town names are real place names of the former "
        "Changzhi County as far as known (the official division may differ); community, compound and "
        "company names, codes, ratings and building counts are synthetic."
    ),
    source="synthetic: district/generate.py SHANGDANG plan (no source article)",
)

PLANS: dict[str, DistrictPlan] = {plan.code: plan for plan in (LUZHOU, SHANGDANG)}
SEED = LUZHOU.seed  # the founding district's seed, as the checked-in luzhou.json records it

# Name parts. Compound stems are two characters (first x second); no second character is also a
# one-character suffix, so that no generated name contains another one.
_STEM_FIRST = "锦华富康和瑞金嘉泰馨欣怡御龙凤翠丽阳祥安福盛兴德丰鑫宏恒博润雅晨清文明"
_STEM_SECOND = "绣泰宁悦晖源林辉茂荣康祥春秋光辰星月江河山水馨美秀峰松竹梅兰桂云霞晴翔鸿鹏瑶琪"
_COMPOUND_SUFFIXES = (
    "小区",
    "花园",
    "家园",
    "新村",
    "苑",
    "华庭",
    "名都",
    "公寓",
    "嘉园",
    "雅居",
    "府",
    "湾",
)
_STEM_ALIAS_SUFFIXES = ("小区", "花园", "家园", "新村")  # people drop these: 锦绣花园 -> 锦绣
# Work-unit housing (单位家属院), typical of self-managed and unmanaged compounds in an old industrial city.
_WORK_UNITS = (
    "供电局",
    "邮电局",
    "粮食局",
    "二轻局",
    "纺织厂",
    "钢铁厂",
    "机床厂",
    "化肥厂",
    "医药公司",
    "建筑公司",
    "电业局",
    "税务局",
    "交通局",
    "水利局",
    "农机厂",
    "棉纺厂",
    "印刷厂",
    "糖厂",
    "电机厂",
    "轴承厂",
    "水泥厂",
    "制药厂",
    "汽运公司",
    "百货公司",
    "物资局",
    "商业局",
    "煤建公司",
    "供销社",
    "卷烟厂",
    "火电厂",
    "热电厂",
    "油脂厂",
    "毛纺厂",
    "矿机厂",
    "林业局",
    "地质队",
    "勘察院",
    "设计院",
    "卫生局",
    "教育局",
)
_COMMUNITY_FIRST = "东西南北中上下前后新老大小"
_COMMUNITY_SECOND = "关坊营街园桥湖城井庄门岭坡巷"
_COMPANY_FIRST = "华鑫宏泰恒信诚德瑞祥嘉安康永昌隆盛通达兴旺福金银晟锦润海天地"
_COMPANY_SECOND = "信达源盛安业邦泰宇和顺丰合成润泽辉茂"


def apportion(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` in proportion to `weights`, largest remainder first, ties to the earlier index."""
    weight_sum = sum(weights)
    exact = [total * w / weight_sum for w in weights]
    shares = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _street_code(index: int) -> str:
    return f"ST{index + 1:02d}"


def build_streets(plan: DistrictPlan) -> list[Street]:
    return [
        Street(code=_street_code(i), name_zh=street.name_zh, name_en=street.name_en)
        for i, street in enumerate(plan.streets)
    ]


def build_communities(rng: random.Random, plan: DistrictPlan, streets: Sequence[Street]) -> list[Community]:
    names = ["".join(pair) + "社区" for pair in itertools.product(_COMMUNITY_FIRST, _COMMUNITY_SECOND)]
    rng.shuffle(names)
    pool = iter(names)
    return [
        Community(code=f"{street.code}-CM{j:02d}", name_zh=next(pool), street_code=street.code)
        for street, street_plan in zip(streets, plan.streets, strict=True)
        for j in range(1, street_plan.communities + 1)
    ]


def build_companies(rng: random.Random, plan: DistrictPlan) -> list[PropertyCompany]:
    stems = [a + b for a, b in itertools.product(_COMPANY_FIRST, _COMPANY_SECOND) if a != b]
    rng.shuffle(stems)
    codes = [f"PC{i:03d}" for i in range(1, plan.company_count + 1)]
    # The appointed companies were chosen as high-quality (优质), so they are top-rated and have a Party
    # organisation; the remaining Party organisations are spread at random.
    appointed = set(rng.sample(codes, plan.appointed_company_count))
    others = [c for c in codes if c not in appointed]
    with_party = appointed | set(
        rng.sample(others, plan.companies_with_party_org - plan.appointed_company_count)
    )
    return [
        PropertyCompany(
            code=code,
            name_zh=rng.choice(plan.company_forms).format(stem),
            has_party_org=code in with_party,
            appointed_for_unmanaged=code in appointed,
            rating=5 if code in appointed else rng.choices((1, 2, 3, 4, 5), weights=(5, 10, 40, 30, 15))[0],
        )
        for code, stem in zip(codes, stems)
    ]


@dataclass(frozen=True)
class _Slot:
    """A compound before it has a name: where it is and how it is managed."""

    street_index: int
    community_code: str
    management: Management


def _per_street(plan: DistrictPlan) -> dict[Management, list[int]]:
    """How many compounds of each management type each street holds."""
    weights = {
        Management.PROFESSIONAL: [s.professional for s in plan.streets],
        Management.SELF_MANAGED: [s.self_managed for s in plan.streets],
        Management.FORMERLY_UNMANAGED: [s.unmanaged for s in plan.streets],
    }
    return {m: apportion(plan.compounds(m), weights[m]) for m in weights}


def plan_slots(rng: random.Random, plan: DistrictPlan, communities: Sequence[Community]) -> list[_Slot]:
    """Place every compound of the plan in a street and community."""
    per_type = _per_street(plan)
    slots: list[_Slot] = []
    for index in range(len(plan.streets)):
        managements = [m for m in Management for _ in range(per_type[m][index])]
        rng.shuffle(managements)
        codes = [c.code for c in communities if c.street_code == _street_code(index)]
        # Every community gets at least one compound; the rest land anywhere in the street.
        homes = codes + [rng.choice(codes) for _ in range(len(managements) - len(codes))]
        slots += [_Slot(index, home, m) for home, m in zip(homes, managements, strict=True)]
    return slots


def _compound_names(rng: random.Random, slots: Sequence[_Slot]) -> list[tuple[str, list[str]]]:
    """A unique name and candidate aliases per slot."""
    stems = [a + b for a, b in itertools.product(_STEM_FIRST, _STEM_SECOND) if a != b]
    rng.shuffle(stems)
    stem_pool = iter(stems)
    units = list(_WORK_UNITS)
    rng.shuffle(units)
    names: list[tuple[str, list[str]]] = []
    for slot in slots:
        if slot.management is not Management.PROFESSIONAL and units and rng.random() < 0.12:
            unit = units.pop()
            kind, other = rng.choice((("家属院", "宿舍"), ("宿舍", "家属院")))
            names.append((unit + kind, [unit + other]))
            continue
        stem, suffix = next(stem_pool), rng.choice(_COMPOUND_SUFFIXES)
        if suffix in _STEM_ALIAS_SUFFIXES:
            aliases = [stem] + ([stem + "小区"] if suffix != "小区" else [])
        else:
            aliases = [stem + suffix + "小区"] + ([stem] if rng.random() < 0.5 else [])
        names.append((stem + suffix, aliases))
    return names


def _unique_aliases(names: Sequence[tuple[str, list[str]]]) -> list[tuple[str, ...]]:
    """Drop every alias that is someone's name or is claimed by two compounds, so lookups stay unambiguous."""
    all_names = {name for name, _ in names}
    claims: dict[str, int] = {}
    for _, aliases in names:
        for alias in set(aliases):
            claims[alias] = claims.get(alias, 0) + 1
    kept = [tuple(a for a in aliases if a not in all_names and claims[a] == 1) for _, aliases in names]
    bare = [name for (name, _), alias_tuple in zip(names, kept, strict=True) if not alias_tuple]
    if bare:
        raise ValueError(f"compounds left without an alias: {', '.join(bare)}")
    return kept


def _company_for_professional(
    rng: random.Random, companies: Sequence[PropertyCompany], count: int
) -> list[str]:
    """Every company manages at least one compound; better-rated companies manage more of the rest."""
    codes = [c.code for c in companies]
    rng.shuffle(codes)
    rest = rng.choices(
        [c.code for c in companies], weights=[c.rating for c in companies], k=count - len(companies)
    )
    assignment = codes + rest
    rng.shuffle(assignment)
    return assignment


def _appointed_by_area(rng: random.Random, companies: Sequence[PropertyCompany]) -> list[str]:
    appointed = [c.code for c in companies if c.appointed_for_unmanaged]
    rng.shuffle(appointed)
    return appointed


# Professional estates are large; self-managed and unmanaged ones are often a few old blocks.
_BUILDINGS: dict[Management, tuple[int, int]] = {
    Management.PROFESSIONAL: (4, 36),
    Management.SELF_MANAGED: (1, 12),
    Management.FORMERLY_UNMANAGED: (1, 6),
}


def build_compounds(
    rng: random.Random,
    plan: DistrictPlan,
    communities: Sequence[Community],
    companies: Sequence[PropertyCompany],
) -> list[Compound]:
    slots = plan_slots(rng, plan, communities)
    names = _compound_names(rng, slots)
    aliases = _unique_aliases(names)
    professional = iter(_company_for_professional(rng, companies, plan.compounds(Management.PROFESSIONAL)))
    # The seed: the unmanaged compounds were split "by street area" (按街道区域划分) among the appointed
    # companies.
    by_area = _appointed_by_area(rng, companies)
    compounds: list[Compound] = []
    for number, (slot, (name, _), alias_tuple) in enumerate(zip(slots, names, aliases, strict=True), start=1):
        company_code: str | None = None
        if slot.management is Management.PROFESSIONAL:
            company_code = next(professional)
        elif slot.management is Management.FORMERLY_UNMANAGED:
            company_code = by_area[plan.streets[slot.street_index].area]
        low, high = _BUILDINGS[slot.management]
        compounds.append(
            Compound(
                code=f"CP{number:04d}",
                name_zh=name,
                aliases=alias_tuple,
                community_code=slot.community_code,
                street_code=_street_code(slot.street_index),
                management=slot.management,
                company_code=company_code,
                buildings=rng.randint(low, high),
            )
        )
    return compounds


def build_bureaus() -> list[MemberBureau]:
    return [MemberBureau(code=bureau, name_zh=BUREAU_LABELS_ZH[bureau]) for bureau in Bureau]


def _dump(records: Sequence[Street | Community | PropertyCompany | Compound | MemberBureau]) -> list[object]:
    return [r.model_dump(mode="json") for r in sorted(records, key=lambda r: str(r.code))]


def build_document(plan: DistrictPlan = LUZHOU, seed: int | None = None) -> dict[str, object]:
    """The plan's directory as a JSON-ready document, checked by loading it into a Directory."""
    seed = plan.seed if seed is None else seed
    rng = random.Random(seed)
    streets = build_streets(plan)
    communities = build_communities(rng, plan, streets)
    companies = build_companies(rng, plan)
    compounds = build_compounds(rng, plan, communities, companies)
    bureaus = build_bureaus()
    # The Directory constructor validates every reference; a generator bug fails here, not at load time.
    Directory(
        streets=streets, communities=communities, companies=companies, compounds=compounds, bureaus=bureaus
    )
    return {
        "meta": {
            "synthetic": True,
            "note": plan.note,
            "seed": seed,
            "source": plan.source,
            "generator": "python -m district.generate",
        },
        "streets": _dump(streets),
        "communities": _dump(communities),
        "companies": _dump(companies),
        "compounds": _dump(compounds),
        "bureaus": _dump(bureaus),
    }


def render(document: dict[str, object]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def default_path(plan: DistrictPlan) -> Path:
    return DATA_DIR / f"{plan.code}.json"


def write(path: Path = DEFAULT_PATH, seed: int | None = None, plan: DistrictPlan = LUZHOU) -> Path:
    """Write `plan`'s directory (Luzhou unless told) to `path`; `seed` defaults to the plan's own."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(build_document(plan, seed)), encoding="utf-8")
    return path


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--district", choices=sorted(PLANS), help="write only this district (default: every district)"
    )
    parser.add_argument("--out", type=Path, help="where to write (only with --district)")
    parser.add_argument("--seed", type=int, help="random seed (only with --district; default: the plan's)")
    args = parser.parse_args(argv)
    if args.district is None and (args.out is not None or args.seed is not None):
        parser.error("--out and --seed need --district")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse(argv)
    plans = [PLANS[args.district]] if args.district else list(PLANS.values())
    for plan in plans:
        out = write(args.out or default_path(plan), args.seed, plan)
        print(f"wrote {out} ({out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
