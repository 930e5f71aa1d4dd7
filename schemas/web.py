"""The inbound contracts of the web form and of walk-ins registered at the counter."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.hotline import MAX_DESCRIPTION
from schemas.inbound import (
    AwareDatetime,
    CategoryField,
    DistrictField,
    KindField,
    OptionalPhone,
    Phone,
    PlainText,
    UrgencyField,
)
from schemas.reference import ComplaintKind, Urgency


class WebComplaint(BaseModel):
    """A citizen's online complaint; the `Idempotency-Key` header makes a resubmission harmless."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    submitted_at: AwareDatetime | None = Field(default=None, description="Defaults to when intake got it")
    name: PlainText = Field(default="", max_length=64, description="personal data")
    phone: Phone = Field(max_length=32, description="personal data")
    category: CategoryField
    kind: KindField = ComplaintKind.COMPLAINT
    description: PlainText = Field(min_length=1, max_length=MAX_DESCRIPTION)
    address: PlainText = Field(default="", max_length=500)
    street: PlainText = Field(default="", max_length=64)
    compound: PlainText = Field(default="", max_length=64)
    district: DistrictField = ""
    urgency: UrgencyField = Urgency.NORMAL


class WalkInComplaint(BaseModel):
    """A visitor's complaint typed in by counter staff; the staff id becomes the event's actor."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    staff_id: PlainText = Field(min_length=1, max_length=64, description="Who registered it (the actor)")
    counter: PlainText = Field(default="", max_length=64, description="Which reception counter")
    registration_no: PlainText = Field(min_length=1, max_length=64, description="The counter's own number")
    visited_at: AwareDatetime
    visitor_name: PlainText = Field(default="", max_length=64, description="personal data")
    visitor_phone: OptionalPhone = Field(default="", max_length=32, description="personal data")
    category: CategoryField
    kind: KindField = ComplaintKind.COMPLAINT
    description: PlainText = Field(min_length=1, max_length=MAX_DESCRIPTION)
    address: PlainText = Field(default="", max_length=500)
    street: PlainText = Field(default="", max_length=64)
    compound: PlainText = Field(default="", max_length=64)
    district: DistrictField = ""
    urgency: UrgencyField = Urgency.NORMAL
