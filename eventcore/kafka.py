"""Kafka plumbing shared by the services: topic creation, producers and offsets."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import OffsetOutOfRangeError, TopicAlreadyExistsError

from eventcore.logging import get_logger

log = get_logger(__name__)


async def ensure_topics(bootstrap_servers: str, topics: Iterable[str], partitions: int) -> None:
    """Create missing topics with the partition count the services expect (idempotent)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if not missing:
            return
        try:
            await admin.create_topics(
                [NewTopic(name=t, num_partitions=partitions, replication_factor=1) for t in missing]
            )
        except TopicAlreadyExistsError:
            pass  # a replica created it between our list and create
        log.info("topics_created", topics=missing, partitions=partitions)
    finally:
        await admin.close()


def new_producer(bootstrap_servers: str) -> AIOKafkaProducer:
    # Idempotent producers need InitProducerId, which Tansu's memory engine refuses; the inboxes
    # downstream make at-least-once delivery effectively once instead.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        enable_idempotence=False,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=15000,
    )


async def message_ids_at(
    bootstrap_servers: str, positions: Iterable[tuple[str, int, int]], timeout_ms: int = 3000
) -> dict[tuple[str, int, int], str | None]:
    """The ce_id of the record at each (topic, partition, offset), or None where the broker has no such record.

    Asking for the record itself, not the end offset, because some Kafka-protocol brokers (Tansu's
    memory engine) report end offsets per record batch rather than per record.
    """
    found: dict[tuple[str, int, int], str | None] = {}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, auto_offset_reset="none"
    )
    await consumer.start()
    try:
        known = await consumer.topics()
        wanted = [(t, p, o) for t, p, o in positions if t in known]
        ends = await consumer.end_offsets([TopicPartition(t, p) for t, p, _ in wanted]) if wanted else {}
        for topic, partition, offset in positions:
            tp = TopicPartition(topic, partition)
            # An empty partition cannot hold it; skip the fetch, which would only time out.
            has_records = topic in known and ends.get(tp, 0) > 0
            found[(topic, partition, offset)] = (
                await _message_id_at(consumer, tp, offset, timeout_ms) if has_records else None
            )
    finally:
        await consumer.stop()
    return found


async def _message_id_at(
    consumer: AIOKafkaConsumer, tp: TopicPartition, offset: int, timeout_ms: int
) -> str | None:
    consumer.assign([tp])
    consumer.seek(tp, offset)
    try:
        batches = await consumer.getmany(tp, timeout_ms=timeout_ms, max_records=1)
    except OffsetOutOfRangeError:
        return None
    for record in batches.get(tp, []):
        if record.offset == offset:
            headers = dict(record.headers or ())
            value = headers.get("ce_id")
            return value.decode() if isinstance(value, bytes) else None
    return None
