"""Reference vocabularies shared by every contract: categories, levels, bureaus, channels."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

# The district Caseline first served. Records written before it served several districts name none and
# belong here; its ids carry no district prefix so that redeliveries of those records still dedupe.
FOUNDING_DISTRICT = "luzhou"

DistrictCode = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_]{1,31}$",
        description="The district (tenant) the case belongs to: a registry code such as luzhou or shangdang",
    ),
]


class Channel(StrEnum):
    HOTLINE = "hotline"  # 12345热线
    PETITION = "petition"  # 信访
    WEB = "web"  # 网络
    WALK_IN = "walk_in"  # 上门投诉


class ComplaintKind(StrEnum):
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报
    HELP = "help"  # 求助
    INQUIRY = "inquiry"  # 咨询
    SUGGESTION = "suggestion"  # 建议 (意见)
    PRAISE = "praise"  # 表扬: forwarded to the unit praised like any other case


class Urgency(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class Level(StrEnum):
    """The three levels that handle a case (物管中心指导、街道日常接诉、社区具体承办)."""

    CENTRE = "centre"
    STREET = "street"
    COMMUNITY = "community"


class Management(StrEnum):
    """How a residential compound is managed."""

    PROFESSIONAL = "professional"  # 专业物业
    SELF_MANAGED = "self_managed"  # 自管
    FORMERLY_UNMANAGED = "formerly_unmanaged"  # 原无人管理, now appointed to one of 5 companies


class Category(StrEnum):
    SANITATION = "sanitation"
    COMMON_AREA_REPAIR = "common_area_repair"
    SECURITY_ACCESS = "security_access"
    SERVICE_QUALITY = "service_quality"
    PROPERTY_FEES = "property_fees"
    UNREASONABLE_FEES = "unreasonable_fees"
    ILLEGAL_CONSTRUCTION = "illegal_construction"
    FIRE_HAZARD = "fire_hazard"
    MAINTENANCE_FUND = "maintenance_fund"
    OWNERS_COMMITTEE = "owners_committee"
    OWNER_COMPANY_DISPUTE = "owner_company_dispute"
    NOISE_POLLUTION = "noise_pollution"
    ELEVATOR_EQUIPMENT = "elevator_equipment"
    UNMANAGED_COMPOUND = "unmanaged_compound"
    COMPANY_EXIT_TAKEOVER = "company_exit_takeover"


CATEGORY_LABELS_ZH: dict[Category, str] = {
    Category.SANITATION: "环境卫生",
    Category.COMMON_AREA_REPAIR: "公共设施维修",
    Category.SECURITY_ACCESS: "安保门禁",
    Category.SERVICE_QUALITY: "物业服务质量",
    Category.PROPERTY_FEES: "物业收费",
    Category.UNREASONABLE_FEES: "收费不合理",
    Category.ILLEGAL_CONSTRUCTION: "私搭乱建",
    Category.FIRE_HAZARD: "消防隐患",
    Category.MAINTENANCE_FUND: "维修资金",
    Category.OWNERS_COMMITTEE: "业委会",
    Category.OWNER_COMPANY_DISPUTE: "业主与物业纠纷",
    Category.NOISE_POLLUTION: "噪音污染",
    Category.ELEVATOR_EQUIPMENT: "电梯特种设备",
    Category.UNMANAGED_COMPOUND: "无人管理小区",
    Category.COMPANY_EXIT_TAKEOVER: "物业退出接管",
}


class Bureau(StrEnum):
    """Members of the district property-management joint meeting (全区物业管理联席会议)."""

    CENTRE = "centre"  # 区物业管理服务中心 (convener)
    HOUSING_CONSTRUCTION = "housing_construction"  # 住建
    MARKET_SUPERVISION = "market_supervision"  # 市场监管
    JUSTICE = "justice"  # 司法
    PUBLIC_SECURITY = "public_security"  # 公安
    ENVIRONMENTAL_PROTECTION = "environmental_protection"  # 环保
    FIRE_RESCUE = "fire_rescue"  # 消防
    CITY_APPEARANCE = "city_appearance"  # 市容
    STREET_OFFICE = "street_office"  # 街道


BUREAU_LABELS_ZH: dict[Bureau, str] = {
    Bureau.CENTRE: "区物业管理服务中心",
    Bureau.HOUSING_CONSTRUCTION: "区住建局",
    Bureau.MARKET_SUPERVISION: "区市场监管局",
    Bureau.JUSTICE: "区司法局",
    Bureau.PUBLIC_SECURITY: "公安分局",
    Bureau.ENVIRONMENTAL_PROTECTION: "环保分局",
    Bureau.FIRE_RESCUE: "消防救援大队",
    Bureau.CITY_APPEARANCE: "区城市管理局(市容)",
    Bureau.STREET_OFFICE: "街道办事处",
}
