"""Outbox relay: publishes committed outbox messages to Kafka, in order, at least once.

Why "unpublished" rows and not a position cursor: sequence numbers are handed out before commit, so
a row numbered 5 may commit after row 6. A cursor that moved past 6 would never see 5. Selecting rows
still marked unpublished cannot skip one; a late commit is simply picked up by the next pass. A pass
reads them after a floor (eventcore/scan_floor.py) that moves past a missing position only once no
transaction that may hold it is running, so it does not walk the index entries of every row published
since the last VACUUM. Rows of one case cannot overtake each other: a case's stream version constraint
serialises its transactions.

One relay per service schema is active at a time (a PostgreSQL advisory lock), so replicas never
publish the same case concurrently out of order.

A broker can lose what it acknowledged (the embedded broker forgets everything when it stops; on a
cluster: an unclean leader election, a topic deleted and re-created). The relay is the only producer of
its topics and Kafka offsets never go back, so it notices in two ways, within seconds, while running:
- every acknowledgement is compared with the last offset it recorded for that partition: an offset at
  or below it means the partition's log was replaced (this catches a new, empty log that already took
  new messages after the broker came back: their offsets start again at 0);
- every `log_check_seconds`, the record at the last recorded offset of each partition it has not
  published to since the previous check must still be the message recorded there (one fetch for all).
Then it re-drives the topic: every retained outbox row of it is marked unpublished and sent again in
position order; the consumers' inboxes drop what they had already processed. Published rows are kept
for `retention_hours` (the broker's own retention by default), which bounds what a re-drive resends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from eventcore.database import DbConnection, checked_schema, connect
from eventcore.kafka import ensure_topics, message_ids_at, new_producer
from eventcore.logging import get_logger
from eventcore.outbox import REWIND, notify_channel
from eventcore.scan_floor import ScanFloor

log = get_logger(__name__)
Partition = tuple[str, int]  # topic, partition
_HOUSEKEEPING_SECONDS = 600.0
_DELETE_CHUNK = 10_000


@dataclass(frozen=True)
class Published:
    """What the broker acknowledged for one partition in one pass."""

    first_offset: int
    last_offset: int
    last_message_id: str


class OutboxRelay:
    def __init__(
        self,
        dsn: str,
        schema: str,
        bootstrap_servers: str,
        *,
        batch_size: int = 1000,
        idle_seconds: float = 0.5,
        log_check_seconds: float = 5.0,
        retention_hours: float = 168.0,
        topic_partitions: int = 8,
        topics: Sequence[str] = (),
    ) -> None:
        self.dsn = dsn
        self.schema = checked_schema(schema)
        self.bootstrap_servers = bootstrap_servers
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.log_check_seconds = log_check_seconds
        self.retention_hours = retention_hours
        self.topic_partitions = topic_partitions
        self.topics = tuple(topics)  # every topic to create again after a loss (default: the lost ones)
        self.published_total = 0
        self.published_by_topic: Counter[str] = Counter()
        self.log_losses: Counter[str] = Counter()  # topic → times its log was found lost
        self.redriven_total = 0  # messages marked for sending again after a lost log
        self.is_leader = False
        self._wake = asyncio.Event()
        # Last acknowledged offset and message per partition, as recorded in relay_progress.
        self._progress: dict[Partition, tuple[int, str]] = {}
        self._published_since_check: set[Partition] = set()
        self._floor = ScanFloor()
        self._scan = unpublished_after(self.schema)

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set; survives broker and database outages by retrying."""
        while not stop.is_set():
            try:
                await self._run_while_leader(stop)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, KafkaError) as error:
                log.warning("relay_retrying", schema=self.schema, error=str(error) or repr(error))
            except Exception as error:  # noqa: BLE001 - the relay must outlive any single bad pass
                log.error("relay_failed_pass", schema=self.schema, error=repr(error))
            self.is_leader = False
            await _sleep_or_stop(stop, 1.0)

    async def _run_while_leader(self, stop: asyncio.Event) -> None:
        conn = await connect(self.dsn)
        try:
            if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", f"{self.schema}.relay"):
                await _sleep_or_stop(stop, 2.0)
                return
            self.is_leader = True
            await conn.add_listener(notify_channel(self.schema), self._on_notify)
            producer = new_producer(self.bootstrap_servers)
            await producer.start()
            try:
                self._progress = await self._recorded_progress(conn)
                self._floor = ScanFloor()  # another leader may have published meanwhile
                self._published_since_check.clear()
                await self.check_broker_log(conn)
                await self._publish_until_stopped(conn, producer, stop)
            finally:
                await producer.stop()
        finally:
            await conn.close()  # also releases the advisory lock

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        if payload == REWIND:
            self._floor = ScanFloor()
        self._wake.set()

    def wake_if_leading(self) -> bool:
        """A commit in this process added outbox rows: if this relay leads its schema it is woken here (no
        other replica's relay publishes meanwhile, so no NOTIFY is needed) and True is returned. Should it
        have just lost the lead without noticing yet, the new leader still finds the rows when idle."""
        if self.is_leader:
            self._wake.set()
        return self.is_leader

    async def _publish_until_stopped(
        self, conn: DbConnection, producer: AIOKafkaProducer, stop: asyncio.Event
    ) -> None:
        loop = asyncio.get_running_loop()
        next_check = loop.time() + self.log_check_seconds
        next_housekeeping = loop.time()
        while not stop.is_set():
            self._wake.clear()
            if loop.time() >= next_check:
                await self.check_broker_log(conn)
                next_check = loop.time() + self.log_check_seconds
            if loop.time() >= next_housekeeping:
                await self.delete_expired(conn)
                next_housekeeping = loop.time() + _HOUSEKEEPING_SECONDS
            if await self.publish_pending(conn, producer) == self.batch_size:
                continue
            wait = min(self.idle_seconds, max(next_check - loop.time(), 0.0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def publish_pending(self, conn: DbConnection, producer: AIOKafkaProducer) -> int:
        """One pass: send a batch, wait for every acknowledgement, then mark the batch published."""
        scanned = await conn.fetch(self._scan, self.batch_size, self._floor.scan_from())
        rows = [row for row in scanned if row["position"] is not None]
        snapshot = scanned[0]
        if not rows:
            self._floor.passed([], oldest_running=snapshot["xmin"], next_xid=snapshot["xmax"], complete=True)
            return 0
        acks = [await producer.send(row["topic"], **_record(row)) for row in rows]
        published = _per_partition(rows, await asyncio.gather(*acks))
        replaced = sorted(
            {topic for (topic, p), sent in published.items() if self._went_back(topic, p, sent)}
        )
        progress = [
            (topic, partition, sent.last_offset, sent.last_message_id)
            for (topic, partition), sent in published.items()
            if topic not in replaced
        ]
        # One statement, so atomic on its own: the rows marked and the progress recorded together, in one
        # round trip rather than a transaction's four (rows committed meanwhile wait for the next pass).
        await conn.execute(
            f"WITH marked AS (UPDATE {self.schema}.outbox SET published_at = clock_timestamp() "
            "WHERE position = ANY($1::bigint[])) "
            f"INSERT INTO {self.schema}.relay_progress (topic, partition, last_offset, last_message_id) "
            "SELECT * FROM unnest($2::text[], $3::integer[], $4::bigint[], $5::text[]) "
            "ON CONFLICT (topic, partition) DO UPDATE SET "
            "last_offset = EXCLUDED.last_offset, last_message_id = EXCLUDED.last_message_id "
            "WHERE relay_progress.last_offset < EXCLUDED.last_offset",
            [row["position"] for row in rows],
            *([list(column) for column in zip(*progress, strict=True)] if progress else [[], [], [], []]),
        )
        self._floor.passed(
            [row["position"] for row in rows],
            oldest_running=snapshot["xmin"],
            next_xid=snapshot["xmax"],
            complete=len(rows) < self.batch_size,
        )
        for (topic, partition), sent in published.items():
            if topic not in replaced:
                self._progress[(topic, partition)] = (sent.last_offset, sent.last_message_id)
                self._published_since_check.add((topic, partition))
        self.published_total += len(rows)
        self.published_by_topic.update(row["topic"] for row in rows)
        log.debug("outbox_published", schema=self.schema, count=len(rows))
        if replaced:
            await self._redrive(
                conn, replaced, "the broker acknowledged offsets at or below ones it had before"
            )
        return len(rows)

    def _went_back(self, topic: str, partition: int, sent: Published) -> bool:
        recorded = self._progress.get((topic, partition))
        return recorded is not None and sent.first_offset <= recorded[0]

    async def check_broker_log(self, conn: DbConnection) -> list[str]:
        """Is the last message we published to each quiet partition still where the broker put it?

        Partitions published to since the last check were checked by their acknowledgements. Returns the
        topics found lost (and re-driven). A broker that does not answer proves nothing: checked next time.
        """
        quiet = {
            key: value for key, value in self._progress.items() if key not in self._published_since_check
        }
        self._published_since_check.clear()
        if not quiet:
            return []
        positions = {
            (topic, partition, offset): message_id
            for (topic, partition), (offset, message_id) in quiet.items()
        }
        try:
            held = await message_ids_at(self.bootstrap_servers, positions)
        except (KafkaError, OSError) as error:
            log.warning("relay_log_check_failed", schema=self.schema, error=str(error) or repr(error))
            return []
        lost = sorted(
            {position[0] for position, message_id in positions.items() if held.get(position) != message_id}
        )
        if lost:
            await self._redrive(conn, lost, "the last message published is no longer in the broker's log")
        return lost

    async def _redrive(self, conn: DbConnection, topics: Sequence[str], why: str) -> None:
        """Send every retained message of the topics again, in position order (consumers dedupe)."""
        with contextlib.suppress(KafkaError, OSError):
            # A broker that lost its log may have lost its topics: they come back with the partitions the
            # services expect, the ones outside systems publish to included.
            await ensure_topics(self.bootstrap_servers, self.topics or topics, self.topic_partitions)
        async with conn.transaction():
            result = await conn.execute(
                f"UPDATE {self.schema}.outbox SET published_at = NULL WHERE topic = ANY($1::text[]) "
                "AND published_at IS NOT NULL",
                list(topics),
            )
            await conn.execute(
                f"DELETE FROM {self.schema}.relay_progress WHERE topic = ANY($1::text[])", list(topics)
            )
        for key in [key for key in self._progress if key[0] in topics]:
            del self._progress[key]
        self._floor = ScanFloor()  # the rows marked for sending again lie below it
        count = int(result.split()[-1])
        self.log_losses.update(topics)
        self.redriven_total += count
        log.warning(
            "broker_lost_history_republishing",
            schema=self.schema,
            topics=list(topics),
            messages=count,
            why=why,
        )

    async def delete_expired(self, conn: DbConnection) -> int:
        """Delete published rows older than the retention, oldest first, in chunks (0 hours: keep all)."""
        if self.retention_hours <= 0:
            return 0
        deleted = 0
        while True:
            result = await conn.execute(
                f"WITH head AS (SELECT position FROM {self.schema}.outbox ORDER BY position LIMIT $2) "
                f"DELETE FROM {self.schema}.outbox o USING head WHERE o.position = head.position "
                "AND o.published_at < clock_timestamp() - make_interval(secs => $1::double precision * 3600)",
                self.retention_hours,
                _DELETE_CHUNK,
            )
            chunk = int(result.split()[-1])
            deleted += chunk
            if chunk < _DELETE_CHUNK:
                break
        if deleted:
            log.info("outbox_expired_rows_deleted", schema=self.schema, rows=deleted)
        return deleted

    async def _recorded_progress(self, conn: DbConnection) -> dict[Partition, tuple[int, str]]:
        rows = await conn.fetch(
            f"SELECT topic, partition, last_offset, last_message_id FROM {self.schema}.relay_progress"
        )
        return {(r["topic"], r["partition"]): (r["last_offset"], r["last_message_id"]) for r in rows}


def unpublished_after(schema: str) -> str:
    """A pass's read ($1: how many, $2: the floor): one row at least, the pass's snapshot (xmin, xmax), then
    the unpublished rows after the floor in position order (position NULL when there are none)."""
    return (
        "SELECT s.xmin, s.xmax, o.position, o.message_id, o.topic, o.message_key, o.headers, o.payload "
        "FROM (SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin, "
        "pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax) AS s "
        f"LEFT JOIN LATERAL (SELECT * FROM {checked_schema(schema)}.outbox WHERE published_at IS NULL "
        "AND position > $2 ORDER BY position LIMIT $1) AS o ON true ORDER BY o.position"
    )


def _per_partition(rows: list[asyncpg.Record], acks: list[Any]) -> dict[Partition, Published]:
    first: dict[Partition, int] = {}
    last: dict[Partition, tuple[int, str]] = {}
    for row, ack in zip(rows, acks, strict=True):
        key = (row["topic"], ack.partition)
        first[key] = min(first.get(key, ack.offset), ack.offset)
        if key not in last or last[key][0] < ack.offset:
            last[key] = (ack.offset, str(row["message_id"]))
    return {key: Published(first[key], offset, message_id) for key, (offset, message_id) in last.items()}


def _record(row: asyncpg.Record) -> dict[str, Any]:
    headers = row["headers"] if isinstance(row["headers"], dict) else json.loads(row["headers"])
    return {
        "key": row["message_key"].encode(),
        "value": row["payload"].encode(),
        "headers": [(name, str(value).encode()) for name, value in headers.items()],
    }


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
