"""Live counts of what flows through the topics, for `caseline up` (each event counted once by its id).

On a terminal the counts are a live table; elsewhere (a CI log, `make run | tee`) they are plain lines,
one every few seconds when something changed. Memory stays bounded over long runs: an event is
recognised as already counted among the last `RECENT_IDS` of its topic (a relay resends at most a batch
after its own crash), and when a topic's offsets go back (the broker lost its log; the relays re-drive
everything into the new one) that topic is counted again from the new log.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Self

from aiokafka import ConsumerRecord
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from eventcore.cloudevents import InvalidCloudEvent, parse_record
from eventcore.kafka import new_consumer
from schemas.reference import FOUNDING_DISTRICT
from schemas.topics import CASES, COMPLAINTS, JOINT_MEETING

RECENT_IDS = 200_000
PLAIN_LINE_SECONDS = 5.0


class RecentIds:
    """The most recent ids seen, up to a bound (oldest forgotten first)."""

    def __init__(self, capacity: int = RECENT_IDS) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, event_id: str) -> bool:
        """False when the id is among the recent ones already."""
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True

    def __len__(self) -> int:
        return len(self._ids)


@dataclass
class TopicCounts:
    received: int = 0
    routed: Counter[str] = field(default_factory=Counter)
    escalated: int = 0
    files: int = 0
    tasks: Counter[str] = field(default_factory=Counter)
    received_by_district: Counter[str] = field(default_factory=Counter)
    seen: RecentIds = field(default_factory=RecentIds)
    last_offsets: dict[int, int] = field(default_factory=dict)


@dataclass
class FlowCounts:
    topics: dict[str, TopicCounts] = field(default_factory=dict)
    log_resets: int = 0

    def observe(self, topic: str, partition: int, offset: int) -> None:
        """Offsets that go back mean a new log: count that topic again from it."""
        counts = self.topics.setdefault(topic, TopicCounts())
        if offset < counts.last_offsets.get(partition, -1):
            counts = self.topics[topic] = TopicCounts()
            self.log_resets += 1
        counts.last_offsets[partition] = offset

    def record(
        self,
        event_id: str,
        ce_type: str,
        data: dict[str, object],
        district: str = FOUNDING_DISTRICT,
        topic: str = "",
    ) -> bool:
        """Count an event; False for one already counted (a republish or a redelivery)."""
        counts = self.topics.setdefault(topic, TopicCounts())
        if not counts.seen.add(event_id):
            return False
        if ce_type.startswith("caseline.ComplaintReceived."):
            counts.received += 1
            counts.received_by_district[district] += 1
        elif ce_type.startswith("caseline.CaseRouted."):
            counts.routed[str(data.get("level"))] += 1
        elif ce_type.startswith("caseline.CaseEscalated."):
            counts.escalated += 1
        elif ce_type.startswith("caseline.JointMeetingFileOpened."):
            counts.files += 1
        elif ce_type.startswith("caseline.EnforcementTaskAssigned."):
            counts.tasks[str(data.get("bureau"))] += 1
        return True

    @property
    def received(self) -> int:
        return sum(t.received for t in self.topics.values())

    @property
    def routed(self) -> Counter[str]:
        return sum((t.routed for t in self.topics.values()), Counter())

    @property
    def escalated(self) -> int:
        return sum(t.escalated for t in self.topics.values())

    @property
    def files(self) -> int:
        return sum(t.files for t in self.topics.values())

    @property
    def tasks(self) -> Counter[str]:
        return sum((t.tasks for t in self.topics.values()), Counter())

    @property
    def received_by_district(self) -> Counter[str]:
        return sum((t.received_by_district for t in self.topics.values()), Counter())

    @property
    def handled(self) -> int:
        return sum(self.routed.values()) + self.escalated

    def line(self) -> str:
        routed = self.routed
        levels = " / ".join(f"{routed.get(level, 0)} {level}" for level in ("centre", "street", "community"))
        return (
            f"flow: {self.received} complaints received, routed {levels}, {self.escalated} escalated, "
            f"{self.files} joint-meeting files, {sum(self.tasks.values())} enforcement tasks"
        )

    def render(self) -> Group:
        flow = Table(title="Caseline: complaints as they flow", show_header=True)
        flow.add_column("stage")
        flow.add_column("count", justify="right")
        flow.add_row("complaints received", str(self.received))
        by_district = self.received_by_district
        if len(by_district) > 1:  # one district: the total says it all
            for district, count in sorted(by_district.items()):
                flow.add_row(f"  in {district}", str(count))
        routed = self.routed
        for level in ("centre", "street", "community"):
            flow.add_row(f"routed to {level}", str(routed.get(level, 0)))
        flow.add_row("escalated to the joint meeting", str(self.escalated))
        flow.add_row("joint-meeting files opened", str(self.files))
        tasks = Table(title="Enforcement tasks per bureau")
        tasks.add_column("bureau")
        tasks.add_column("tasks", justify="right")
        for bureau, count in sorted(self.tasks.items()):
            tasks.add_row(bureau, str(count))
        return Group(flow, tasks)


async def watch(
    bootstrap_servers: str,
    *,
    idle_exit_seconds: float | None = None,
    console: Console | None = None,
    counts: FlowCounts | None = None,
) -> FlowCounts:
    """Follow the topics from the beginning; with idle_exit_seconds, return once nothing new arrives.

    `counts` may be given so the caller keeps what was counted should it be interrupted.
    """
    counts = counts if counts is not None else FlowCounts()
    console = console or Console()
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
        with _display(console, counts) as display:
            while not _done(counts, idle_exit_seconds, time.monotonic() - last_change):
                batches = await consumer.getmany(timeout_ms=500, max_records=2000)
                changed = sum(_count(counts, r) for records in batches.values() for r in records) > 0
                if changed:
                    last_change = time.monotonic()
                display.update(counts, changed)
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
    counts.observe(record.topic, record.partition, record.offset)
    try:
        event = parse_record(record.headers, record.value)
        data = json.loads(event.data)
    except (InvalidCloudEvent, ValueError):
        return False
    return counts.record(
        event.id, event.type, data if isinstance(data, dict) else {}, event.district, topic=record.topic
    )


class _LiveTable:
    def __init__(self, console: Console, counts: FlowCounts) -> None:
        self.live = Live(counts.render(), console=console, refresh_per_second=4)

    def __enter__(self) -> Self:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.live.__exit__(None, None, None)

    def update(self, counts: FlowCounts, changed: bool) -> None:
        if changed:
            self.live.update(counts.render())


class _PlainLines:
    """Off a terminal: a line when something changed, at most every PLAIN_LINE_SECONDS."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.printed: str | None = None
        self.next_at = 0.0

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, counts: FlowCounts, changed: bool) -> None:
        line = counts.line()
        if line != self.printed and time.monotonic() >= self.next_at:
            self.console.print(line, markup=False, highlight=False)
            self.printed, self.next_at = line, time.monotonic() + PLAIN_LINE_SECONDS


def _display(console: Console, counts: FlowCounts) -> _LiveTable | _PlainLines:
    return _LiveTable(console, counts) if console.is_terminal else _PlainLines(console)


def run_watch(
    bootstrap_servers: str,
    *,
    idle_exit_seconds: float | None = None,
    console: Console | None = None,
    counts: FlowCounts | None = None,
) -> FlowCounts:
    return asyncio.run(
        watch(bootstrap_servers, idle_exit_seconds=idle_exit_seconds, console=console, counts=counts)
    )
