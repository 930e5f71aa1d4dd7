"""Decode: what a consumer pays per record before its handler runs, and a service per stored event it folds.

    .venv/bin/python bench/decode.py                 # 20,000 of each, best of 5 rounds
    .venv/bin/python bench/decode.py --records 50000

No infrastructure: the records and stored rows are built in memory, as the relay and the store hand them
over (a complaint as intake publishes it, a clock start as the SLA watch does). For each it times, in CPU
microseconds per record (`time.process_time`, the best of `--rounds` rounds), the consumer's whole `decode`
(CloudEvent headers, the topic's owner, the type wanted, the event read as a tolerant reader, the data's
storability) and the mapper's read of the same event from a stored row's data (a fold, a replay).
See bench/README.md.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from pipeline import console
from rich.table import Table

from eventcore.consumer import InboundMessage, decode
from eventcore.mapper import default_mapper
from eventcore.outbox import OutboxMessage
from eventcore.store import PendingEvent
from schemas.base import DomainEvent, EventMetadata
from schemas.complaints import ComplaintReceived
from schemas.reference import Category, Channel, ComplaintKind, Urgency
from schemas.sla import ClockKind, ClockMeasure, ClockScope, SlaClockStarted
from schemas.topics import COMPLAINTS, SLA, TOPIC_SOURCES

NOW = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


class Record(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    timestamp: int


def complaint() -> ComplaintReceived:
    return ComplaintReceived(
        case_id="case-0001",
        complaint_id="hotline:HL-20261203-0001",
        channel=Channel.HOTLINE,
        source_ref="HL-20261203-0001",
        received_at=NOW,
        kind=ComplaintKind.COMPLAINT,
        category=Category.SANITATION,
        description="小区3号楼楼道内长期堆放杂物和垃圾，无人清理，影响通行，存在消防隐患，请尽快处理。",
        address="芦洲区滨河路88号锦绣花园3号楼",
        compound_code="LZ-C-0042",
        street_code="LZ-S-03",
        urgency=Urgency.NORMAL,
        complainant_id="p-5f2c9e",
        caller_phone_masked="138****0000",
    )


def clock_started() -> SlaClockStarted:
    scope = ClockScope(category=Category.SANITATION, level="street", unit_code="LZ-S-03", street_code="LZ-S-03")
    return SlaClockStarted(
        case_id="case-0001",
        clock_id="case-0001/resolve/0",
        kind=ClockKind.RESOLVE,
        started_at=NOW,
        measure=ClockMeasure.WORKING,
        budget_seconds=3 * 8 * 3600.0,
        deadline=NOW + timedelta(days=3),
        at_risk_at=NOW + timedelta(days=2),
        scope=scope,
        policy_rule="sanitation-normal",
        policy_version="2026-11",
    )


def as_record(event: DomainEvent, topic: str) -> Record:
    """The record the relay publishes for the event (eventcore.relay: headers and value as sent)."""
    metadata = EventMetadata(correlation_id=event.case_id, causation_id=str(uuid.uuid4()), actor="bench")
    message = OutboxMessage.for_event(PendingEvent(event, metadata), topic=topic, source=TOPIC_SOURCES[topic])
    headers = [(name, str(value).encode()) for name, value in message.headers.items()]
    return Record(topic, 0, 1, message.key.encode(), message.payload.encode(), headers, 0)


def per_record_us(work: Callable[[], Any], records: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(records):
            work()
        best = min(best, time.process_time() - started)
    return best / records * 1e6


def _figures(event: DomainEvent, topic: str, records: int, rounds: int) -> tuple[str, str, str]:
    record, wanted, mapper = as_record(event, topic), {event.cloudevent_type()}, default_mapper()
    decoded = decode(record, wanted)
    assert isinstance(decoded, InboundMessage) and decoded.event == event, decoded
    stored = event.model_dump(mode="json")  # a stored row's data, as the store's JSON codec gives it
    assert mapper.to_event(event.event_type, event.schema_version, stored) == event
    consumed = per_record_us(lambda: decode(record, wanted), records, rounds)
    read = per_record_us(lambda: mapper.to_event(event.event_type, event.schema_version, stored), records, rounds)
    return f"{len(record.value):,}", f"{consumed:.1f}", f"{read:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    table = Table(title=f"decode, CPU µs per record (best of {args.rounds} rounds of {args.records:,})")
    for column in ("event", "bytes", "consumer decode", "stored row read"):
        table.add_column(column, justify="right")
    for event, topic in ((complaint(), COMPLAINTS), (clock_started(), SLA)):
        table.add_row(event.event_type, *_figures(event, topic, args.records, args.rounds))
    console.print(table)


if __name__ == "__main__":
    main()
