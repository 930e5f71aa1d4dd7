"""From a channel's submission to the one ComplaintReceived every channel ends in (or a ComplaintMerged)."""

from __future__ import annotations

import uuid
from typing import Any

from district.registry import District
from schemas.categorisation import CategoryDecision, CategorySource
from schemas.complaints import ComplaintMerged, ComplaintReceived, IntakeFlag
from schemas.personal_data import mask_contacts
from schemas.reference import FOUNDING_DISTRICT, Channel
from services.intake.domain.addresses import Location
from services.intake.domain.merge import MergeDecision
from services.intake.domain.personal_data import complainant_id, mask_phone, pseudonym
from services.intake.domain.submission import PERSONAL_FIELDS, Submission

_CASE_NAMESPACE = uuid.UUID("8f6d2d1e-5b0c-4c59-9a53-2f1f4f0c7a11")


def complaint_id_for(channel: Channel, source_ref: str, district: District | None = None) -> str:
    """Unique across districts: the channel's key is only unique within the district that issued it."""
    local = f"{channel.value}:{source_ref}"
    return district.scoped_id(local) if district is not None else local


def pseudonym_key(secret: str, district: District | None) -> str:
    """Pseudonyms are district-local, so one district's records cannot link a caller to another's.

    The founding district (no id prefix) keeps the key its pseudonyms were made with before tenancy.
    """
    return secret if district is None or not district.id_prefix else f"{secret}:{district.code}"


def case_id_for(complaint_id: str) -> str:
    """Deterministic, so a redelivered complaint can never open a second case."""
    return f"case-{uuid.uuid5(_CASE_NAMESPACE, complaint_id).hex[:16]}"


def complaint_stream(complaint_id: str) -> str:
    return f"complaint-{complaint_id}"


def pseudonym_of(submission: Submission, secret: str, generation: int = 0) -> str:
    """The complainant's pseudonym; `generation` > 0 once the person's data has been erased (that many times)."""
    secret = pseudonym_key(secret, submission.district)
    if submission.caller_phone:
        return complainant_id(submission.caller_phone, secret, generation)
    if submission.contact_key:
        # Keyed on the contact itself: hashing only its digits made every e-mail-only complainant one person.
        return pseudonym(f"contact:{submission.contact_key.lower()}", secret, generation)
    # Nobody to recognise again: a pseudonym of its own, stable for this complaint.
    anonymous = complaint_id_for(submission.channel, submission.source_ref, submission.district)
    return pseudonym(f"anonymous:{anonymous}", secret, generation)


def masked_original(original: dict[str, Any]) -> dict[str, Any]:
    """The channel's record without personal data: phones masked, names and e-mails starred, and contact
    details inside the free text masked (schemas.personal_data)."""
    masked: dict[str, Any] = {}
    for key, value in original.items():
        if key in PERSONAL_FIELDS and isinstance(value, str) and value:
            masked[key] = mask_phone(value) if "phone" in key or key == "联系电话" else "*"
        else:
            masked[key] = _masked_text(value)
    return masked


def _masked_text(value: Any) -> Any:
    if isinstance(value, str):
        return mask_contacts(value)
    if isinstance(value, list):
        return [_masked_text(item) for item in value]
    if isinstance(value, dict):
        return {key: _masked_text(item) for key, item in value.items()}
    return value


def received_complaint(submission: Submission, location: Location, secret: str) -> ComplaintReceived:
    complaint_id = complaint_id_for(submission.channel, submission.source_ref, submission.district)
    return ComplaintReceived(
        case_id=case_id_for(complaint_id),
        complaint_id=complaint_id,
        district=submission.district.code if submission.district is not None else FOUNDING_DISTRICT,
        channel=submission.channel,
        source_ref=submission.source_ref,
        received_at=submission.received_at,
        kind=submission.kind,
        category=submission.category,
        description=submission.description,
        address=submission.address,
        street_name=submission.street or None,
        compound_name=submission.compound or None,
        compound_code=location.compound.code if location.compound else None,
        street_code=location.street.code if location.street else None,
        urgency=submission.urgency,
        complainant_id=pseudonym_of(submission, secret),
        caller_phone_masked=mask_phone(submission.caller_phone),
        channel_details=submission.channel_details,
        compound_resolution=location.resolution.value,
        compound_confidence=location.confidence,
        needs_triage=location.needs_triage,
        original=masked_original(submission.original) if submission.original else None,
        category_decision=submission.category_decision,
        flags=complaint_flags(submission),
    )


def complaint_flags(submission: Submission) -> list[IntakeFlag]:
    """What reading the record assumed, and what deciding its category found, in one list."""
    flags = list(submission.flags)
    decision: CategoryDecision | None = submission.category_decision
    if decision is not None:
        if decision.source is CategorySource.CLASSIFIER and decision.platform_label:
            flags.append(IntakeFlag.CATEGORY_UNMAPPED_LABEL)
        if decision.needs_triage:
            flags.append(IntakeFlag.CATEGORY_TRIAGE)
        if decision.contradiction:
            flags.append(IntakeFlag.CATEGORY_CONTRADICTION)
    return flags


def merged_complaint(received: ComplaintReceived, decision: MergeDecision) -> ComplaintMerged:
    return ComplaintMerged(
        case_id=decision.case_id,
        complaint_id=received.complaint_id,
        channel=received.channel,
        source_ref=received.source_ref,
        received_at=received.received_at,
        category=received.category,
        compound_code=received.compound_code,
        complainant_id=received.complainant_id,
        caller_phone_masked=received.caller_phone_masked,
        merge_rule=decision.rule,
        merge_reason=decision.reason,
        complainant_count=decision.complainant_count,
        category_decision=received.category_decision,
        flags=received.flags,
    )
