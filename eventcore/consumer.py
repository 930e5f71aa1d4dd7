"""Idempotent batch consumption: inbox claim, handler appends and dead letters in one transaction.

A batch is tried in one transaction first (fast path). If the handler rejects a message, the batch
is retried one message per transaction so the good ones land and the bad one is dead-lettered with
its reason. Infrastructure errors propagate, so the framework rewinds and the batch is redelivered.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Self

import asyncpg
from pydantic import ValidationError

from eventcore.cloudevents import CloudEvent, InvalidCloudEvent, parse_record
from eventcore.database import DbConnection
from eventcore.deadletters import DEFAULT_MAX_PAYLOAD_BYTES, DeadLetters, Rejection
from eventcore.http import structure_problem
from eventcore.inbox import Inbox
from eventcore.logging import bound_contextvars, get_logger
from eventcore.outbox import Outbox
from eventcore.store import EventStore
from eventcore.unit_of_work import Projector, UnitOfWork
from schemas.base import DomainEvent, EventMetadata
from schemas.reference import Channel
from schemas.topics import TOPIC_SOURCES, event_class

log = get_logger(__name__)


class MessageRejected(Exception):
    """The handler cannot act on this message; it is dead-lettered with this reason."""


@dataclass(frozen=True)
class InboundMessage:
    topic: str
    partition: int
    offset: int
    cloudevent: CloudEvent
    event: DomainEvent | None  # None for types this consumer does not know (ignored, not an error)

    @property
    def ref(self) -> str:
        return f"{self.topic}/{self.partition}@{self.offset}"

    def metadata_for_effects(
        self, actor: str, fallback_correlation: str, channel: Channel | None = None
    ) -> EventMetadata:
        """Metadata for the events this message causes: same journey, same district, caused by it."""
        return EventMetadata(
            correlation_id=self.cloudevent.correlation_id or fallback_correlation,
            causation_id=self.cloudevent.id,
            actor=actor,
            channel=channel,
            district=self.cloudevent.district,
        )


Handler = Callable[[UnitOfWork, InboundMessage], Awaitable[None]]


@dataclass
class BatchOutcome:
    """What became of a batch's records; every record is counted exactly once."""

    handled: int = 0
    duplicates: int = 0  # already in the inbox: a redelivery or the same id twice
    ignored: int = 0  # types this subscriber does not act on
    dead_lettered: int = 0

    def __iadd__(self, other: BatchOutcome) -> Self:
        self.handled += other.handled
        self.duplicates += other.duplicates
        self.ignored += other.ignored
        self.dead_lettered += other.dead_lettered
        return self

    def counts(self) -> dict[str, int]:
        return {
            "handled": self.handled,
            "duplicate": self.duplicates,
            "ignored": self.ignored,
            "dead_lettered": self.dead_lettered,
        }


@dataclass
class ServiceStores:
    pool: asyncpg.Pool
    schema: str
    source: str
    projector: Projector | None = None
    dead_letter_max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES

    def __post_init__(self) -> None:
        self.store = EventStore(self.schema)
        self.outbox = Outbox(self.schema)
        self.inbox = Inbox(self.schema)
        self.dead_letters = DeadLetters(self.schema, self.dead_letter_max_payload_bytes)

    def unit_of_work(self, conn: DbConnection) -> UnitOfWork:
        return UnitOfWork(
            conn=conn, store=self.store, outbox=self.outbox, source=self.source, projector=self.projector
        )


def decode(record: Any, wanted: Collection[str] | None = None) -> InboundMessage | Rejection | None:
    """A Kafka record as a typed message, the reason it is unusable, or None when its type is not wanted.

    Unwanted types are skipped before their data is parsed: a topic carries many types and most
    subscribers act on few of them.
    """
    ref = f"{record.topic}/{record.partition}@{record.offset}"
    try:
        cloudevent = parse_record(record.headers, record.value)
        owner = TOPIC_SOURCES.get(record.topic)
        if owner is not None and cloudevent.source != owner:
            raise InvalidCloudEvent(
                f"ce_source {cloudevent.source[:80]!r} may not publish on {record.topic} (only {owner})"
            )
        if wanted is not None and cloudevent.type not in wanted:
            return None
        contract = event_class(cloudevent.type)
        event = contract.model_validate_json(cloudevent.data) if contract else None
        suspect = event is not None and _may_be_unstorable(cloudevent.data)
        if suspect and event is not None and (problem := structure_problem(event.model_dump(mode="json"))):
            raise InvalidCloudEvent(problem[1])
    except (InvalidCloudEvent, ValidationError, ValueError) as error:
        return _rejection(record, ref, str(error))
    except Exception as error:  # noqa: BLE001 - a hostile record (RecursionError, ...) is rejected, not retried
        return _rejection(record, ref, f"undecodable record ({type(error).__name__})")
    return InboundMessage(record.topic, record.partition, record.offset, cloudevent, event)


# NUL (raw or escaped) or a surrogate escape: only then is the event walked for text PostgreSQL cannot store
# (an escaped surrogate pair is a proper emoji; a lone one is not text).
_SUSPECT = re.compile(rb"\x00|\\u0000|\\u[dD][89abcdefABCDEF]")


def _may_be_unstorable(data: bytes) -> bool:
    return _SUSPECT.search(data) is not None


def _rejection(record: Any, ref: str, reason: str) -> Rejection:
    value = record.value if isinstance(record.value, bytes) else b""
    return Rejection(source=f"kafka:{record.topic}", source_ref=ref, reason=f"{ref}: {reason}", payload=value)


def decode_raw(record: Any) -> InboundMessage:
    """A record from an outside system that does not speak CloudEvents (a hotline platform, a bureau).

    Its position stands in for the event id, so a redelivery of the same record is recognised by the
    inbox; the same content published twice is two records, and the handler's own keys dedupe those.
    """
    ref = f"{record.topic}/{record.partition}@{record.offset}"
    key = record.key.decode("utf-8", errors="replace") if isinstance(record.key, bytes) else record.key
    cloudevent = CloudEvent(
        id=ref,
        source=f"kafka:{record.topic}",
        type=RAW_TYPE,
        subject=key,
        time=None,
        data=record.value or b"",
        extensions={},
    )
    return InboundMessage(record.topic, record.partition, record.offset, cloudevent, None)


RAW_TYPE = "raw"


async def consume_batch(
    stores: ServiceStores,
    records: Sequence[Any],
    handler: Handler,
    wanted: Collection[str] | None = None,
    *,
    raw: bool = False,
) -> BatchOutcome:
    """Handle a batch of records once each, and say what became of them.

    `wanted` lists the CloudEvents types the handler acts on; with `raw` the records are not CloudEvents
    and the handler reads `message.cloudevent.data` itself, raising MessageRejected for what it cannot use.
    """
    decoded = [decode_raw(record) if raw else decode(record, wanted) for record in records]
    messages = [m for m in decoded if isinstance(m, InboundMessage)]
    rejections = [m for m in decoded if isinstance(m, Rejection)]
    try:
        async with stores.pool.acquire() as conn, conn.transaction():
            outcome = await _process(stores, conn, messages, handler)
            await stores.dead_letters.add(conn, rejections)
    except MessageRejected:
        outcome = await _consume_one_by_one(stores, messages, handler)
        async with stores.pool.acquire() as conn:
            await stores.dead_letters.add(conn, rejections)
    for rejection in rejections:
        log.warning("message_dead_lettered", reason=rejection.reason, ref=rejection.source_ref)
    outcome.ignored += len(decoded) - len(messages) - len(rejections)
    outcome.dead_lettered += len(rejections)
    return outcome


async def _process(
    stores: ServiceStores, conn: DbConnection, messages: Sequence[InboundMessage], handler: Handler
) -> BatchOutcome:
    by_origin: dict[tuple[str, str], list[str]] = {}
    for message in messages:
        by_origin.setdefault((message.topic, message.cloudevent.source), []).append(message.cloudevent.id)
    fresh: set[str] = set()
    for (topic, source), ids in by_origin.items():
        fresh |= await stores.inbox.claim(conn, topic, ids, source=source)
    uow = stores.unit_of_work(conn)
    outcome = BatchOutcome()
    for message in messages:
        if message.cloudevent.id not in fresh:
            log.debug("duplicate_message_skipped", event_id=message.cloudevent.id, ref=message.ref)
            outcome.duplicates += 1
            continue
        fresh.discard(message.cloudevent.id)  # the same id twice in one batch is handled once
        with bound_contextvars(
            event_id=message.cloudevent.id,
            case_id=message.cloudevent.subject,
            correlation_id=message.cloudevent.correlation_id,
        ):
            await handler(uow, message)
        outcome.handled += 1
    await uow.flush()
    return outcome


async def _consume_one_by_one(
    stores: ServiceStores, messages: Sequence[InboundMessage], handler: Handler
) -> BatchOutcome:
    outcome = BatchOutcome()
    for message in messages:
        try:
            async with stores.pool.acquire() as conn, conn.transaction():
                outcome += await _process(stores, conn, [message], handler)
        except MessageRejected as rejected:
            outcome.dead_lettered += 1
            reason = f"{message.ref}: {rejected}"
            async with stores.pool.acquire() as conn, conn.transaction():
                await stores.inbox.claim(
                    conn, message.topic, [message.cloudevent.id], source=message.cloudevent.source
                )
                await stores.dead_letters.add(
                    conn,
                    [Rejection(f"kafka:{message.topic}", reason, message.cloudevent.data, message.ref)],
                )
            log.warning("message_dead_lettered", reason=reason, event_id=message.cloudevent.id)
    return outcome
