"""Intake's command handlers: each channel's records become ComplaintReceived, once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

from district.directory import Directory
from eventcore.consumer import ServiceStores
from eventcore.database import DbConnection
from eventcore.deadletters import Rejection
from eventcore.logging import get_logger
from eventcore.store import PendingEvent
from schemas.base import EventMetadata
from schemas.hotline import HotlineOrder
from schemas.reference import Channel
from schemas.topics import COMPLAINTS
from services.intake.adapters.hotline_file import FileRecord, parse_order, read_json_lines
from services.intake.adapters.personal_data_store import PersonalDataStore
from services.intake.domain.complaints import complaint_stream, receive_hotline_order

log = get_logger(__name__)


@dataclass(frozen=True)
class IntakeContext:
    directory: Directory
    pseudonym_secret: str


@dataclass
class FeedSummary:
    accepted: int = 0
    duplicates: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def add(self, other: FeedSummary) -> None:
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.rejected.update(other.rejected)
        self.rejections.extend(other.rejections)


async def receive_hotline_records(
    stores: ServiceStores, ctx: IntakeContext, records: Sequence[FileRecord], *, actor: str
) -> FeedSummary:
    """One transaction: new complaints, their personal data, and dead letters for what was refused."""
    summary = FeedSummary()
    orders: list[HotlineOrder] = []
    for record in records:
        parsed = parse_order(record)
        if isinstance(parsed, Rejection):
            summary.rejected[str(parsed.details.get("kind"))] += 1
            summary.rejections.append(parsed)
        else:
            orders.append(parsed)
    async with stores.pool.acquire() as conn, conn.transaction():
        summary.accepted = await _start_complaints(stores, ctx, conn, orders, actor)
        summary.duplicates = len(orders) - summary.accepted
        await stores.dead_letters.add(conn, summary.rejections)
    return summary


async def _start_complaints(
    stores: ServiceStores, ctx: IntakeContext, conn: DbConnection, orders: Sequence[HotlineOrder], actor: str
) -> int:
    uow = stores.unit_of_work(conn)
    people: list[tuple[str, str, str]] = []
    for order in orders:
        complaint = receive_hotline_order(order, ctx.directory, ctx.pseudonym_secret)
        people.append((complaint.complainant_id, order.caller_name, order.caller_phone))
        metadata = EventMetadata(correlation_id=complaint.complaint_id, actor=actor, channel=Channel.HOTLINE)
        uow.start_stream(
            complaint_stream(complaint.complaint_id),
            [PendingEvent(complaint, metadata)],
            publish_to=COMPLAINTS,
        )
    await uow.flush()
    await PersonalDataStore(stores.schema).remember(conn, people, datetime.now(UTC))
    return len(uow.created_streams)


async def feed_hotline_file(
    stores: ServiceStores,
    ctx: IntakeContext,
    path: Path,
    *,
    batch_size: int = 1000,
    actor: str = "hotline-file",
    on_batch: Callable[[int], None] | None = None,
) -> FeedSummary:
    """Feed a JSON-lines hotline export; safe to repeat (order numbers already seen are duplicates)."""
    total = FeedSummary()
    for batch in _batches(read_json_lines(path), batch_size):
        total.add(await receive_hotline_records(stores, ctx, batch, actor=actor))
        if on_batch:
            on_batch(len(batch))
    log.info(
        "hotline_file_fed",
        file=path.name,
        accepted=total.accepted,
        duplicates=total.duplicates,
        rejected=total.rejected_total,
    )
    return total


def _batches(records: Iterable[FileRecord], size: int) -> Iterable[list[FileRecord]]:
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch
