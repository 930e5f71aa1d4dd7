"""Collects a command's (or a batch's) appends and messages and writes them in one transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eventcore.database import DbConnection, Write, execute_together
from eventcore.logging import get_logger
from eventcore.outbox import Outbox, OutboxMessage, notify_channel
from eventcore.store import EventStore, PendingEvent, StreamAppend

log = get_logger(__name__)

# Updates a service's read model from what a flush actually wrote, inside the same transaction.
Projector = Callable[[DbConnection, Sequence[StreamAppend]], Awaitable[None]]
# Writes rows a handler gathered (a read model fed by consumed messages), batched, in the same transaction.
RowWriter = Callable[[DbConnection, Sequence[Any]], Awaitable[object]]
# Wakes this process's listener of a channel; True when it was the only listener that needed waking (the
# relay that holds its schema's leadership), so no NOTIFY need go through PostgreSQL.
LocalWaker = Callable[[], bool]


@dataclass
class UnitOfWork:
    """Appends are buffered and flushed together so a batch costs a few statements, not one per event."""

    conn: DbConnection
    store: EventStore
    outbox: Outbox
    source: str
    _starts: list[tuple[StreamAppend, str | None]] = field(default_factory=list)
    _appends: list[tuple[StreamAppend, str | None]] = field(default_factory=list)
    created_streams: set[str] = field(default_factory=set)
    _starting: set[str] = field(default_factory=set)
    projector: Projector | None = None
    _rows: dict[RowWriter, list[Any]] = field(default_factory=dict)
    # Aggregates loaded or saved in this unit of work, by (repository, stream): eventcore.aggregate.
    seen: dict[tuple[int, str], Any] = field(default_factory=dict)
    _notifications: dict[str, list[str]] = field(default_factory=dict)
    wake_locally: Mapping[str, LocalWaker] = field(default_factory=dict)
    _writes: list[Write] = field(default_factory=list)

    def start_stream(self, stream_id: str, events: Sequence[PendingEvent], *, publish_to: str | None) -> bool:
        """Start a new stream unless it exists already (idempotent creation).

        Returns False when this unit of work already starts the same stream (a repeat within a batch).
        """
        if stream_id in self._starting:
            return False
        self._starting.add(stream_id)
        self._starts.append((StreamAppend(stream_id, 0, events), publish_to))
        return True

    def append(
        self, stream_id: str, expected_version: int, events: Sequence[PendingEvent], *, publish_to: str | None
    ) -> None:
        self._appends.append((StreamAppend(stream_id, expected_version, events), publish_to))

    def add_rows(self, writer: RowWriter, rows: Sequence[Any]) -> None:
        """Rows for a read model of consumed facts (not events): written by `writer` at the next flush,
        all of a batch in one call, so a handler does not pay a round trip per message."""
        self._rows.setdefault(writer, []).extend(rows)

    def write_with_flush(self, *writes: Write | None) -> None:
        """Writes of the handler's own tables that need nothing the flush learns (which streams it started):
        sent in one statement with the flush's outbox rows (eventcore.database.execute_together), so they
        must touch neither the outbox nor each other's rows. None: nothing to write for that part."""
        self._writes.extend(write for write in writes if write is not None)

    def notify_after_commit(self, channel: str, payloads: Sequence[str] = ("",)) -> None:
        """Wake the channel's listeners once this unit of work has committed (`send_notifications`).

        Not NOTIFY inside the transaction: PostgreSQL then holds one cluster-wide lock from the NOTIFY until
        after the commit's WAL flush, so every notifying transaction of every service commits one at a time.
        Sent after the commit, a notification is lost only if the process dies in between; each listener
        also looks for itself from time to time (the relay when idle, streams on reconnecting). A channel
        whose only listener is in this process (`wake_locally`: the relay leading this service's schema) is
        woken directly, without the round trip.
        """
        self._notifications.setdefault(channel, []).extend(payloads)

    async def send_notifications(self) -> None:
        """Called by whoever committed the transaction, on the same connection, outside any transaction."""
        pending, self._notifications = self._notifications, {}
        pending = {channel: payloads for channel, payloads in pending.items() if not self._woke(channel)}
        if not pending:
            return
        channels = [c for c, payloads in pending.items() for _ in dict.fromkeys(payloads)]
        payloads = [p for payloads in pending.values() for p in dict.fromkeys(payloads)]
        try:
            await self.conn.execute(
                "SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS x(c, p)", channels, payloads
            )
        except Exception as error:  # noqa: BLE001 - committed already; the listeners' own checks catch up
            log.warning("notifications_not_sent", channels=sorted(pending), error=str(error) or repr(error))

    def _woke(self, channel: str) -> bool:
        wake = self.wake_locally.get(channel)
        return wake is not None and wake()

    async def flush(self) -> None:
        starts, self._starts = self._starts, []
        self._starting = set()
        appends, self._appends = self._appends, []
        created = await self.store.write(self.conn, [a for a, _ in starts], [a for a, _ in appends])
        self.created_streams |= created
        written = [(a, t) for a, t in starts if a.stream_id in created] + appends
        messages = self._messages(written)
        writes, self._writes = self._writes, []
        await execute_together(self.conn, [self.outbox.adding(messages), *writes])
        if messages:
            self.notify_after_commit(notify_channel(self.store.schema))
        if self.projector is not None and written:
            await self.projector(self.conn, [a for a, _ in written])
        rows, self._rows = self._rows, {}
        for writer, pending in rows.items():
            await writer(self.conn, pending)

    def _messages(self, written: Sequence[tuple[StreamAppend, str | None]]) -> list[OutboxMessage]:
        return [
            OutboxMessage.for_event(pending, topic=topic, source=self.source)
            for append, topic in written
            if topic is not None
            for pending in append.events
        ]
