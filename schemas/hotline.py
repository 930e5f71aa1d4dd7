"""The inbound contract of a 12345 hotline work order, as the hotline platform exports it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.reference import CATEGORY_LABELS_ZH, Category, ComplaintKind, Urgency

_CATEGORY_BY_LABEL = {label: category for category, label in CATEGORY_LABELS_ZH.items()}


class HotlineOrder(BaseModel):
    """One 12345 work order (工单). Categories may come as Caseline codes or as Chinese labels."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    order_no: str = Field(min_length=1, max_length=64, description="工单编号, unique per record")
    received_at: datetime = Field(description="来电时间, ISO 8601 with offset")
    caller_name: str = Field(default="", max_length=64, description="来电人 (personal data)")
    caller_phone: str = Field(min_length=1, max_length=32, description="联系电话 (personal data)")
    kind: ComplaintKind = Field(description="诉求类型")
    category: Category = Field(description="问题分类")
    description: str = Field(min_length=1, max_length=4000, description="问题描述")
    address: str = Field(default="", max_length=500, description="事发地址, free text")
    street: str = Field(default="", max_length=64, description="所属街道, may be empty")
    compound: str = Field(default="", max_length=64, description="所属小区, may be empty")
    urgency: Urgency = Field(default=Urgency.NORMAL, description="紧急程度")

    @field_validator("category", mode="before")
    @classmethod
    def _category_from_label(cls, value: object) -> object:
        if isinstance(value, str):
            return _CATEGORY_BY_LABEL.get(value.strip(), value.strip())
        return value

    @field_validator("received_at")
    @classmethod
    def _needs_offset(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must carry a UTC offset, e.g. 2026-11-18T09:30:00+08:00")
        return value
