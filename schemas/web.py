"""The inbound contracts of the web form and of walk-ins registered at the counter."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.hotline import MAX_DESCRIPTION
from schemas.inbound import DistrictField, LabelText, LenientTime, PhoneText, PlainText


class WebComplaint(BaseModel):
    """A citizen's online complaint; the `Idempotency-Key` header makes a resubmission harmless."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
    schema_version: ClassVar[int] = 2  # v2: category and phone optional, labels and times read leniently

    submitted_at: LenientTime = Field(default=None, description="Defaults to when intake got it")
    name: PlainText = Field(default="", max_length=64, description="personal data")
    phone: PhoneText = Field(default="", description="personal data")
    category: LabelText = Field(default="", description="The category the user picked; empty: classified")
    kind: LabelText = ""
    description: PlainText = Field(default="", max_length=MAX_DESCRIPTION)
    address: PlainText = Field(default="", max_length=500)
    street: PlainText = Field(default="", max_length=64)
    compound: PlainText = Field(default="", max_length=64)
    district: DistrictField = ""
    urgency: LabelText = ""


class WalkInComplaint(BaseModel):
    """A visitor's complaint typed in by counter staff; the staff id becomes the event's actor."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)
    schema_version: ClassVar[int] = 2  # v2: category optional, labels, phones and times read leniently

    staff_id: PlainText = Field(min_length=1, max_length=64, description="Who registered it (the actor)")
    counter: PlainText = Field(default="", max_length=64, description="Which reception counter")
    registration_no: PlainText = Field(min_length=1, max_length=64, description="The counter's own number")
    visited_at: LenientTime = Field(default=None, description="Defaults to when intake got it")
    visitor_name: PlainText = Field(default="", max_length=64, description="personal data")
    visitor_phone: PhoneText = Field(default="", description="personal data")
    category: LabelText = Field(default="", description="Empty: classified from the description")
    kind: LabelText = ""
    description: PlainText = Field(default="", max_length=MAX_DESCRIPTION)
    address: PlainText = Field(default="", max_length=500)
    street: PlainText = Field(default="", max_length=64)
    compound: PlainText = Field(default="", max_length=64)
    district: DistrictField = ""
    urgency: LabelText = ""
