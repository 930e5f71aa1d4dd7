"""The consumer's side of a lost log (the producer's is in relay.py): read a replaced partition again.

When a broker loses a partition's log, a consumer may carry on from the position it had (its own, or an
offset committed before the loss) in the new log, and so pass over whatever the new log holds before that
position — messages the relays re-drove there included. Kafka's own answer is leader-epoch truncation
detection, which aiokafka does not do. So every `every_seconds` each replica checks an anchor per
partition it consumes: a record it consumed, with its identity (eventcore.kafka.record_identity). If the
broker no longer holds that record at that offset, the log was replaced and the partition is read again
from its beginning; the inbox drops what was already handled.

Anchors are taken before the previous ones are checked and kept in the service's schema, so one taken
from the old log is checked after the loss whichever replica consumes the partition then, and one taken
from the new log never hides the loss: a log lost between two checks is found at the second.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from eventcore.database import checked_schema
from eventcore.kafka import message_ids_at, record_identity
from eventcore.logging import get_logger

log = get_logger(__name__)
Anchor = tuple[int, str]  # offset, record identity


@dataclass
class ConsumedLogCheck:
    schema: str
    bootstrap_servers: str
    every_seconds: float = 5.0
    consumers: Callable[[], Sequence[AIOKafkaConsumer]] = tuple
    # called when a log was replaced: the broker lost everything, so its topics may need creating again
    on_replaced: Callable[[], Awaitable[None]] | None = None
    latest: dict[tuple[str, int], Anchor] = field(default_factory=dict)
    replaced_total: int = 0

    def __post_init__(self) -> None:
        checked_schema(self.schema)

    def note(self, records: Sequence[Any]) -> None:
        """The last record consumed per partition (called once a batch is committed)."""
        for record in records:
            key = (record.topic, record.partition)
            if key not in self.latest or self.latest[key][0] <= record.offset:
                self.latest[key] = (record.offset, record_identity(record))

    async def run(self, pool: asyncpg.Pool, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.check_once(pool)
            except (KafkaError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
                log.warning("consumed_log_check_failed", error=str(error) or repr(error))
            except Exception as error:  # noqa: BLE001 - a failed round is tried next round
                log.error("consumed_log_check_failed", error=repr(error))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every_seconds)

    async def check_once(self, pool: asyncpg.Pool) -> list[tuple[str, int]]:
        """Check the stored anchors of the partitions consumed here; store new ones. Returns those replaced."""
        assigned = {
            (tp.topic, tp.partition): consumer
            for consumer in self.consumers()
            for tp in consumer.assignment()
        }
        candidates = {
            key: anchor for key, anchor in self.latest.items() if key in assigned
        }  # before checking
        self.latest = dict(candidates)
        stored = await self._stored(pool, list(assigned))
        held = await message_ids_at(
            self.bootstrap_servers,
            [(topic, partition, offset) for (topic, partition), (offset, _) in stored.items()],
        )
        replaced = [key for key, (offset, identity) in stored.items() if held.get((*key, offset)) != identity]
        for key in replaced:
            candidates.pop(key, None)
            self.latest.pop(key, None)
        for consumer in {id(assigned[key]): assigned[key] for key in replaced}.values():
            partitions = [TopicPartition(*key) for key in replaced if assigned[key] is consumer]
            await consumer.seek_to_beginning(*partitions)
        if replaced:
            log.warning("consumed_log_replaced_reading_again", partitions=[f"{t}/{p}" for t, p in replaced])
            if self.on_replaced is not None:
                await self.on_replaced()
        self.replaced_total += len(replaced)
        await self._store(pool, candidates, replaced)
        return replaced

    async def _stored(self, pool: asyncpg.Pool, keys: list[tuple[str, int]]) -> dict[tuple[str, int], Anchor]:
        if not keys:
            return {}
        async with pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT topic, partition, last_offset, record_id FROM {self.schema}.consumer_anchors "
                "WHERE (topic, partition) IN (SELECT * FROM unnest($1::text[], $2::int[]))",
                [topic for topic, _ in keys],
                [partition for _, partition in keys],
            )
        return {(r["topic"], r["partition"]): (r["last_offset"], r["record_id"]) for r in rows}

    async def _store(
        self, pool: asyncpg.Pool, anchors: dict[tuple[str, int], Anchor], replaced: list[tuple[str, int]]
    ) -> None:
        async with pool.acquire() as conn, conn.transaction():
            if replaced:
                await conn.execute(
                    f"DELETE FROM {self.schema}.consumer_anchors WHERE (topic, partition) IN "
                    "(SELECT * FROM unnest($1::text[], $2::int[]))",
                    [topic for topic, _ in replaced],
                    [partition for _, partition in replaced],
                )
            await conn.executemany(
                f"INSERT INTO {self.schema}.consumer_anchors (topic, partition, last_offset, record_id) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (topic, partition) DO UPDATE SET "
                "last_offset = EXCLUDED.last_offset, record_id = EXCLUDED.record_id",
                [
                    (topic, partition, offset, identity)
                    for (topic, partition), (offset, identity) in anchors.items()
                ],
            )
