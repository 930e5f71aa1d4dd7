"""Kafka plumbing shared by the services: topic creation, producers and offsets."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

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


async def topic_end_offsets(bootstrap_servers: str, topics: Iterable[str]) -> dict[str, int]:
    """Sum of end offsets per topic (0 for a topic the broker does not have)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        known = await consumer.topics()
        totals: dict[str, int] = {}
        for topic in topics:
            partitions = consumer.partitions_for_topic(topic) if topic in known else None
            if not partitions:
                totals[topic] = 0
                continue
            offsets = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
            totals[topic] = sum(offsets.values())
        return totals
    finally:
        await consumer.stop()
