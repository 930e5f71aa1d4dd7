"""From a channel's record to the one ComplaintReceived every channel ends in."""

from __future__ import annotations

import uuid

from district.directory import Directory
from schemas.complaints import ComplaintReceived
from schemas.hotline import HotlineOrder
from schemas.reference import Channel
from services.intake.domain.personal_data import complainant_id, mask_phone

_CASE_NAMESPACE = uuid.UUID("8f6d2d1e-5b0c-4c59-9a53-2f1f4f0c7a11")


def complaint_id_for(channel: Channel, source_ref: str) -> str:
    return f"{channel.value}:{source_ref}"


def case_id_for(complaint_id: str) -> str:
    """Deterministic, so a redelivered complaint can never open a second case."""
    return f"case-{uuid.uuid5(_CASE_NAMESPACE, complaint_id).hex[:16]}"


def complaint_stream(complaint_id: str) -> str:
    return f"complaint-{complaint_id}"


def receive_hotline_order(
    order: HotlineOrder, directory: Directory, pseudonym_secret: str
) -> ComplaintReceived:
    complaint_id = complaint_id_for(Channel.HOTLINE, order.order_no)
    compound = directory.find_compound(order.compound) if order.compound else None
    compound = compound or (directory.find_compound_in_address(order.address) if order.address else None)
    street = directory.find_street(order.street) if order.street else None
    street_code = compound.street_code if compound else (street.code if street else None)
    return ComplaintReceived(
        case_id=case_id_for(complaint_id),
        complaint_id=complaint_id,
        channel=Channel.HOTLINE,
        source_ref=order.order_no,
        received_at=order.received_at,
        kind=order.kind,
        category=order.category,
        description=order.description,
        address=order.address,
        street_name=order.street or None,
        compound_name=order.compound or None,
        compound_code=compound.code if compound else None,
        street_code=street_code,
        urgency=order.urgency,
        complainant_id=complainant_id(order.caller_phone, pseudonym_secret),
        caller_phone_masked=mask_phone(order.caller_phone),
        channel_details={"order_no": order.order_no},
    )
