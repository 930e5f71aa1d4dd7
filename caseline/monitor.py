"""Live counts of what flows through the topics, for `caseline up` (each event counted once by its id)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Self

from aiokafka import ConsumerRecord
from rich.console import Group
from rich.live import Live
from rich.table import Table

from eventcore.cloudevents import InvalidCloudEvent, parse_record
from eventcore.kafka import new_consumer
from schemas.reference import FOUNDING_DISTRICT
from schemas.topics import CASES, COMPLAINTS, JOINT_MEETING


@dataclass
class FlowCounts:
    received: int = 0
    routed: Counter[str] = field(default_factory=Counter)
    escalated: int = 0
    files: int = 0
    tasks: Counter[str] = field(default_factory=Counter)
    received_by_district: Counter[str] = field(default_factory=Counter)
    _seen: set[str] = field(default_factory=set)

    def record(
        self, event_id: str, ce_type: str, data: dict[str, object], district: str = FOUNDING_DISTRICT
    ) -> bool:
        """Count an event; False for one already counted (a republish or a redelivery)."""
        if event_id in self._seen:
            return False
        self._seen.add(event_id)
        if ce_type.startswith("caseline.ComplaintReceived."):
            self.received += 1
            self.received_by_district[district] += 1
        elif ce_type.startswith("caseline.CaseRouted."):
            self.routed[str(data.get("level"))] += 1
        elif ce_type.startswith("caseline.CaseEscalated."):
            self.escalated += 1
        elif ce_type.startswith("caseline.JointMeetingFileOpened."):
            self.files += 1
        elif ce_type.startswith("caseline.EnforcementTaskAssigned."):
            self.tasks[str(data.get("bureau"))] += 1
        return True

    @property
    def handled(self) -> int:
        return sum(self.routed.values()) + self.escalated

    def render(self) -> Group:
        flow = Table(title="Caseline: complaints as they flow", show_header=True)
        flow.add_column("stage")
        flow.add_column("count", justify="right")
        flow.add_row("complaints received", str(self.received))
        if len(self.received_by_district) > 1:  # one district: the total says it all
            for district, count in sorted(self.received_by_district.items()):
                flow.add_row(f"  in {district}", str(count))
        for level in ("centre", "street", "community"):
            flow.add_row(f"routed to {level}", str(self.routed.get(level, 0)))
        flow.add_row("escalated to the joint meeting", str(self.escalated))
        flow.add_row("joint-meeting files opened", str(self.files))
        tasks = Table(title="Enforcement tasks per bureau")
        tasks.add_column("bureau")
        tasks.add_column("tasks", justify="right")
        for bureau, count in sorted(self.tasks.items()):
            tasks.add_row(bureau, str(count))
        return Group(flow, tasks)


async def watch(
    bootstrap_servers: str, *, idle_exit_seconds: float | None = None, live: bool = True
) -> FlowCounts:
    """Follow the topics from the beginning; with idle_exit_seconds, return once nothing new arrives."""
    counts = FlowCounts()
    consumer = new_consumer(
        COMPLAINTS,
        CASES,
        JOINT_MEETING,
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    last_change = time.monotonic()
    try:
        with Live(counts.render(), refresh_per_second=4) if live else _NoLive() as display:
            while not _done(counts, idle_exit_seconds, time.monotonic() - last_change):
                batches = await consumer.getmany(timeout_ms=500, max_records=2000)
                changed = sum(_count(counts, r) for records in batches.values() for r in records) > 0
                if changed:
                    last_change = time.monotonic()
                    display.update(counts.render())
    finally:
        await consumer.stop()
    return counts


def _done(counts: FlowCounts, idle_exit_seconds: float | None, idle_for: float) -> bool:
    """Idle long enough with every complaint handled; or idle far longer, whatever the counts say."""
    if idle_exit_seconds is None:
        return False
    all_handled = counts.received > 0 and counts.handled >= counts.received
    return idle_for >= (idle_exit_seconds if all_handled else max(30.0, 5 * idle_exit_seconds))


def _count(counts: FlowCounts, record: ConsumerRecord[bytes, bytes]) -> bool:
    try:
        event = parse_record(record.headers, record.value)
        data = json.loads(event.data)
    except (InvalidCloudEvent, ValueError):
        return False
    return counts.record(event.id, event.type, data if isinstance(data, dict) else {}, event.district)


class _NoLive:
    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def update(self, _: object) -> None:
        return None


def run_watch(
    bootstrap_servers: str, *, idle_exit_seconds: float | None = None, live: bool = True
) -> FlowCounts:
    return asyncio.run(watch(bootstrap_servers, idle_exit_seconds=idle_exit_seconds, live=live))
