"""Events intake publishes on caseline.complaints.v1."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from schemas.base import DomainEvent
from schemas.categorisation import CategoryDecision
from schemas.personal_data import FreeText
from schemas.reference import FOUNDING_DISTRICT, Category, Channel, ComplaintKind, DistrictCode, Urgency


class IntakeFlag(StrEnum):
    """What intake had to resolve, guess or assume to receive a complaint instead of refusing it."""

    UNKNOWN_KIND = "unknown_kind"  # the request kind was not recognised: taken as a complaint
    UNKNOWN_URGENCY = "unknown_urgency"  # the urgency was not recognised: taken as normal
    NO_CALLBACK_NUMBER = "no_callback_number"  # no usable phone number: nobody can be called back by phone
    RECEIVED_AT_ASSIGNED = "received_at_assigned"  # no readable time given: intake's clock stands in
    CATEGORY_UNMAPPED_LABEL = "category_unmapped_label"  # a label the platform's taxonomy does not know
    CATEGORY_TRIAGE = "category_triage"  # the category is uncertain: the centre's triage decides it
    CATEGORY_CONTRADICTION = "category_contradiction"  # the label and the text disagree


class ComplaintReceived(DomainEvent):
    """A complaint entered Caseline through one of the four channels."""

    event_type = "ComplaintReceived"

    complaint_id: str = Field(
        description="Stable id derived from the channel's own key (e.g. hotline order number)"
    )
    district: DistrictCode = Field(
        default=FOUNDING_DISTRICT, description="The district whose directory resolved it and which handles it"
    )
    channel: Channel
    source_ref: str = Field(
        description="The channel's own reference: hotline order_no, petition no, request id"
    )
    received_at: datetime = Field(description="When the complainant contacted the channel (with offset)")
    kind: ComplaintKind
    category: Category
    description: FreeText
    address: FreeText
    street_name: str | None = Field(default=None, description="Street as given by the channel, unresolved")
    compound_name: str | None = Field(
        default=None, description="Compound as given by the channel, unresolved"
    )
    compound_code: str | None = Field(default=None, description="Directory code, when intake resolved it")
    street_code: str | None = Field(default=None, description="Directory code, when intake resolved it")
    urgency: Urgency
    complainant_id: str = Field(description="Pseudonymous, stable per phone number; never the number itself")
    caller_phone_masked: str = Field(description="e.g. 138****0000; the full number stays in intake's store")
    channel_details: dict[str, Any] = Field(default_factory=dict, description="What only this channel has")
    compound_resolution: str | None = Field(
        default=None,
        description="How the compound was found: compound_field, compound_alias, address_name, address_alias, "
        "street_only (no compound, street known) or manual_triage (neither: the centre must place it)",
    )
    compound_confidence: float | None = Field(
        default=None, ge=0, le=1, description="How sure intake is of compound_code (1.0 exact field match)"
    )
    needs_triage: bool = Field(default=False, description="No compound and no street: the centre places it")
    original: dict[str, Any] | None = Field(
        default=None,
        description="The channel's record for audit, personal fields masked; the full bytes stay in intake",
    )
    category_decision: CategoryDecision | None = Field(
        default=None,
        description="How the category was decided (absent on complaints from before it was kept)",
    )
    flags: list[IntakeFlag] = Field(
        default_factory=list, description="What intake resolved or assumed instead of refusing the record"
    )


class ComplaintMerged(DomainEvent):
    """A further complaint about a problem an open case already covers: its complainant joins that case.

    `case_id` is the existing case the complaint was linked to (the key, so it follows that case's order).
    """

    event_type = "ComplaintMerged"

    complaint_id: str = Field(description="Id of the merged complaint (as ComplaintReceived would have had)")
    channel: Channel
    source_ref: str
    received_at: datetime
    category: Category
    compound_code: str | None
    complainant_id: str
    caller_phone_masked: str
    merge_rule: str = Field(description="The merge rule that matched, so the merge can be explained")
    merge_reason: str
    complainant_count: int = Field(ge=2, description="People who have now complained about this case")
    category_decision: CategoryDecision | None = Field(
        default=None, description="How this complaint's own category was decided"
    )
    flags: list[IntakeFlag] = Field(
        default_factory=list, description="What intake resolved or assumed instead of refusing the record"
    )
