"""Kafka plumbing shared by the services: client factories (with the security settings), topic creation,
producers and offsets.

Every Kafka client Caseline makes (relays, consumers, admin, the CLI, the flow monitor, the SLA watch's lag
figures) is built here or by `faststream_security` for the services' FastStream broker, so SASL and TLS
settings (`CASELINE_KAFKA_*`, eventcore.settings) reach all of them from one place.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
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
        linger_ms=5,
        max_batch_size=256 * 1024,
        request_timeout_ms=15000,
        **client_security(),
    )


async def message_ids_at(
    bootstrap_servers: str, positions: Iterable[tuple[str, int, int]], timeout_ms: int = 3000
) -> dict[tuple[str, int, int], str | None]:
    """The ce_id of the record at each (topic, partition, offset), or None where the broker has no such record.

    Asking for the record itself, not the end offset, because some Kafka-protocol brokers (Tansu's
    memory engine) report end offsets per record batch rather than per record.
    """
    found: dict[tuple[str, int, int], str | None] = {}
    consumer = new_consumer(
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
