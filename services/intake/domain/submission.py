"""What every channel hands to intake: one complaint, channel-neutral, with its personal data still inside."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from district.registry import District
from schemas.categorisation import CategoryDecision
from schemas.complaints import IntakeFlag
from schemas.reference import Category, Channel, ComplaintKind, Urgency
from services.intake.domain.personal_data import normalise_phone


@dataclass(frozen=True)
class Submission:
    channel: Channel
    source_ref: str  # the channel's own key: order no, petition no, idempotency key, registration no
    received_at: datetime
    kind: ComplaintKind
    category_label: str  # the label, code or path as sent ("" when none); the taxonomy reads it
    description: str
    address: str
    street: str
    compound: str
    urgency: Urgency
    caller_name: str  # personal data: only intake's complainants table keeps it
    caller_phone: str  # personal data
    actor: str  # who registered it: a feed, an API client, a staff id
    contact_key: str = ""  # what identifies the complainant when there is no phone (e.g. an e-mail)
    channel_details: dict[str, Any] = field(default_factory=dict)
    original: dict[str, Any] = field(default_factory=dict)  # the record as sent, for audit (masked on events)
    raw: bytes = b""  # the record's original bytes, kept in intake's own store
    time_assigned: bool = False  # received_at is intake's clock, not the sender's: not part of the content
    dead_letter_source: str = ""  # where a refusal of this submission is filed (e.g. hotline-file:x.csv)
    dead_letter_ref: str = ""  # and where in it (e.g. line 42)
    # The district the record belongs to, placed by intake from what the record names (None: the founding
    # district, as before tenancy). Not part of the fingerprint: a record naming its district explicitly
    # is the same record as the one naming none, when both mean the same district.
    district: District | None = None
    category_code: str = ""  # the taxonomy's code, when the platform exports it apart from the label
    platform: str = ""  # whose taxonomy reads the labels ("": the channel's default)
    flags: tuple[IntakeFlag, ...] = ()  # what was assumed while reading the record
    # The sender's kind, urgency and phone as the fingerprint sees them: the canonical value when recognised,
    # else the text as written, so the same record always has the same fingerprint, whatever intake learns.
    said: tuple[str, str, str] = ("", "", "")
    category_decision: CategoryDecision | None = None  # decided by intake for the whole batch at once
    dead_letter_details: dict[str, Any] = field(default_factory=dict)  # how to read it again (format, header)

    @property
    def category(self) -> Category:
        assert self.category_decision is not None, "categories are decided before complaints are made"
        return self.category_decision.category

    def said_category(self) -> str:
        """The category as sent, for the fingerprint: the Caseline code when it was one (as before intake
        read platform labels), else the label as written, never what the classifier or mapping made of it."""
        decision = self.category_decision
        if decision is not None and decision.source.value == "platform_label":
            return decision.category.value
        return "\x1d".join(part for part in (self.category_label, self.category_code) if part)

    def fingerprint(self) -> str:
        """What the sender said, hashed: the same key with another fingerprint is a conflict, not a redelivery."""
        parts = (
            self.source_ref,
            "" if self.time_assigned else self.received_at.isoformat(),
            self.said[0] or self.kind.value,
            self.said_category(),
            self.description,
            self.address,
            self.street,
            self.compound,
            self.said[1] or self.urgency.value,
            self.caller_name,
            normalise_phone(self.said[2]) if self.said[2] else normalise_phone(self.caller_phone),
            self.contact_key,
            repr(sorted(self.channel_details.items())),
        )
        return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()


PERSONAL_FIELDS = frozenset(
    {
        "caller_name",
        "caller_phone",
        "petitioner_name",
        "petitioner_phone",
        "visitor_name",
        "visitor_phone",
        "name",
        "phone",
        "first_name",
        "last_name",
        "email",
        "来电人",
        "联系电话",
    }
)
