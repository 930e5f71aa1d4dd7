"""How a real 12345 platform writes its export, for the sample feed (district/sample_hotline.py).

Everything here is synthetic, in the forms such exports take: the platform's own three-level catalogue
(城乡建设 › 物业管理 › 电梯故障, written with whichever separator the export uses) and its numeric codes, request
kinds and urgencies in its words, landlines with area codes and extensions, several numbers in one field,
times as Chinese exports write them. A share of the labels are ones no mapping knows (the platform's 其他
and 综合 buckets) or missing, and a few are plainly wrong for the description, as call-takers' picks are.

The descriptions are written for the sample only, in the call-taker's summarising register; they are not
in the classifier's training corpus nor in its evaluation set (tests/test_intake_classification.py checks).
"""

from __future__ import annotations

import random
from datetime import datetime

from schemas.reference import CATEGORY_LABELS_ZH, Category, ComplaintKind, Urgency

_C = Category
# category -> the platform's catalogue leaves under 城乡建设 › 物业管理 (or another branch), with their codes
CATALOGUE: dict[Category, tuple[tuple[str, str, str], ...]] = {
    _C.SANITATION: (
        ("物业管理", "垃圾清运不及时", "11020101"),
        ("物业管理", "化粪池堵塞", "11020102"),
        ("物业管理", "楼道卫生", "11020103"),
    ),
    _C.COMMON_AREA_REPAIR: (
        ("物业管理", "屋面漏水", "11020201"),
        ("物业管理", "井盖缺失", "11020202"),
        ("物业管理", "路灯不亮", "11020203"),
        ("物业管理", "围墙倒塌", "11020204"),
    ),
    _C.SECURITY_ACCESS: (
        ("物业管理", "门禁故障", "11020301"),
        ("物业管理", "监控损坏", "11020302"),
        ("物业管理", "保安不在岗", "11020303"),
    ),
    _C.SERVICE_QUALITY: (
        ("物业管理", "物业服务态度", "11020401"),
        ("物业管理", "报修不处理", "11020402"),
        ("物业管理", "绿化养护", "11020402"),
    ),
    _C.PROPERTY_FEES: (
        ("物业管理", "物业费标准", "11020501"),
        ("物业管理", "物业费发票", "11020502"),
        ("物业管理", "物业费缴纳", "11020501"),
    ),
    _C.UNREASONABLE_FEES: (
        ("物业管理", "乱收费", "11020601"),
        ("物业管理", "停车费上涨", "11020602"),
        ("价格监管", "物业收费", "13050101"),
    ),
    _C.ILLEGAL_CONSTRUCTION: (
        ("物业管理", "私搭乱建", "11020701"),
        ("物业管理", "楼顶加建", "11020702"),
        ("城市管理", "违法建设", "12030101"),
    ),
    _C.FIRE_HAZARD: (
        ("物业管理", "消防通道堵塞", "11020801"),
        ("物业管理", "电动车楼道充电", "11020802"),
        ("公共安全", "消防安全隐患", "14020101"),
    ),
    _C.MAINTENANCE_FUND: (
        ("物业管理", "维修资金使用", "11020901"),
        ("物业管理", "维修资金查询", "11020902"),
        ("住房保障", "维修基金", "11020901"),
    ),
    _C.OWNERS_COMMITTEE: (
        ("物业管理", "业委会成立", "11021001"),
        ("物业管理", "业委会换届", "11021002"),
        ("物业管理", "业主大会", "11021001"),
    ),
    _C.OWNER_COMPANY_DISPUTE: (
        ("物业管理", "物业矛盾纠纷", "11021101"),
        ("物业管理", "车位纠纷", "11021102"),
    ),
    _C.NOISE_POLLUTION: (
        ("物业管理", "噪音扰民", "11021201"),
        ("物业管理", "夜间施工", "11021202"),
        ("生态环境", "餐饮油烟", "15010101"),
    ),
    _C.ELEVATOR_EQUIPMENT: (
        ("物业管理", "电梯故障", "11021301"),
        ("物业管理", "电梯困人", "11021302"),
        ("物业管理", "二次供水", "11021303"),
    ),
    _C.UNMANAGED_COMPOUND: (("物业管理", "弃管小区", "11021401"), ("物业管理", "无物业小区", "11021402")),
    _C.COMPANY_EXIT_TAKEOVER: (
        ("物业管理", "物业撤场", "11021501"),
        ("物业管理", "新老物业交接", "11021502"),
    ),
}
# The platform's catch-all buckets: no mapping can tell the category from these, the text must.
UNMAPPED = (
    "城乡建设 › 物业管理 › 其他物业问题",
    "城乡建设>物业管理>综合类",
    "物业管理/小区综合问题",
    "居民生活-小区管理-其他",
)
SEPARATORS = (" › ", ">", "/", "-", "＞", " | ", " > ")
FIRST_LEVEL = "城乡建设"

# What callers said, as the call-taker wrote it up; {b} a building, {n} a number.
DESCRIPTIONS: dict[Category, tuple[str, ...]] = {
    _C.SANITATION: (
        "来电人称小区{b}号楼北侧垃圾点已{n}天无人清运，垃圾溢出到路面，异味明显，要求物业尽快清理。",
        "市民反映小区内化粪池冒溢，粪水沿路边流淌，居民无法正常通行，请相关部门督促清掏。",
        "来电人反映所住单元楼道长期无人保洁，杂物和生活垃圾堆积，蚊蝇较多。",
        "居民称小区垃圾箱周边污水横流，清运车来得太少，夏季臭味严重。",
    ),
    _C.COMMON_AREA_REPAIR: (
        "来电人反映{b}号楼顶层屋面渗漏，每逢下雨家中墙面泡水，多次报修未果。",
        "市民称小区主路一处窨井盖丢失{n}天，夜间有行人险些跌落，要求尽快补装。",
        "来电人反映小区内路灯大面积不亮，夜间出行困难，希望尽快维修。",
        "居民称小区东侧围墙出现裂缝并向外倾斜，担心倒塌伤人。",
    ),
    _C.SECURITY_ACCESS: (
        "来电人反映小区单元门禁损坏{n}周，外来人员可随意进出楼道，存在安全隐患。",
        "市民称小区监控设备长期损坏，近期有车辆被划、电瓶被偷，无法调取录像。",
        "来电人反映小区夜间门岗无人值守，大门常开，要求物业加强安保。",
    ),
    _C.SERVICE_QUALITY: (
        "来电人反映物业公司工作人员服务态度恶劣，报修{n}次均无人上门处理。",
        "市民称物业长期不履行服务承诺，绿化无人修剪，业主反映问题无人回应。",
        "来电人反映物业客服电话长期无人接听，办公室经常无人，要求整改服务。",
    ),
    _C.PROPERTY_FEES: (
        "来电人咨询本小区物业服务费每平方米的收费标准以及是否经过价格备案。",
        "市民咨询物业费能否按季度缴纳，以及缴费后如何开具正式发票。",
        "来电人询问房屋空置期间物业费是否可以减免，需要提交哪些材料。",
    ),
    _C.UNREASONABLE_FEES: (
        "来电人反映物业未经公示擅自将停车费由每月{n}0元上调，要求核查收费依据。",
        "市民称物业在物业费之外另收垃圾清运费和电梯费，涉嫌重复收费。",
        "来电人反映物业强制收取装修保证金且装修完成后拒不退还。",
    ),
    _C.ILLEGAL_CONSTRUCTION: (
        "来电人举报小区{b}号楼一层住户私自扩建院落，侵占公共绿地约{n}十平方米。",
        "市民举报小区楼顶有人搭建彩钢板房，影响楼体安全，物业制止无效。",
        "来电人反映小区内有业主在公共空地上私建车库，要求依法拆除。",
    ),
    _C.FIRE_HAZARD: (
        "来电人反映{b}号楼楼道内长期有住户为电动自行车充电，私拉电线，存在火灾隐患。",
        "市民称小区消防通道被私家车长期占用，消防车无法通行，要求清理。",
        "来电人反映小区消火栓无水、灭火器过期，消防设施形同虚设。",
    ),
    _C.MAINTENANCE_FUND: (
        "来电人咨询楼顶防水维修申请使用住宅专项维修资金的流程和业主表决要求。",
        "市民要求查询本楼栋专项维修资金的余额及历年使用明细。",
        "来电人反映物业动用维修资金更换水泵未经业主表决，要求公开账目。",
    ),
    _C.OWNERS_COMMITTEE: (
        "来电人反映小区筹备成立业主委员会，向社区提交申请{n}个月仍无答复。",
        "市民称业委会换届选举未公示候选人名单，程序不透明，要求街道指导。",
        "来电人反映业委会成员未召开业主大会即与物业公司续签合同。",
    ),
    _C.OWNER_COMPANY_DISPUTE: (
        "来电人反映因拖欠{n}个月物业费，物业对其房屋停水停电，双方发生纠纷。",
        "市民称与物业公司就地下车位归属产生争议，物业锁车位不让使用，请求调解。",
        "来电人反映物业保安与业主发生肢体冲突，双方矛盾激化。",
    ),
    _C.NOISE_POLLUTION: (
        "来电人反映小区附近工地夜间施工至凌晨，噪声严重影响居民休息。",
        "市民称小区临街商铺音响声音过大，每天营业到深夜，噪音扰民。",
        "来电人反映楼下餐馆油烟直排，油烟味窜入居民家中，无法开窗。",
    ),
    _C.ELEVATOR_EQUIPMENT: (
        "来电人反映{b}号楼电梯频繁故障，本周已发生{n}次困人，维保单位响应缓慢。",
        "市民称小区电梯运行时异响明显，检验合格标志已过期，要求检查。",
        "来电人反映小区二次供水设备故障，高层住户已停水{n}天。",
    ),
    _C.UNMANAGED_COMPOUND: (
        "来电人反映所住小区原物业撤离后长期无人管理，垃圾无人清运，设施无人维修。",
        "市民称所住楼院为企业改制遗留的家属楼，一直没有物业，希望政府协调引入物业服务。",
        "来电人反映小区为老旧小区，无物业无门卫无保洁，居民诉求无处反映。",
    ),
    _C.COMPANY_EXIT_TAKEOVER: (
        "来电人反映原物业公司合同到期后突然撤场，新物业尚未进驻，小区服务中断。",
        "市民称物业公司退出时未退还业主预交的物业费，新物业也不认可。",
        "来电人反映新老物业交接不清，原物业拒绝移交小区图纸资料。",
    ),
}

_KIND_WORDS: dict[ComplaintKind, tuple[str, ...]] = {
    ComplaintKind.COMPLAINT: ("投诉", "投诉", "投诉类", "complaint"),
    ComplaintKind.REPORT: ("举报", "举报类"),
    ComplaintKind.HELP: ("求助", "求助类"),
    ComplaintKind.INQUIRY: ("咨询", "咨询类"),
    ComplaintKind.SUGGESTION: ("建议", "意见"),
    ComplaintKind.PRAISE: ("表扬", "表扬类"),
}
UNKNOWN_KIND_WORD = "其他"
_URGENCY_WORDS: dict[Urgency, tuple[str, ...]] = {
    Urgency.NORMAL: ("一般", "一般", "普通"),
    Urgency.URGENT: ("紧急", "特急", "加急"),
}
_LANDLINE_AREA = ("0355",)


def platform_kind(rng: random.Random, kind: ComplaintKind) -> str:
    return UNKNOWN_KIND_WORD if rng.random() < 0.02 else rng.choice(_KIND_WORDS[kind])


def platform_urgency(rng: random.Random, urgency: Urgency) -> str:
    return rng.choice(_URGENCY_WORDS[urgency])


def platform_time(rng: random.Random, when: datetime) -> str:
    """The time as one of the formats Chinese exports use (Beijing time, mostly without offset)."""
    form = rng.choices(range(5), weights=(35, 25, 15, 15, 10))[0]
    if form == 0:
        return when.isoformat()
    if form == 1:
        return when.strftime("%Y-%m-%d %H:%M:%S")
    if form == 2:
        return when.strftime("%Y/%m/%d %H:%M")
    if form == 3:
        return f"{when.year}年{when.month}月{when.day}日 {when:%H:%M}"
    return f"{when.year}年{when.month}月{when.day}日{when.hour}时{when.minute}分"


def platform_phone(rng: random.Random, mobile: str) -> tuple[str, bool]:
    """(the phone field as exported, whether it holds a number to call back)."""
    landline = f"{rng.choice(_LANDLINE_AREA)}-{rng.randint(2, 8)}{rng.randrange(10**6):06d}"
    form = rng.choices(range(8), weights=(58, 14, 5, 5, 6, 6, 4, 2))[0]
    usable = {
        0: mobile,
        1: landline,
        2: landline.replace("-", ""),
        3: f"+86 {mobile[:3]} {mobile[3:7]} {mobile[7:]}",
        4: f"{landline}转{rng.randint(100, 8999)}",
        5: f"{mobile};{landline}",
    }
    if form in usable:
        return usable[form], True
    return ("", False) if form == 6 else (rng.choice(("无", "不详", mobile[:7])), False)


def platform_label(rng: random.Random, category: Category) -> tuple[str, str, str]:
    """(问题分类, 分类编码, how it is written): a path, a leaf, a code, Caseline's own label, a catch-all, nothing."""
    second, leaf, code = rng.choice(CATALOGUE[category])
    form = rng.choices(
        ("path", "leaf", "code", "path_and_code", "caseline", "unmapped", "none"),
        weights=(40, 18, 8, 8, 6, 14, 6),
    )[0]
    separator = rng.choice(SEPARATORS)
    path = separator.join((FIRST_LEVEL, second, leaf) if second == "物业管理" else (second, leaf))
    if form == "path":
        return path, "", form
    if form == "leaf":
        return leaf, "", form
    if form == "code":
        return "", code, form
    if form == "path_and_code":
        return path, code, form
    if form == "caseline":
        return CATEGORY_LABELS_ZH[category], "", form
    if form == "unmapped":
        return rng.choice(UNMAPPED), "", form
    return "", "", form


def wrong_label(rng: random.Random, category: Category) -> str:
    """A call-taker's wrong pick: another category's leaf, for a description that is plainly this one."""
    other = rng.choice([c for c in Category if c is not category])
    second, leaf, _ = rng.choice(CATALOGUE[other])
    return " › ".join((FIRST_LEVEL, second, leaf) if second == "物业管理" else (second, leaf))


def platform_labels() -> set[str]:
    """Every leaf label of the catalogue (the sample must use at least 40 of them)."""
    return {leaf for leaves in CATALOGUE.values() for _, leaf, _ in leaves}
