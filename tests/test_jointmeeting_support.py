"""Test data for the joint meeting: escalations, reports and a file built from them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from aiokafka import AIOKafkaProducer

from deadlines.settings import load_timing
from district.registry import load_districts
from eventcore.outbox import OutboxMessage
from eventcore.store import PendingEvent
from schemas.base import EventMetadata
from schemas.bureau import BureauReport, EvidenceRef, ReportKind
from schemas.cases import CaseEscalated, EscalationTrigger
from schemas.reference import Bureau, Category
from schemas.topics import CASES
from services.jointmeeting.domain.files import file_id_for, open_file
from services.jointmeeting.domain.rules import load_rules
from services.jointmeeting.domain.state import FileState, fold

T = TypeVar("T")

NOW = datetime(2026, 11, 18, 1, 30, tzinfo=UTC)
RULES = load_rules()
TIMING = load_timing(load_districts())  # every district's SLA policy and the working calendar


def fire_hazard_escalation(case_id: str = "case-fire-1", compound: str | None = "CP0001") -> CaseEscalated:
    return CaseEscalated(
        case_id=case_id,
        trigger=EscalationTrigger.CROSS_DEPARTMENT,
        category=Category.FIRE_HAZARD,
        compound_code=compound,
        street_code="ST01",
        bureaus=[Bureau.FIRE_RESCUE, Bureau.STREET_OFFICE, Bureau.CENTRE],
        lead_bureau=Bureau.FIRE_RESCUE,
        rule_id="joint-fire-hazard",
        rules_version="test",
        reason="Fire hazards need fire-and-rescue enforcement",
    )


def opened_fire_file(case_id: str = "case-fire-1") -> FileState:
    state = fold(open_file(fire_hazard_escalation(case_id), NOW, RULES, file_id_for(case_id), TIMING))
    assert state is not None
    return state


def report(
    task_id: str,
    bureau: Bureau,
    kind: ReportKind,
    report_id: str = "r-1",
    *,
    reason: str = "",
    at: datetime = NOW + timedelta(hours=1),
) -> BureauReport:
    evidence = [EvidenceRef(kind="photo", ref="dms://photos/1")] if kind is ReportKind.DONE else []
    return BureauReport(
        report_id=report_id,
        task_id=task_id,
        bureau=bureau,
        kind=kind,
        evidence=evidence,
        reason=reason,
        reported_at=at,
    )


OFFICE = {"Authorization": "Bearer dev-office"}


def bureau_auth(bureau: Bureau) -> dict[str, str]:
    return {"Authorization": f"Bearer dev-bureau-{bureau.value}"}


async def publish_escalation(bootstrap: str, escalation: CaseEscalated) -> None:
    """Put a CaseEscalated on the case topic exactly as routing's relay would (ce_district included)."""
    metadata = EventMetadata(correlation_id=escalation.case_id, actor="routing", district=escalation.district)
    message = OutboxMessage.for_event(
        PendingEvent(escalation, metadata), topic=CASES, source="/caseline/routing"
    )
    await send(bootstrap, CASES, message.key, message.payload.encode(), list(message.headers.items()))


async def send(
    bootstrap: str, topic: str, key: str, value: bytes, headers: list[tuple[str, str]] | None = None
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic, value, key=key.encode(), headers=[(k, v.encode()) for k, v in headers or []]
        )
    finally:
        await producer.stop()


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 60) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{getattr(check, '__name__', check)} did not happen within {timeout}s")
        await asyncio.sleep(0.2)
