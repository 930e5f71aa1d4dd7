"""Outbox relay: publishes committed outbox messages to Kafka, in order, at least once.

Why "unpublished" rows and not a position cursor: sequence numbers are handed out before commit, so
a row numbered 5 may commit after row 6. A cursor that moved past 6 would never see 5. Selecting rows
still marked unpublished cannot skip one; a late commit is simply picked up by the next pass. Rows of
one case cannot overtake each other: a case's stream version constraint serialises its transactions.

One relay per service schema is active at a time (a PostgreSQL advisory lock), so replicas never
publish the same case concurrently out of order.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from eventcore.database import DbConnection, checked_schema, connect
from eventcore.kafka import message_ids_at, new_producer
from eventcore.logging import get_logger
from eventcore.outbox import notify_channel

log = get_logger(__name__)


class OutboxRelay:
    def __init__(
        self,
        dsn: str,
        schema: str,
        bootstrap_servers: str,
        *,
        batch_size: int = 1000,
        idle_seconds: float = 0.5,
    ) -> None:
        self.dsn = dsn
        self.schema = checked_schema(schema)
        self.bootstrap_servers = bootstrap_servers
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.published_total = 0
        self.published_by_topic: Counter[str] = Counter()
        self.is_leader = False
        self._wake = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set; survives broker and database outages by retrying."""
        while not stop.is_set():
            try:
                await self._run_while_leader(stop)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("relay_retrying", schema=self.schema, error=str(error))
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
                await self._republish_if_broker_lost_history(conn)
                await self._publish_until_stopped(conn, producer, stop)
            finally:
                await producer.stop()
        finally:
            await conn.close()  # also releases the advisory lock

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _publish_until_stopped(
        self, conn: DbConnection, producer: AIOKafkaProducer, stop: asyncio.Event
    ) -> None:
        while not stop.is_set():
            self._wake.clear()
            if await self.publish_pending(conn, producer) == self.batch_size:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.idle_seconds)

    async def publish_pending(self, conn: DbConnection, producer: AIOKafkaProducer) -> int:
        """One pass: send a batch, wait for every acknowledgement, then mark the batch published."""
        rows = await conn.fetch(
            f"SELECT position, message_id, topic, message_key, headers, payload FROM {self.schema}.outbox "
            "WHERE published_at IS NULL ORDER BY position LIMIT $1",
            self.batch_size,
        )
        if not rows:
            return 0
        acks = [await producer.send(row["topic"], **_record(row)) for row in rows]
        metadata = await asyncio.gather(*acks)
        async with conn.transaction():
            await conn.execute(
                f"UPDATE {self.schema}.outbox SET published_at = clock_timestamp() WHERE position = ANY($1::bigint[])",
                [row["position"] for row in rows],
            )
            await conn.executemany(
                f"INSERT INTO {self.schema}.relay_progress (topic, partition, last_offset, last_message_id) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (topic, partition) DO UPDATE SET "
                "last_offset = EXCLUDED.last_offset, last_message_id = EXCLUDED.last_message_id "
                "WHERE relay_progress.last_offset < EXCLUDED.last_offset",
                _last_per_partition(rows, metadata),
            )
        self.published_total += len(rows)
        self.published_by_topic.update(row["topic"] for row in rows)
        log.debug("outbox_published", schema=self.schema, count=len(rows))
        return len(rows)

    async def _republish_if_broker_lost_history(self, conn: DbConnection) -> None:
        """A broker that no longer has the last message we published to a partition has lost its log
        (the embedded broker forgets everything on stop). Republish that topic's retained messages;
        consumers' inboxes drop the ones they already processed."""
        progress = {
            (r["topic"], r["partition"], r["last_offset"]): r["last_message_id"]
            for r in await conn.fetch(
                f"SELECT topic, partition, last_offset, last_message_id FROM {self.schema}.relay_progress"
            )
        }
        if not progress:
            return
        held = await message_ids_at(self.bootstrap_servers, progress)
        lost = sorted(
            {position[0] for position, message_id in progress.items() if held.get(position) != message_id}
        )
        if not lost:
            return
        async with conn.transaction():
            result = await conn.execute(
                f"UPDATE {self.schema}.outbox SET published_at = NULL WHERE topic = ANY($1::text[]) "
                "AND published_at IS NOT NULL",
                lost,
            )
            await conn.execute(
                f"DELETE FROM {self.schema}.relay_progress WHERE topic = ANY($1::text[])", lost
            )
        log.warning(
            "broker_lost_history_republishing", schema=self.schema, topics=lost, messages=result.split()[-1]
        )


def _last_per_partition(rows: list[asyncpg.Record], acks: list[Any]) -> list[tuple[str, int, int, str]]:
    last: dict[tuple[str, int], tuple[int, str]] = {}
    for row, ack in zip(rows, acks, strict=True):
        key = (row["topic"], ack.partition)
        if key not in last or last[key][0] < ack.offset:
            last[key] = (ack.offset, str(row["message_id"]))
    return [
        (topic, partition, offset, message_id) for (topic, partition), (offset, message_id) in last.items()
    ]


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
