"""Test data: domain events and hotline work orders."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from eventcore.store import PendingEvent
from schemas.base import EventMetadata
from schemas.cases import CaseOpened
from schemas.reference import Category, Channel, Urgency

BEIJING = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Record:
    """A consumer record as aiokafka hands it over."""

    topic: str
    partition: int
    offset: int
    headers: list[tuple[str, bytes]]
    value: bytes | None
    key: bytes | None = None


def case_opened(case_id: str, category: Category = Category.SANITATION) -> PendingEvent:
    event = CaseOpened(
        case_id=case_id,
        complaint_id=f"hotline:{case_id}",
        channel=Channel.HOTLINE,
        category=category,
        urgency=Urgency.NORMAL,
        received_at=datetime(2026, 11, 18, 9, 30, tzinfo=BEIJING),
        compound_code=None,
        street_code=None,
        complainant_id="p-test",
    )
    return PendingEvent(event, EventMetadata(correlation_id=case_id, actor="test"))
