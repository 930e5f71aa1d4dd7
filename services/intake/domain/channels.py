"""Each channel's record mapped onto one Submission: what only the channel has goes to channel_details.

Kinds, urgencies, phones and times are read leniently here (services/intake/domain/reading.py); what had
to be assumed becomes a flag on the complaint. The category is decided later, for the whole batch at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas.complaints import IntakeFlag
from schemas.hotline import HotlineOrder
from schemas.open311 import ServiceRequestForm
from schemas.petitions import Petition
from schemas.reference import Category, Channel, ComplaintKind, Urgency
from schemas.web import WalkInComplaint, WebComplaint
from services.intake.domain.reading import read_kind, read_phone, read_urgency
from services.intake.domain.submission import Submission


@dataclass(frozen=True)
class Read:
    """What the lenient readings of one record came to, ready for a Submission."""

    kind: ComplaintKind
    urgency: Urgency
    caller_phone: str
    received_at: datetime
    time_assigned: bool
    flags: tuple[IntakeFlag, ...]
    said: tuple[str, str, str]

    def fields(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "urgency": self.urgency,
            "caller_phone": self.caller_phone,
            "received_at": self.received_at,
            "time_assigned": self.time_assigned,
            "flags": self.flags,
            "said": self.said,
        }


def read_fields(kind: str, urgency: str, phone: str, when: datetime | None, now: datetime) -> Read:
    """Kind, urgency, callback number and time; a missing or unreadable time is intake's clock, flagged."""
    kind_read, urgency_read, phone_read = read_kind(kind), read_urgency(urgency), read_phone(phone)
    flags = [r.flag for r in (kind_read, urgency_read, phone_read) if r.flag is not None]
    if when is None:
        flags.append(IntakeFlag.RECEIVED_AT_ASSIGNED)
    return Read(
        kind_read.value,
        urgency_read.value,
        phone_read.value,
        when or now,
        when is None,
        tuple(flags),
        (kind_read.as_sent, urgency_read.as_sent, phone_read.as_sent),
    )


def from_hotline_order(
    order: HotlineOrder,
    *,
    actor: str,
    raw: bytes,
    original: dict[str, Any],
    now: datetime,
    platform: str = "",
    **placed: Any,
) -> Submission:
    """`placed`: where intake placed it (district) and where a refusal of it is filed (dead_letter_*)."""
    read = read_fields(order.kind, order.urgency, order.caller_phone, order.received_at, now)
    return Submission(
        channel=Channel.HOTLINE,
        source_ref=order.order_no,
        category_label=order.category,
        category_code=order.category_code,
        description=order.description,
        address=order.address,
        street=order.street,
        compound=order.compound,
        caller_name=order.caller_name,
        actor=actor,
        channel_details={"order_no": order.order_no},
        original=original,
        raw=raw,
        platform=platform,
        **read.fields(),
        **placed,
    )


def from_petition(petition: Petition, *, actor: str, raw: bytes, now: datetime) -> Submission:
    read = read_fields(petition.kind, petition.urgency, petition.petitioner_phone, petition.received_at, now)
    return Submission(
        channel=Channel.PETITION,
        source_ref=petition.petition_no,
        category_label=petition.category,
        description=petition.matter,
        address=petition.address,
        street=petition.street,
        compound=petition.compound,
        caller_name=petition.petitioner_name,
        platform="petition",
        **read.fields(),
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
    read = read_fields(
        complaint.kind, complaint.urgency, complaint.phone, complaint.submitted_at, received_at
    )
    # A web form without its own time was simply sent now: that is not an assumption worth a flag.
    flags = tuple(f for f in read.flags if f is not IntakeFlag.RECEIVED_AT_ASSIGNED)
    return Submission(
        channel=Channel.WEB,
        source_ref=idempotency_key,
        category_label=complaint.category,
        description=complaint.description,
        address=complaint.address,
        street=complaint.street,
        compound=complaint.compound,
        caller_name=complaint.name,
        platform="web",
        **{**read.fields(), "flags": flags},
        actor="web-form",
        channel_details={"idempotency_key": idempotency_key, "form": "caseline-web"},
        original=complaint.model_dump(mode="json"),
        raw=raw,
    )


def from_walk_in(complaint: WalkInComplaint, *, raw: bytes, actor: str, now: datetime) -> Submission:
    """`actor` comes from the desk's credential (`<desk>/<staff id>`); the staff id is only recorded."""
    read = read_fields(complaint.kind, complaint.urgency, complaint.visitor_phone, complaint.visited_at, now)
    return Submission(
        channel=Channel.WALK_IN,
        source_ref=complaint.registration_no,
        category_label=complaint.category,
        description=complaint.description,
        address=complaint.address,
        street=complaint.street,
        compound=complaint.compound,
        caller_name=complaint.visitor_name,
        platform="walk_in",
        **read.fields(),
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
    phone = read_phone(form.phone or "")
    # Open311 names its service by Caseline's own code; a request without a phone still has its contact
    # fields (e-mail, account), so only a phone given but unusable is flagged.
    flags = (phone.flag,) if phone.flag is not None and form.phone else ()
    return Submission(
        channel=Channel.WEB,
        source_ref=request_id,
        received_at=received_at,
        time_assigned=True,
        kind=ComplaintKind.COMPLAINT,
        category_label=category.value,
        description=form.description or "",
        address=form.address_string or "",
        street="",
        compound="",
        urgency=urgency,
        caller_name=name,
        caller_phone=phone.value,
        platform="open311",
        flags=flags,
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
