"""The inbound contract of a 12345 hotline work order, as the hotline platform exports it."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.inbound import DistrictField, LabelText, LenientTime, PhoneText, PlainText

# Column headers of the platform's CSV export (工单导出) and the fields they fill.
CSV_HEADERS_ZH: dict[str, str] = {
    "工单编号": "order_no",
    "来电时间": "received_at",
    "来电人": "caller_name",
    "联系电话": "caller_phone",
    "诉求类型": "kind",
    "问题分类": "category",
    "分类编码": "category_code",
    "问题描述": "description",
    "事发地址": "address",
    "所属街道": "street",
    "所属小区": "compound",
    "紧急程度": "urgency",
    "所属区": "district",
}
# Other headers real exports use for the same fields (read, never written).
CSV_HEADER_SYNONYMS_ZH: dict[str, str] = {
    "工单号": "order_no",
    "受理编号": "order_no",
    "受理时间": "received_at",
    "来电日期": "received_at",
    "联系人": "caller_name",
    "来电号码": "caller_phone",
    "联系方式": "caller_phone",
    "诉求类别": "kind",
    "工单类型": "kind",
    "诉求分类": "category",
    "业务分类": "category",
    "分类代码": "category_code",
    "诉求内容": "description",
    "诉求地址": "address",
    "街道": "street",
    "小区": "compound",
    "紧急度": "urgency",
    "缓急程度": "urgency",
}
# Identity is the one thing a work order cannot do without; what the problem is must be said by the
# description or a label that maps (checked by intake, which knows the taxonomies).
REQUIRED_FIELDS: tuple[str, ...] = ("order_no",)
LABEL_OF_FIELD: dict[str, str] = {field: label for label, field in CSV_HEADERS_ZH.items()}
MAX_DESCRIPTION = 4000


class HotlineOrder(BaseModel):
    """One 12345 work order (工单), as lenient as a person reading it: only the order number is required.

    v2 reads what v1 refused: kinds, urgencies and categories in the platform's own words, labels, codes
    and paths (问题分类 城乡建设 > 物业管理 > 电梯故障, 分类编码 11021301), phone numbers in any real form,
    times as Chinese exports write them (no offset: Beijing time), no time at all (intake's clock).
    """

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)
    schema_version: ClassVar[int] = 2

    order_no: PlainText = Field(min_length=1, max_length=64, description="工单编号, unique per record")
    received_at: LenientTime = Field(default=None, description="来电时间; no offset: Beijing time")
    caller_name: PlainText = Field(default="", max_length=64, description="来电人 (personal data)")
    caller_phone: PhoneText = Field(default="", description="联系电话: one or several (personal data)")
    kind: LabelText = Field(
        default="", description="诉求类型: 投诉, 举报, 求助, 咨询, 建议, 表扬, complaint..."
    )
    category: LabelText = Field(
        default="", description="问题分类: a label or path in the platform's taxonomy"
    )
    category_code: LabelText = Field(
        default="", description="分类编码: the taxonomy's code, if exported apart"
    )
    description: PlainText = Field(default="", max_length=MAX_DESCRIPTION, description="问题描述")
    address: PlainText = Field(default="", max_length=500, description="事发地址, free text")
    street: PlainText = Field(default="", max_length=64, description="所属街道, may be empty")
    compound: PlainText = Field(default="", max_length=64, description="所属小区, may be empty")
    urgency: LabelText = Field(default="", description="紧急程度: 一般, 紧急, 特急, urgent...")
    district: DistrictField = ""
