"""Helpers for the SLA watch's tests: publish case facts as routing would, and a tiny policy."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer
from prometheus_client import generate_latest
from prometheus_client.registry import CollectorRegistry

from eventcore.outbox import OutboxMessage
from eventcore.store import PendingEvent
from schemas.base import DomainEvent, EventMetadata
from schemas.cases import CaseOpened, CaseRouted
from schemas.reference import FOUNDING_DISTRICT, Category, Channel, Level, Urgency
from schemas.topics import CASES
from services.sla.adapters.metrics import BrokerFigures, SlaCollector
from services.sla.adapters.watch import Watch

TINY_POLICY = """\
version: tiny-test
at_risk_share: 0.5
rules:
  - id: tiny
    dispatch: 1 hours
    contact: 1 hours
    resolve: {resolve_seconds} seconds
    task: 1 hours
    escalate_on_breach: true
"""


def write_tiny_policy(folder: Path, resolve_seconds: float) -> Path:
    path = folder / "tiny_policy.yaml"
    path.write_text(TINY_POLICY.format(resolve_seconds=resolve_seconds), encoding="utf-8")
    return path


def opened_and_routed(
    case_id: str,
    street: str = "S01",
    compound: str | None = None,
    at: datetime | None = None,
    district: str = FOUNDING_DISTRICT,
) -> list[DomainEvent]:
    at = at or datetime.now(UTC)
    return [
        CaseOpened(
            case_id=case_id,
            complaint_id=f"hotline:{case_id}",
            district=district,
            channel=Channel.HOTLINE,
            category=Category.SANITATION,
            urgency=Urgency.NORMAL,
            received_at=at,
            compound_code=compound,
            street_code=street,
            complainant_id="p-test",
        ),
        CaseRouted(
            case_id=case_id,
            level=Level.STREET,
            unit_code=street,
            unit_name="street",
            rule_id="test",
            rules_version="1",
            reason="test",
        ),
    ]


async def publish(
    bootstrap: str,
    events: Sequence[DomainEvent],
    topic: str = CASES,
    district: str = FOUNDING_DISTRICT,
    spacing_seconds: float = 0.0,
) -> None:
    """As routing's relay would: CloudEvents keyed by case id, the district in their `ce_district`; with
    `spacing_seconds`, one at a time, as a trickle."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    try:
        for event in events:
            metadata = EventMetadata(correlation_id=event.case_id, actor="test-routing", district=district)
            pending = PendingEvent(event, metadata)
            message = OutboxMessage.for_event(pending, topic=topic, source="/caseline/routing")
            await producer.send_and_wait(
                topic,
                key=message.key.encode(),
                value=message.payload.encode(),
                headers=[(k, v.encode()) for k, v in message.headers.items()],
            )
            if spacing_seconds:
                await asyncio.sleep(spacing_seconds)
    finally:
        await producer.stop()


def scrape_sla(watch: Watch, figures: BrokerFigures, districts: Sequence[str] = (FOUNDING_DISTRICT,)) -> str:
    """The SLA watch's own figures, as its /metrics serves them beside the runtime's."""
    registry = CollectorRegistry()
    registry.register(SlaCollector(watch, figures, districts))
    return generate_latest(registry).decode()
