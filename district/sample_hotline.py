"""Generate a sample 12345 hotline feed: `python -m district.sample_hotline [--out-dir DIR]`.

Writes `caseline/samples/hotline_sample.jsonl` (one work order per line, as a hotline export would
deliver them) and `caseline/samples/hotline_sample.expected.json` (what a correct intake must count in
it). Everything is synthetic: callers, phone numbers, descriptions and addresses are made up; compounds
and streets come from the district directory. The feed is deliberately imperfect, as real feeds are:
some records give the category as a Chinese label instead of its code, some name a compound only in the
address, some give no place at all; 12 lines are re-sent exact duplicates and 8 lines are broken, each
in a different way. The expected counts are computed from the generator's own records, not by parsing
the file, so a test can compare them with an independent re-count.

`write_synthetic_orders` writes any number of valid records for load tests; given a district code it
draws them from that district's directory and tags each with `"district"` (the sample feed stays Luzhou's).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from district import platform_export
from district.directory import Compound, Directory, Street, load_directory
from schemas.hotline import CSV_HEADERS_ZH
from schemas.reference import CATEGORY_LABELS_ZH, Category, ComplaintKind, Management, Urgency

SEED = 12345_2026_11
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "caseline" / "samples"
DATA_DIR = Path(__file__).resolve().parent / "data"  # district directories; the registry will own this
FEED_NAME = "hotline_sample.jsonl"
EXPECTED_NAME = "hotline_sample.expected.json"
CSV_NAME = "hotline_sample.gb18030.csv"
WRONG_LABEL_SHARE = 0.02  # call-takers' wrong picks: the description is plainly of another category
WRONG_LABEL_ALLOWANCE = 3  # cross-department records whose wrong label may send them elsewhere

UNIQUE_VALID = 280
DUPLICATES = 12
MIN_PER_CATEGORY = 8
# The seed's cross-department problems, which go to the joint meeting.
CROSS_DEPARTMENT: tuple[Category, ...] = (
    Category.UNREASONABLE_FEES,
    Category.ILLEGAL_CONSTRUCTION,
    Category.FIRE_HAZARD,
)
MIN_PER_CROSS_DEPARTMENT = 14
LABEL_SHARE = 0.15  # share of records whose category is the Chinese label, as some hotline exports send
BEIJING = timezone(timedelta(hours=8))

Record = dict[str, str]

# Which compounds a category plausibly comes from: fee and company disputes need a company.
_WITH_COMPANY = (Management.PROFESSIONAL, Management.FORMERLY_UNMANAGED)
_CATEGORY_MANAGEMENT: dict[Category, tuple[Management, ...]] = {
    Category.UNMANAGED_COMPOUND: (Management.SELF_MANAGED, Management.FORMERLY_UNMANAGED),
    Category.COMPANY_EXIT_TAKEOVER: _WITH_COMPANY,
    Category.SERVICE_QUALITY: _WITH_COMPANY,
    Category.PROPERTY_FEES: _WITH_COMPANY,
    Category.UNREASONABLE_FEES: _WITH_COMPANY,
    Category.OWNER_COMPANY_DISPUTE: _WITH_COMPANY,
}

_DESCRIPTIONS: dict[Category, tuple[str, ...]] = {
    Category.SANITATION: (
        "小区{b}号楼下垃圾桶满了好几天没人清运，气味很大，苍蝇多。",
        "楼道里堆满杂物和垃圾，保洁已经{n}天没来打扫了。",
        "小区化粪池堵塞，污水漫到路面，居民出行困难。",
    ),
    Category.COMMON_AREA_REPAIR: (
        "小区{b}号楼西侧围墙开裂倾斜，随时可能倒塌，请尽快处理。",
        "小区路面坑洼严重，下雨积水，老人已经摔倒过。",
        "{b}号楼门前窨井盖丢失{n}天了，晚上很危险。",
        "楼道照明灯坏了很久，晚上上下楼看不见。",
    ),
    Category.SECURITY_ACCESS: (
        "小区没有大门和门禁，外来人员随意进出，最近有电动车被盗。",
        "小区监控坏了{n}个月没人修，业主车辆被划无法查看。",
        "门卫晚上不在岗，陌生人半夜在楼道里逗留。",
    ),
    Category.SERVICE_QUALITY: (
        "物业服务态度差，报修{n}次都没人上门。",
        "物业人员长期不在岗，绿化没人管，杂草比人高。",
        "物业承诺的维修一直拖着不办，业主意见很大。",
    ),
    Category.PROPERTY_FEES: (
        "想咨询今年物业费的收费标准是否经过备案。",
        "物业费每平米{fee}元，不清楚包含哪些服务，请给个说法。",
        "物业要求一次性预交两年物业费，否则不给办门禁卡。",
    ),
    Category.UNREASONABLE_FEES: (
        "物业擅自上调停车费，每月涨了{n}0元，没有公示也没有备案。",
        "物业收取的电梯运行费和公摊电费重复收费，金额不透明。",
        "物业强制收取装修押金和垃圾清运费，不交就不让装修。",
    ),
    Category.ILLEGAL_CONSTRUCTION: (
        "{b}号楼一楼住户私自扩建院子，占用公共绿地。",
        "楼顶有人私搭乱建彩钢房，存在安全隐患，物业不管。",
        "有业主在小区公共区域私建车库，堵塞了消防通道。",
    ),
    Category.FIRE_HAZARD: (
        "{b}号楼楼道里有人给电动车充电，电线从窗户拉下来，非常危险。",
        "小区消防通道被车辆长期占用，消防栓没有水。",
        "地下室堆放大量易燃杂物，灭火器已经过期。",
    ),
    Category.MAINTENANCE_FUND: (
        "楼顶漏水想申请使用专项维修资金，不知道需要什么手续。",
        "咨询电梯更换能否使用公共维修基金，业主签字比例要求是多少。",
        "维修资金使用情况一直没有公示，业主要求查询账目。",
    ),
    Category.OWNERS_COMMITTEE: (
        "小区想成立业委会，社区一直没有答复。",
        "业委会换届选举程序不公开，很多业主不知情。",
        "业委会成员私自和物业签合同，没有召开业主大会。",
    ),
    Category.OWNER_COMPANY_DISPUTE: (
        "业主和物业因为停车位归属发生争执，双方僵持不下。",
        "物业因业主欠费停了该户的水电，引发纠纷。",
        "物业和业主在公共收益分配上有分歧，要求调解。",
    ),
    Category.NOISE_POLLUTION: (
        "小区门口商铺晚上放音乐到十二点，噪音扰民。",
        "楼下饭店油烟直排进楼道，居民无法开窗。",
        "小区里广场舞音响声音太大，每天晚上到十点以后。",
    ),
    Category.ELEVATOR_EQUIPMENT: (
        "{b}号楼电梯经常停运，这周已经困人{n}次。",
        "电梯年检标志过期，运行时有异响。",
        "二次供水设备故障，高层住户{n}天没水了。",
    ),
    Category.UNMANAGED_COMPOUND: (
        "小区一直没有物业管理，垃圾没人清，路灯没人修。",
        "原来的物业撤走后没人接管，小区处于无人管理状态。",
        "老旧小区没有物业，希望政府尽快安排物业公司进驻。",
    ),
    Category.COMPANY_EXIT_TAKEOVER: (
        "原物业公司合同到期突然撤场，新物业还没进来，交接混乱。",
        "物业公司要退出，业主预交的物业费怎么退？",
        "新接管的物业不认原物业收取的押金，要求重新缴纳。",
    ),
}

_ROADS = (
    "英雄中路",
    "英雄南路",
    "英雄北路",
    "太行东街",
    "太行西街",
    "延安南路",
    "延安中路",
    "紫金东街",
    "紫金西街",
    "府后东街",
    "府后西街",
    "解放东路",
    "解放西路",
    "长兴中路",
    "长兴南路",
    "八一路",
    "五一路",
    "西大街",
    "东大街",
    "南大街",
    "北大街",
    "城隍庙街",
    "建设路",
    "站前路",
)
_PREFIXES = ("", "", "长治市", "长治市潞州区", "潞州区", "山西省长治市潞州区")
# Shangdang's roads are synthetic (town-seat style names), as is every address in the feed.
_SHANGDANG_ROADS = (
    "上党大街",
    "府前街",
    "振兴路",
    "韩店大街",
    "苏店大街",
    "荫城大街",
    "长韩路",
    "漳泽路",
    "文化路",
    "人民路",
    "建设路",
    "工业路",
)
_SHANGDANG_PREFIXES = ("", "", "长治市", "长治市上党区", "上党区", "山西省长治市上党区")
_VAGUE = (
    "菜市场门口",
    "公交站旁边",
    "十字路口东北角",
    "路边门面房后面",
    "附近一个老旧小区",
    "学校对面的院子",
)
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙段雷钱汤尹常武乔贺申牛"
_GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国红梅玉兰海燕志文斌宇浩凯晨欣怡子涵俊鹏飞亮云峰波"
)
_MOBILE_PREFIXES = (
    tuple(f"13{d}" for d in range(10))
    + tuple(f"15{d}" for d in (0, 1, 2, 3, 5, 6, 7, 8, 9))
    + tuple(f"18{d}" for d in range(10))
)

# How a record locates the problem, with how many of the records (out of every 288) do it that way.
_LOCATION_QUOTAS: tuple[tuple[str, int], ...] = (
    ("named", 210),  # street and compound filled, address names the compound
    ("address_only", 22),  # compound only in the address text
    ("street_only", 28),  # street known, no compound anywhere
    ("address_no_street", 14),  # both fields empty, address names the compound
    ("nowhere", 14),  # both fields empty, vague address
)


@dataclass(frozen=True)
class _Places:
    """How addresses in one district start: the city/district prefixes and the roads people give."""

    prefixes: tuple[str, ...]
    roads: tuple[str, ...]


_PLACES: dict[str, _Places] = {
    "luzhou": _Places(_PREFIXES, _ROADS),
    "shangdang": _Places(_SHANGDANG_PREFIXES, _SHANGDANG_ROADS),
}
# A district without its own address parts still gets plausible ones: the city, and no district name.
_CITY_ONLY = _Places(("", "", "长治市", "山西省长治市"), ("文化路", "人民路", "建设路", "工业路"))


def _places(district: str | None) -> _Places:
    return _PLACES["luzhou"] if district is None else _PLACES.get(district, _CITY_ONLY)


@dataclass
class _Draft:
    category: Category  # the category a person would choose: the truth intake is measured against
    received_at: datetime
    extra: bool  # extra records become the bad lines, so the valid ones keep the coverage quotas
    record: Record = field(default_factory=dict)
    label_form: str = ""  # how the platform labelled it (platform_export.platform_label)
    callable_back: bool = True


def _categories(rng: random.Random) -> list[Category]:
    """The valid records' categories: every category covered, cross-department ones well covered."""
    chosen = [
        c
        for c in Category
        for _ in range(MIN_PER_CROSS_DEPARTMENT if c in CROSS_DEPARTMENT else MIN_PER_CATEGORY)
    ]
    chosen += rng.choices(list(Category), k=UNIQUE_VALID - len(chosen))
    return chosen


def _received_at(rng: random.Random) -> datetime:
    # Calls cluster in the daytime; the hotline is open around the clock.
    hour = rng.choices(range(24), weights=[1] * 7 + [6] * 12 + [3] * 4 + [1])[0]
    return datetime(2026, 11, rng.randint(1, 30), hour, rng.randrange(60), rng.randrange(60), tzinfo=BEIJING)


def _caller(rng: random.Random) -> tuple[str, str]:
    given = "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2))))
    phone = rng.choice(_MOBILE_PREFIXES) + "".join(str(rng.randrange(10)) for _ in range(8))
    return rng.choice(_SURNAMES) + given, phone


def _kind(rng: random.Random, category: Category) -> ComplaintKind:
    k = ComplaintKind
    if category in (Category.ILLEGAL_CONSTRUCTION, Category.FIRE_HAZARD):
        table = {k.REPORT: 5, k.COMPLAINT: 4, k.HELP: 1}
    elif category in (Category.MAINTENANCE_FUND, Category.PROPERTY_FEES):
        table = {k.INQUIRY: 4, k.COMPLAINT: 4, k.SUGGESTION: 2}
    elif category in (Category.COMMON_AREA_REPAIR, Category.ELEVATOR_EQUIPMENT):
        table = {k.HELP: 5, k.COMPLAINT: 4, k.SUGGESTION: 1}
    else:
        table = {k.COMPLAINT: 12, k.HELP: 3, k.INQUIRY: 2, k.REPORT: 2, k.SUGGESTION: 1}
    return rng.choices(list(table), weights=list(table.values()))[0]


def _urgency(rng: random.Random, category: Category) -> Urgency:
    share = {
        Category.FIRE_HAZARD: 0.6,
        Category.ELEVATOR_EQUIPMENT: 0.4,
        Category.SECURITY_ACCESS: 0.25,
        Category.COMMON_AREA_REPAIR: 0.15,
    }.get(category, 0.05)
    return Urgency.URGENT if rng.random() < share else Urgency.NORMAL


def _description(rng: random.Random, category: Category) -> str:
    template = rng.choice(_DESCRIPTIONS[category])
    return template.format(b=rng.randint(1, 12), n=rng.randint(2, 9), fee=rng.choice((1, 2, 3)))


def _messy(rng: random.Random, parts: Sequence[str]) -> str:
    """Join address parts the way operators type them: sometimes with a space or a full-width space."""
    gaps = ("",) * 12 + (" ", " ", "\u3000")
    return "".join(part + rng.choice(gaps) for part in parts if part).strip()


def _spot(rng: random.Random) -> str:
    return rng.choice(
        (
            f"{rng.randint(1, 12)}号楼{rng.randint(1, 4)}单元{rng.randint(1, 6)}0{rng.randint(1, 4)}室",
            f"{rng.randint(1, 12)}栋",
            "东门",
            "院内",
            "北门口",
            f"{rng.randint(1, 12)}号楼楼下",
        )
    )


def _compound_mention(rng: random.Random, compound: Compound) -> str:
    # Mostly the full name; sometimes the alias people actually say, when it is specific enough.
    usable = [a for a in compound.aliases if len(a) >= 3]
    return rng.choice(usable) if usable and rng.random() < 0.1 else compound.name_zh


def _address(
    rng: random.Random, street: Street | None, compound: Compound | None, places: _Places = _PLACES["luzhou"]
) -> str:
    road = f"{rng.choice(places.roads)}{rng.randint(1, 400)}号"
    street_part = street.name_zh if street is not None and rng.random() < 0.4 else ""
    if compound is None:
        return _messy(rng, (rng.choice(places.prefixes), street_part, road, rng.choice(_VAGUE)))
    return _messy(
        rng, (rng.choice(places.prefixes), street_part, road, _compound_mention(rng, compound), _spot(rng))
    )


def _pick_compound(rng: random.Random, directory: Directory, category: Category) -> Compound:
    managements = _CATEGORY_MANAGEMENT.get(category, tuple(Management))
    return rng.choice([c for c in directory.compounds if c.management in managements])


def _street_field(rng: random.Random, street: Street) -> str:
    # Operators often type the short form ("英雄中路"); intake must accept both.
    return street.short_name if rng.random() < 0.15 else street.name_zh


def _compound_field(rng: random.Random, compound: Compound) -> str:
    return rng.choice(compound.aliases) if rng.random() < 0.1 else compound.name_zh


def _location(
    rng: random.Random,
    directory: Directory,
    category: Category,
    mode: str,
    places: _Places = _PLACES["luzhou"],
) -> tuple[str, str, str]:
    """(address, street, compound) for one record."""
    compound = _pick_compound(rng, directory, category)
    street = directory.street(compound.street_code)
    assert street is not None  # the directory validated every reference at load
    if mode == "named":
        address = _address(rng, street, compound, places)
        return address, _street_field(rng, street), _compound_field(rng, compound)
    if mode == "address_only":
        return _address(rng, street, compound, places), _street_field(rng, street), ""
    if mode == "street_only":
        return _address(rng, street, None, places), _street_field(rng, street), ""
    if mode == "address_no_street":
        return _address(rng, None, compound, places), "", ""
    return _address(rng, None, None, places), "", ""


def _check_location(directory: Directory, record: Record, mode: str) -> None:
    # The sample must teach intake the right thing: a compound named in the address is findable, and a
    # vague address does not accidentally name one.
    found = directory.find_compound_in_address(record["address"])
    names_compound = mode in ("named", "address_only", "address_no_street")
    if names_compound != (found is not None):
        raise ValueError(f"address {record['address']!r} ({mode}) resolves to {found}")
    if record["compound"] and found != directory.find_compound(record["compound"]):
        raise ValueError(f"address {record['address']!r} does not match compound {record['compound']!r}")


def _drafts(rng: random.Random, bad_count: int) -> list[_Draft]:
    valid = [_Draft(c, _received_at(rng), extra=False) for c in _categories(rng)]
    extra = [_Draft(rng.choice(list(Category)), _received_at(rng), extra=True) for _ in range(bad_count)]
    # A feed arrives in the order calls were taken.
    return sorted(valid + extra, key=lambda d: (d.received_at, d.category.value, d.extra))


def _fill(rng: random.Random, directory: Directory, drafts: Sequence[_Draft]) -> None:
    """Each draft as the platform exports it: its catalogue, its words, its phone and time formats."""
    modes = [mode for mode, quota in _LOCATION_QUOTAS for _ in range(quota)]
    if len(modes) != len(drafts):
        raise ValueError(f"location quotas cover {len(modes)} records, not {len(drafts)}")
    rng.shuffle(modes)
    sequence = 0
    for draft, mode in zip(drafts, modes, strict=True):
        sequence += rng.randint(1, 40)  # the hotline numbers every call, not only property complaints
        name, mobile = _caller(rng)
        address, street, compound = _location(rng, directory, draft.category, mode)
        label, code, form = platform_export.platform_label(rng, draft.category)
        if not draft.extra and rng.random() < WRONG_LABEL_SHARE:
            label, code, form = platform_export.wrong_label(rng, draft.category), "", "wrong"
        phone, callable_back = platform_export.platform_phone(rng, mobile)
        draft.label_form, draft.callable_back = form, callable_back
        draft.record = {
            "order_no": f"LZ12345-{draft.received_at:%Y%m%d}-{sequence:06d}",
            "received_at": platform_export.platform_time(rng, draft.received_at),
            "caller_name": name,
            "caller_phone": phone,
            "kind": platform_export.platform_kind(rng, _kind(rng, draft.category)),
            "category": label,
            "category_code": code,
            "description": _sample_description(rng, draft.category),
            "address": address,
            "street": street,
            "compound": compound,
            "urgency": platform_export.platform_urgency(rng, _urgency(rng, draft.category)),
        }
        _check_location(directory, draft.record, mode)


def _sample_description(rng: random.Random, category: Category) -> str:
    template = rng.choice(platform_export.DESCRIPTIONS[category])
    return template.format(b=rng.randint(1, 12), n=rng.randint(2, 9))


def _line(record: Record) -> str:
    return json.dumps(record, ensure_ascii=False)


def _with(record: Record, **changes: str) -> str:
    return _line({**record, **changes})


def _without_order_no(record: Record) -> str:
    return _line({k: v for k, v in record.items() if k != "order_no"})


def _truncated(record: Record) -> str:
    text = _line(record)
    return text[: len(text) * 3 // 5]


# The defects that still make a record unusable, each once; names are what the expected file reports per
# line and the refusal kind intake must give it. Everything else about a record is read, not refused.
BAD_LINES: dict[str, Callable[[Record], str]] = {
    "invalid_json": lambda r: _line(r).replace('"order_no":', "order_no:", 1),
    "truncated": _truncated,
    "missing_field": _without_order_no,  # no order number: no identity to dedupe on
    "no_problem_stated": lambda r: _with(
        r, description="", category="城乡建设>物业管理>其他物业问题", category_code=""
    ),
    "control_characters": lambda r: _with(
        r, description=r["description"][:12] + "\u0007" + r["description"][12:]
    ),
    "markup": lambda r: _with(r, description=r["description"] + '<script>alert("x")</script>'),
    "unknown_district": lambda r: _with(r, district="太原市小店区"),
    "encoding": lambda r: _line(r),  # written in GB18030 inside the UTF-8 file (see _encoded)
}
# Defects a CSV export can have (the JSON-only ones cannot be written as a row).
CSV_BAD = ("missing_field", "no_problem_stated", "control_characters", "markup", "unknown_district")


@dataclass(frozen=True)
class Feed:
    lines: list[str]
    expected: dict[str, object]
    truth: dict[str, Category]  # order number -> the category a person would choose
    encoded_in_gb18030: frozenset[int]  # 1-based line numbers written in GB18030 (the encoding defect)
    records: list[tuple[str, Record | None]]  # per line: what it is, and the record (None: unreadable)


def _assemble(
    rng: random.Random, drafts: Sequence[_Draft]
) -> tuple[list[tuple[float, str, str, Record]], list[_Draft]]:
    """Lines keyed by position: (position, line, what it is, record); duplicates land 1-30 lines later."""
    defects = list(BAD_LINES)
    rng.shuffle(defects)
    defect_of = {i: defects.pop() for i, d in enumerate(drafts) if d.extra}
    entries: list[tuple[float, str, str, Record]] = []
    for position, draft in enumerate(drafts):
        defect = defect_of.get(position)
        line = BAD_LINES[defect](draft.record) if defect else _line(draft.record)
        entries.append((float(position), line, defect or "valid", draft.record))
    valid = [d for d in drafts if not d.extra]
    resent = rng.sample([i for i, d in enumerate(drafts) if not d.extra], DUPLICATES)
    for i in resent:
        at = i + rng.randint(1, 30) + 0.5 + i / 10_000
        entries.append((at, _line(drafts[i].record), "duplicate", drafts[i].record))
    return sorted(entries, key=lambda e: e[0]), valid


def build_feed(seed: int = SEED, directory: Directory | None = None) -> Feed:
    rng = random.Random(seed)
    directory = directory or load_directory()
    drafts = _drafts(rng, len(BAD_LINES))
    _fill(rng, directory, drafts)
    entries, valid = _assemble(rng, drafts)
    by_category = Counter(d.category for d in valid)
    forms = Counter(d.label_form for d in valid)
    mapped_cross = sum(
        1
        for d in valid
        if d.category in CROSS_DEPARTMENT
        and d.label_form in ("path", "leaf", "code", "path_and_code", "caseline")
    )
    numbered = list(enumerate(entries, 1))
    expected: dict[str, object] = {
        "source": f"caseline/samples/{FEED_NAME}",
        "generator": "python -m district.sample_hotline",
        "seed": seed,
        "total_lines": len(entries),
        "bad_lines": sum(1 for _, _, what, _ in entries if what in BAD_LINES),
        "duplicates": sum(1 for _, _, what, _ in entries if what == "duplicate"),
        "unique_valid": len(valid),
        "by_category": {c.value: by_category[c] for c in Category},
        "cross_department": sum(by_category[c] for c in CROSS_DEPARTMENT),
        "escalated_at_least": mapped_cross - WRONG_LABEL_ALLOWANCE,
        "escalated_categories": [c.value for c in CROSS_DEPARTMENT],
        "by_label_form": dict(sorted(forms.items())),
        "no_callback_number": sum(1 for d in valid if not d.callable_back),
        "platform_labels_used": len(
            {d.record["category"] for d in valid if d.record["category"]}
            | {d.record["category_code"] for d in valid if d.record["category_code"]}
        ),
        "by_location": _location_counts(valid),
        "bad_line_numbers": {str(n): what for n, (_, _, what, _) in numbered if what in BAD_LINES},
        "duplicate_line_numbers": [n for n, (_, _, what, _) in numbered if what == "duplicate"],
    }
    truth = {d.record["order_no"]: d.category for d in valid}
    gb18030 = frozenset(n for n, (_, _, what, _) in numbered if what == "encoding")
    records = [
        (what, None if what in ("invalid_json", "truncated", "encoding") else record)
        for n, (_, _, what, record) in numbered
    ]
    return Feed([line for _, line, _, _ in entries], expected, truth, gb18030, records)


def _location_counts(valid: Sequence[_Draft]) -> dict[str, int]:
    """Unique valid records by the place fields they fill: compound (and street), street only, neither."""
    counted = Counter(
        "compound_given" if d.record["compound"] else "street_only" if d.record["street"] else "neither"
        for d in valid
    )
    return {key: counted[key] for key in ("compound_given", "street_only", "neither")}


def write(out_dir: Path = SAMPLES_DIR, seed: int = SEED) -> tuple[Path, Path]:
    """The JSON-lines export, its expected counts and the same orders as the platform's GB18030 CSV."""
    feed = build_feed(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    feed_path, expected_path = out_dir / FEED_NAME, out_dir / EXPECTED_NAME
    with feed_path.open("wb") as out:
        for number, line in enumerate(feed.lines, 1):
            out.write(line.encode("gb18030" if number in feed.encoded_in_gb18030 else "utf-8") + b"\n")
    csv_lines = write_csv(out_dir / CSV_NAME, feed)
    expected = {**feed.expected, "csv": csv_lines}
    expected_path.write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return feed_path, expected_path


def write_csv(path: Path, feed: Feed) -> dict[str, object]:
    """The same export as the platform's CSV (工单导出): Chinese headers, GB18030, CRLF; the JSON-only
    defects left out and one row with a column too many. Returns what a correct intake must count in it."""
    header = list(CSV_HEADERS_ZH)
    fields = list(CSV_HEADERS_ZH.values())
    rows: list[list[str]] = []
    bad: dict[str, str] = {}
    for what, record in feed.records:
        if record is None or (what in BAD_LINES and what not in CSV_BAD):
            continue
        row = [record.get(name, "") for name in fields]
        if what == "missing_field":
            row[fields.index("order_no")] = ""
        elif what == "no_problem_stated":
            row[fields.index("description")], row[fields.index("category")] = (
                "",
                "城乡建设>物业管理>其他物业问题",
            )
            row[fields.index("category_code")] = ""
        elif what == "control_characters":
            text = record["description"]
            row[fields.index("description")] = text[:12] + "\u0007" + text[12:]
        elif what == "markup":
            row[fields.index("description")] = record["description"] + '<script>alert("x")</script>'
        elif what == "unknown_district":
            row[fields.index("district")] = "太原市小店区"
        rows.append(row)
        if what in BAD_LINES:
            bad[str(len(rows) + 1)] = what  # the header is line 1 (no cell spans lines here)
    rows.insert(len(rows) // 2, [*rows[len(rows) // 2], "多出的一列"])
    bad = {str(int(n) + 1) if int(n) > len(rows) // 2 + 1 else n: w for n, w in bad.items()}
    bad[str(len(rows) // 2 + 2 - 1)] = "invalid_csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("gb18030"))
    return {
        "file": f"caseline/samples/{path.name}",
        "rows": len(rows),
        "bad_line_numbers": dict(sorted(bad.items(), key=lambda i: int(i[0]))),
    }


def synthetic_order(
    rng: random.Random,
    directory: Directory,
    index: int,
    category: Category,
    mode: str,
    prefix: str = "BENCH",
    district: str | None = None,
) -> dict[str, str]:
    """One valid work order, its location as messy as in the sample feed; tagged with `district` if given."""
    received_at = _received_at(rng)
    name, phone = _caller(rng)
    address, street, compound = _location(rng, directory, category, mode, _places(district))
    record = {
        "order_no": f"{prefix}-{received_at:%Y%m%d}-{index:07d}",
        "received_at": received_at.isoformat(),
        "caller_name": name,
        "caller_phone": phone,
        "kind": _kind(rng, category).value,
        "category": CATEGORY_LABELS_ZH[category] if rng.random() < LABEL_SHARE else category.value,
        "description": _description(rng, category),
        "address": address,
        "street": street,
        "compound": compound,
        "urgency": _urgency(rng, category).value,
    }
    return record if district is None else {**record, "district": district}


def district_directory(district: str) -> Directory:
    """The district's checked-in directory (district/data/<code>.json), naming the file if it is missing."""
    return load_directory(DATA_DIR / f"{district}.json")


def write_synthetic_orders(
    path: Path,
    count: int,
    seed: int = SEED,
    prefix: str = "BENCH",
    district: str | None = None,
    directory: Directory | None = None,
) -> None:
    """N valid, unique hotline records; categories round-robin, locations as in the sample feed.

    Without `district` the records are Luzhou's and carry no district key, as feeds did before tenancy.
    With it, places come from that district's directory (or `directory`, if given) and every record says
    `"district": district`.
    """
    rng = random.Random(seed)
    if directory is None:
        directory = load_directory() if district is None else district_directory(district)
    categories = list(Category)
    modes = [mode for mode, _ in _LOCATION_QUOTAS]
    weights = [quota for _, quota in _LOCATION_QUOTAS]
    with path.open("w", encoding="utf-8") as out:
        for index in range(count):
            mode = rng.choices(modes, weights)[0]
            category = categories[index % len(categories)]
            record = synthetic_order(rng, directory, index, category, mode, prefix, district)
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out-dir", type=Path, default=SAMPLES_DIR, help="where to write the two files")
    parser.add_argument(
        "--seed", type=int, default=SEED, help="random seed (the checked-in files use the default)"
    )
    args = parser.parse_args(argv)
    for path in write(args.out_dir, args.seed):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
