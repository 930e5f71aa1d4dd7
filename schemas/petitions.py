"""The inbound contract of a petition (信访件) registered by the petition office."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.hotline import MAX_DESCRIPTION
from schemas.inbound import DistrictField, LabelText, LenientTime, PhoneText, PlainText


class PetitionForm(StrEnum):
    LETTER = "letter"  # 来信
    VISIT = "visit"  # 来访
    ONLINE = "online"  # 网上信访


class Attachment(BaseModel):
    """A scanned letter or photo, by reference: the petition office's document system keeps the file."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    ref: PlainText = Field(
        min_length=1, max_length=200, description="Document id or URL in the office's system"
    )
    name: PlainText = Field(default="", max_length=200)
    media_type: PlainText = Field(default="", max_length=100)


class Petition(BaseModel):
    """v2: category optional (classified from the matter), kinds, urgencies, phones and times read leniently."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
    schema_version: ClassVar[int] = 2

    petition_no: PlainText = Field(min_length=1, max_length=64, description="信访件编号, unique per petition")
    received_at: LenientTime = Field(default=None, description="登记时间; no offset: Beijing time")
    form: PetitionForm = Field(description="来信 / 来访 / 网上信访")
    petitioner_name: PlainText = Field(min_length=1, max_length=64, description="信访人 (personal data)")
    petitioner_phone: PhoneText = Field(default="", description="联系电话 (personal data)")
    matter: PlainText = Field(default="", max_length=MAX_DESCRIPTION, description="信访事项")
    category: LabelText = Field(default="", description="A Caseline category or a label; empty: classified")
    kind: LabelText = ""
    address: PlainText = Field(default="", max_length=500)
    street: PlainText = Field(default="", max_length=64)
    compound: PlainText = Field(default="", max_length=64)
    district: DistrictField = ""
    urgency: LabelText = ""
    attachments: list[Attachment] = Field(default_factory=list, max_length=50)
    is_repeat: bool = Field(default=False, description="重复信访: the petitioner raised this matter before")
    previous_petition_no: PlainText | None = Field(default=None, max_length=64)
