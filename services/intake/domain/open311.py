"""Caseline's categories as Open311 services, and what a service request's attributes mean (pure)."""

from __future__ import annotations

from schemas.open311 import Attribute, AttributeValue, Service, ServiceDefinition, ServiceType
from schemas.reference import CATEGORY_LABELS_ZH, Category, Urgency

JURISDICTION_ID = "luzhou.changzhi.sx.cn"
CROSS_DEPARTMENT = {Category.UNREASONABLE_FEES, Category.ILLEGAL_CONSTRUCTION, Category.FIRE_HAZARD}

_YES_NO = [AttributeValue(key="yes", name="是 yes"), AttributeValue(key="no", name="否 no")]

ATTRIBUTES: dict[Category, list[Attribute]] = {
    Category.FIRE_HAZARD: [
        Attribute(
            variable=True,
            code="hazard",
            datatype="singlevaluelist",
            required=True,
            datatype_description=None,
            order=1,
            description="What the hazard is (隐患类型)",
            values=[
                AttributeValue(key="ebike_charging", name="楼道电动车充电 e-bikes charging indoors"),
                AttributeValue(key="blocked_exit", name="消防通道堵塞 blocked fire exit or lane"),
                AttributeValue(key="broken_equipment", name="消防设施损坏 broken extinguisher or hydrant"),
                AttributeValue(key="other", name="其他 other"),
            ],
        ),
        Attribute(
            variable=True,
            code="people_at_risk",
            datatype="singlevaluelist",
            required=False,
            datatype_description=None,
            order=2,
            description="Are people in danger right now? (是否危及人身安全)",
            values=_YES_NO,
        ),
    ],
    Category.ELEVATOR_EQUIPMENT: [
        Attribute(
            variable=True,
            code="trapped",
            datatype="singlevaluelist",
            required=True,
            datatype_description=None,
            order=1,
            description="Is someone trapped in the lift? (是否困人)",
            values=_YES_NO,
        ),
    ],
}
# Answers that make a request urgent.
_URGENT_ANSWERS = {("people_at_risk", "yes"), ("trapped", "yes")}


def services(district_name: str = "") -> list[Service]:
    """The categories as services; every district takes all of them, so only the wording names the district."""
    where = f" of {district_name}" if district_name else ""
    return [
        Service(
            service_code=category.value,
            service_name=CATEGORY_LABELS_ZH[category],
            description=f"{CATEGORY_LABELS_ZH[category]} ({category.value.replace('_', ' ')}) in a residential compound{where}",
            metadata=category in ATTRIBUTES,
            type=ServiceType.REALTIME,
            keywords=f"{CATEGORY_LABELS_ZH[category]},{category.value},物业",
            group="joint enforcement 联合执法"
            if category in CROSS_DEPARTMENT
            else "property management 物业管理",
        )
        for category in Category
    ]


def definition(category: Category) -> ServiceDefinition:
    return ServiceDefinition(service_code=category.value, attributes=ATTRIBUTES.get(category, []))


def attribute_problems(category: Category, given: dict[str, list[str]]) -> list[str]:
    """Every way the attributes break the service definition, in words a client developer can act on."""
    known = {attribute.code: attribute for attribute in ATTRIBUTES.get(category, [])}
    problems = [
        f"attribute[{code}] is not defined for service {category.value}"
        for code in given
        if code not in known
    ]
    for code, attribute in known.items():
        values = given.get(code, [])
        if attribute.required and not values:
            problems.append(f"attribute[{code}] is required for service {category.value}")
        allowed = {value.key for value in attribute.values}
        if attribute.datatype == "singlevaluelist" and len(values) > 1:
            problems.append(f"attribute[{code}] takes one value, got {len(values)}")
        problems += [
            f"attribute[{code}]: {v!r} is not one of {sorted(allowed)}" for v in values if v not in allowed
        ]
    return problems


def urgency_of(given: dict[str, list[str]]) -> Urgency:
    answers = {(code, value) for code, values in given.items() for value in values}
    return Urgency.URGENT if answers & _URGENT_ANSWERS else Urgency.NORMAL
