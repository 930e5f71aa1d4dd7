"""Kafka plumbing shared by the services: client factories (with the security settings), topic creation,
producers and offsets.

Every Kafka client Caseline makes (relays, consumers, admin, the CLI, the flow monitor, the SLA watch's lag
figures) is built here or by `faststream_security` for the services' FastStream broker, so SASL and TLS
settings (`CASELINE_KAFKA_*`, eventcore.settings) reach all of them from one place.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import OffsetOutOfRangeError, TopicAlreadyExistsError
from faststream.security import (
    BaseSecurity,
    SASLPlaintext,
    SASLScram256,
    SASLScram512,
)

from eventcore.logging import get_logger
from eventcore.settings import Settings, get_settings

log = get_logger(__name__)


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """TLS towards the brokers, verifying their certificates (with the given CA, else the system's)."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    context = ssl.create_default_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    )
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(
            str(settings.kafka_ssl_certfile),
            str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
        )
    return context


def client_security(settings: Settings | None = None) -> dict[str, Any]:
    """aiokafka keyword arguments for the configured security: nothing for plaintext."""
    settings = settings or get_settings()
    protocol = settings.kafka_security_protocol or "PLAINTEXT"
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol.startswith("SASL"):
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": settings.kafka_sasl_password,
        }
    if (context := ssl_context(settings)) is not None:
        options["ssl_context"] = context
    return options


def faststream_security(settings: Settings | None = None) -> BaseSecurity | None:
    """The same settings for a FastStream KafkaBroker."""
    settings = settings or get_settings()
    protocol = settings.kafka_security_protocol or "PLAINTEXT"
    context = ssl_context(settings)
    if not protocol.startswith("SASL"):
        return BaseSecurity(ssl_context=context) if context is not None else None
    kind = {"SCRAM-SHA-512": SASLScram512, "SCRAM-SHA-256": SASLScram256, "PLAIN": SASLPlaintext}[
        settings.kafka_sasl_mechanism
    ]
    return kind(
        username=settings.kafka_sasl_username or "",
        password=settings.kafka_sasl_password or "",
        ssl_context=context,
        use_ssl=protocol == "SASL_SSL",
    )


def new_admin(bootstrap_servers: str, **options: Any) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **client_security(), **options)


def new_consumer(*topics: str, bootstrap_servers: str, **options: Any) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap_servers, **client_security(), **options)


async def ensure_topics(bootstrap_servers: str, topics: Iterable[str], partitions: int) -> None:
    """Create missing topics with the partition count the services expect (idempotent)."""
    admin = new_admin(bootstrap_servers)
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
        # No lingering: the relay hands the producer a whole batch at once before it waits for the
        # acknowledgements, so waiting for more records only delays every batch (by 5 ms at 5).
        linger_ms=0,
        max_batch_size=256 * 1024,
        request_timeout_ms=15000,
        **client_security(),
    )


Position = tuple[str, int, int]  # topic, partition, offset


async def message_ids_at(
    bootstrap_servers: str, positions: Iterable[Position], timeout_ms: int = 3000
) -> dict[Position, str | None]:
    """The identity (ce_id, see record_identity) of the record at each (topic, partition, offset), or None
    where the broker has no such record.

    Asking for the record itself, not the end offset, because some Kafka-protocol brokers (Tansu's
    memory engine) report end offsets per record batch rather than per record. All partitions are
    fetched together: one round trip for the lot, not one per partition.
    """
    wanted = list(dict.fromkeys(positions))
    found: dict[Position, str | None] = dict.fromkeys(wanted)
    if not wanted:
        return found
    consumer = new_consumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="none",
        max_partition_fetch_bytes=64 * 1024,
    )
    await consumer.start()
    try:
        offsets = await _non_empty_partitions(consumer, wanted)
        for (tp, offset), message_id in (await _ids_at(consumer, offsets, timeout_ms)).items():
            found[(tp.topic, tp.partition, offset)] = message_id
    finally:
        await consumer.stop()
    return found


async def _non_empty_partitions(
    consumer: AIOKafkaConsumer, wanted: list[Position]
) -> dict[TopicPartition, int]:
    """The positions worth a fetch: topics and partitions the broker has, holding records at all."""
    known = await consumer.topics()
    offsets = {
        TopicPartition(topic, partition): offset
        for topic, partition, offset in wanted
        if topic in known and partition in (consumer.partitions_for_topic(topic) or ())
    }
    if not offsets:
        return {}
    ends = await consumer.end_offsets(list(offsets))
    # An empty partition cannot hold it; skip the fetch, which would only time out.
    return {tp: offset for tp, offset in offsets.items() if ends.get(tp, 0) > 0}


async def _ids_at(
    consumer: AIOKafkaConsumer, offsets: dict[TopicPartition, int], timeout_ms: int
) -> dict[tuple[TopicPartition, int], str | None]:
    found: dict[tuple[TopicPartition, int], str | None] = {}
    if not offsets:
        return found
    consumer.assign(list(offsets))
    for tp, offset in offsets.items():
        consumer.seek(tp, offset)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_ms / 1000
    pending = set(offsets)
    while pending and (left := deadline - loop.time()) > 0:
        try:
            batches = await consumer.getmany(*pending, timeout_ms=int(left * 1000))
        except OffsetOutOfRangeError as error:
            out_of_range = set(error.args[0]) if error.args and isinstance(error.args[0], dict) else pending
            pending -= out_of_range  # past the log's end (or before its start): not there
            consumer.pause(*out_of_range)
            continue
        for tp, records in batches.items():
            first = next((r for r in records if r.offset >= offsets[tp]), None)
            if first is None or tp not in pending:
                continue
            found[(tp, offsets[tp])] = record_identity(first) if first.offset == offsets[tp] else None
            pending.discard(tp)
            consumer.pause(tp)
    return found


def record_identity(record: ConsumerRecord[Any, Any]) -> str:
    """What tells one record from another at the same position: its CloudEvent id, or, for outside
    systems' plain records, its position and timestamp (a new log's record there has another timestamp)."""
    value = dict(record.headers or ()).get("ce_id")
    if isinstance(value, bytes):
        return value.decode()
    return f"{record.topic}/{record.partition}@{record.offset}#{record.timestamp}"
