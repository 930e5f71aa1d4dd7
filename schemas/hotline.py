"""The inbound contract of a 12345 hotline work order, as the hotline platform exports it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.inbound import (
    AwareDatetime,
    CategoryField,
    DistrictField,
    KindField,
    Phone,
    PlainText,
    UrgencyField,
)
from schemas.reference import Urgency

# Column headers of the platform's CSV export (工单导出) and the fields they fill.
CSV_HEADERS_ZH: dict[str, str] = {
    "工单编号": "order_no",
    "来电时间": "received_at",
    "来电人": "caller_name",
    "联系电话": "caller_phone",
    "诉求类型": "kind",
    "问题分类": "category",
    "问题描述": "description",
    "事发地址": "address",
    "所属街道": "street",
    "所属小区": "compound",
    "紧急程度": "urgency",
    "所属区": "district",
}
REQUIRED_FIELDS: tuple[str, ...] = (
    "order_no",
    "received_at",
    "caller_phone",
    "kind",
    "category",
    "description",
)
LABEL_OF_FIELD: dict[str, str] = {field: label for label, field in CSV_HEADERS_ZH.items()}
MAX_DESCRIPTION = 4000


class HotlineOrder(BaseModel):
    """One 12345 work order (工单). Categories, kinds and urgencies may come as codes or Chinese labels."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    order_no: PlainText = Field(min_length=1, max_length=64, description="工单编号, unique per record")
    received_at: AwareDatetime = Field(description="来电时间, ISO 8601 with offset")
    caller_name: PlainText = Field(default="", max_length=64, description="来电人 (personal data)")
    caller_phone: Phone = Field(min_length=1, max_length=32, description="联系电话 (personal data)")
    kind: KindField = Field(description="诉求类型")
    category: CategoryField = Field(description="问题分类")
    description: PlainText = Field(min_length=1, max_length=MAX_DESCRIPTION, description="问题描述")
    address: PlainText = Field(default="", max_length=500, description="事发地址, free text")
    street: PlainText = Field(default="", max_length=64, description="所属街道, may be empty")
    compound: PlainText = Field(default="", max_length=64, description="所属小区, may be empty")
    urgency: UrgencyField = Field(default=Urgency.NORMAL, description="紧急程度")
    district: DistrictField = ""
