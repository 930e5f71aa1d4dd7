"""Each channel's record mapped onto one Submission: what only the channel has goes to channel_details."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.hotline import HotlineOrder
from schemas.open311 import ServiceRequestForm
from schemas.petitions import Petition
from schemas.reference import Category, Channel, ComplaintKind, Urgency
from schemas.web import WalkInComplaint, WebComplaint
from services.intake.domain.submission import Submission


def from_hotline_order(
    order: HotlineOrder, *, actor: str, raw: bytes, original: dict[str, Any]
) -> Submission:
    return Submission(
        channel=Channel.HOTLINE,
        source_ref=order.order_no,
        received_at=order.received_at,
        kind=order.kind,
        category=order.category,
        description=order.description,
        address=order.address,
        street=order.street,
        compound=order.compound,
        urgency=order.urgency,
        caller_name=order.caller_name,
        caller_phone=order.caller_phone,
        actor=actor,
        channel_details={"order_no": order.order_no},
        original=original,
        raw=raw,
    )


def from_petition(petition: Petition, *, actor: str, raw: bytes) -> Submission:
    return Submission(
        channel=Channel.PETITION,
        source_ref=petition.petition_no,
        received_at=petition.received_at,
        kind=petition.kind,
        category=petition.category,
        description=petition.matter,
        address=petition.address,
        street=petition.street,
        compound=petition.compound,
        urgency=petition.urgency,
        caller_name=petition.petitioner_name,
        caller_phone=petition.petitioner_phone,
        contact_key=f"petitioner:{petition.petitioner_name}",
        actor=actor,
        channel_details={
            "petition_no": petition.petition_no,
            "form": petition.form.value,
            "is_repeat": petition.is_repeat,
            "previous_petition_no": petition.previous_petition_no,
            "attachments": [a.model_dump() for a in petition.attachments],
        },
        original=petition.model_dump(mode="json"),
        raw=raw,
    )


def from_web(
    complaint: WebComplaint, *, idempotency_key: str, received_at: datetime, raw: bytes
) -> Submission:
    return Submission(
        channel=Channel.WEB,
        source_ref=idempotency_key,
        received_at=complaint.submitted_at or received_at,
        time_assigned=complaint.submitted_at is None,
        kind=complaint.kind,
        category=complaint.category,
        description=complaint.description,
        address=complaint.address,
        street=complaint.street,
        compound=complaint.compound,
        urgency=complaint.urgency,
        caller_name=complaint.name,
        caller_phone=complaint.phone,
        actor="web-form",
        channel_details={"idempotency_key": idempotency_key, "form": "caseline-web"},
        original=complaint.model_dump(mode="json"),
        raw=raw,
    )


def from_walk_in(complaint: WalkInComplaint, *, raw: bytes, actor: str) -> Submission:
    """`actor` comes from the desk's credential (`<desk>/<staff id>`); the staff id is only recorded."""
    return Submission(
        channel=Channel.WALK_IN,
        source_ref=complaint.registration_no,
        received_at=complaint.visited_at,
        kind=complaint.kind,
        category=complaint.category,
        description=complaint.description,
        address=complaint.address,
        street=complaint.street,
        compound=complaint.compound,
        urgency=complaint.urgency,
        caller_name=complaint.visitor_name,
        caller_phone=complaint.visitor_phone,
        actor=actor,
        channel_details={
            "registration_no": complaint.registration_no,
            "staff_id": complaint.staff_id,
            "counter": complaint.counter,
        },
        original=complaint.model_dump(mode="json"),
        raw=raw,
    )


def from_open311(
    form: ServiceRequestForm,
    *,
    request_id: str,
    category: Category,
    urgency: Urgency,
    received_at: datetime,
    client: str,
    raw: bytes,
) -> Submission:
    name = " ".join(part for part in (form.last_name, form.first_name) if part)
    original = form.model_dump(mode="json", exclude={"api_key"}, exclude_none=True)
    return Submission(
        channel=Channel.WEB,
        source_ref=request_id,
        received_at=received_at,
        time_assigned=True,
        kind=ComplaintKind.COMPLAINT,
        category=category,
        description=form.description or "",
        address=form.address_string or "",
        street="",
        compound="",
        urgency=urgency,
        caller_name=name,
        caller_phone=form.phone or "",
        contact_key=form.email or form.account_id or form.device_id or "",
        actor=client,
        channel_details={
            "open311": True,
            "service_request_id": request_id,
            "service_code": form.service_code,
            "lat": form.lat,
            "long": form.long,
            "address_id": form.address_id,
            "media_url": form.media_url,
            "attributes": form.attributes,
        },
        original=original,
        raw=raw,
    )
