"""Idempotent batch consumption: inbox claim, handler appends and dead letters in one transaction.

A batch is tried in one transaction first (fast path). If anything goes wrong that is not the
infrastructure's fault, the batch is redone one message per transaction, in order, so the good ones land:
a message the handler rejects (MessageRejected) is dead-lettered with its reason at once; one whose
handling fails otherwise (a bug, a KeyError, a RecursionError, a value PostgreSQL refuses) is tried again
with a growing back-off and dead-lettered after a bounded number of attempts, counted per message id
across redeliveries. Either way the partition moves on. Infrastructure errors (the database away)
propagate, so the framework rewinds and the batch is redelivered, as often as it takes.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self

import asyncpg
from pydantic import ValidationError

from eventcore.cloudevents import CloudEvent, InvalidCloudEvent, parse_record
from eventcore.database import DbConnection
from eventcore.deadletters import DEFAULT_MAX_PAYLOAD_BYTES, DeadLetters, Rejection
from eventcore.failures import FailedAttempts, RetryPolicy, describe, is_infrastructure_failure
from eventcore.http import structure_problem
from eventcore.inbox import Inbox
from eventcore.logging import bound_contextvars, get_logger
from eventcore.mapper import EventMapper, default_mapper
from eventcore.outbox import Outbox
from eventcore.store import ConcurrencyError, EventStore
from eventcore.unit_of_work import LocalWaker, Projector, UnitOfWork
from schemas.base import DomainEvent, EventMetadata
from schemas.reference import Channel
from schemas.topics import TOPIC_SOURCES

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
        self,
        actor: str,
        fallback_correlation: str,
        channel: Channel | None = None,
        *,
        district: str | None = None,
    ) -> EventMetadata:
        """Metadata for the events this message causes: same journey, same district, caused by it.

        `district`: the district the effects belong to by their data (the case's, the escalation's). It wins
        should the envelope disagree (a publisher's bug, or a record from before the envelope carried one,
        which reads as the founding district), and the disagreement is logged.
        """
        envelope = self.cloudevent.district
        if district is not None and district != envelope:
            log.warning("message_district_differs", envelope=envelope, data_district=district, ref=self.ref)
        return EventMetadata(
            correlation_id=self.cloudevent.correlation_id or fallback_correlation,
            causation_id=self.cloudevent.id,
            actor=actor,
            channel=channel,
            district=district or envelope,
        )

    def occurred_at(self) -> datetime:
        """The fact's own time (its CloudEvent time), so a redelivery decides the same deadlines; now when
        the envelope has none or an unreadable one."""
        if self.cloudevent.time:
            try:
                return datetime.fromisoformat(self.cloudevent.time)
            except ValueError:
                pass
        return datetime.now(UTC)


Handler = Callable[[UnitOfWork, InboundMessage], Awaitable[None]]
# Loads, in a few queries, what a batch's handlers would otherwise load one message at a time (the cases or
# rows they touch): the unit of work keeps it (`uow.seen`), so each handler finds it without a round trip.
# Called with the batch's fresh messages inside its transaction; a batch taken apart (one message per
# transaction) goes without, and its handlers load for themselves.
Preload = Callable[[UnitOfWork, Sequence[InboundMessage]], Awaitable[None]]
DEFAULT_RETRY = RetryPolicy()
CONFLICT_RETRIES = 3  # a batch that lost a race for a case is tried whole again this often


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
    # Channels whose listener runs in this process (the service's relay): see UnitOfWork.send_notifications.
    wake_locally: Mapping[str, LocalWaker] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.store = EventStore(self.schema)
        self.outbox = Outbox(self.schema)
        self.inbox = Inbox(self.schema)
        self.dead_letters = DeadLetters(self.schema, self.dead_letter_max_payload_bytes)
        self.attempts = FailedAttempts(self.schema)

    def bind(self, conn: DbConnection) -> UnitOfWork:
        """A unit of work inside a transaction the caller owns (the consumer's batch); the caller flushes."""
        return UnitOfWork(
            conn=conn,
            store=self.store,
            outbox=self.outbox,
            source=self.source,
            projector=self.projector,
            wake_locally=self.wake_locally,
        )

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """`async with stores.unit_of_work() as uow:` one transaction, flushed and committed on the way
        out, rolled back (nothing written, nothing published) when the block raises."""
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                uow = self.bind(conn)
                yield uow
                await uow.flush()
            await uow.send_notifications()


def decode(
    record: Any, wanted: Collection[str] | None = None, mapper: EventMapper | None = None
) -> InboundMessage | Rejection | None:
    """A Kafka record as a typed message, the reason it is unusable, or None when its type is not wanted.

    The event is read by the mapper (default_mapper()) as a tolerant reader: fields this version does not
    know are ignored (a newer producer's additive change) and an older schema version is upcast, so the
    handler always sees the current contract. `wanted` names current types; their older versions that the
    mapper upcasts are wanted too, and a version newer than the mapper knows of a wanted type is rejected
    (dead-lettered until an upgraded reader gets it again), not skipped. Unwanted types are skipped before
    their data is parsed: a topic carries many types and most subscribers act on few of them.
    """
    mapper = mapper or default_mapper()
    ref = f"{record.topic}/{record.partition}@{record.offset}"
    try:
        cloudevent = parse_record(record.headers, record.value)
        owner = TOPIC_SOURCES.get(record.topic)
        if owner is not None and cloudevent.source != owner:
            raise InvalidCloudEvent(
                f"ce_source {cloudevent.source[:80]!r} may not publish on {record.topic} (only {owner})"
            )
        contract = mapper.reads_as(cloudevent.type)
        newer = mapper.newer_than_known(cloudevent.type) if contract is None else None
        if not _is_wanted(cloudevent.type, contract or newer, wanted):
            return None
        if newer is not None:
            # Not ignored: the handler needs this fact, so it waits as a dead letter for an upgraded reader.
            raise InvalidCloudEvent(
                f"{cloudevent.type[:80]} is newer than this consumer reads (v{newer.schema_version}): "
                "upgrade it (readers before writers), then have the message delivered again"
            )
        event = mapper.from_cloudevent(cloudevent.type, cloudevent.data) if contract else None
        if event is not None and (problem := _storage_problem(cloudevent.data)):
            raise InvalidCloudEvent(problem)
    except (InvalidCloudEvent, ValidationError, ValueError) as error:
        return _rejection(record, ref, str(error))
    except Exception as error:  # noqa: BLE001 - a hostile record (RecursionError, ...) is rejected, not retried
        return _rejection(record, ref, f"undecodable record ({type(error).__name__})")
    return InboundMessage(record.topic, record.partition, record.offset, cloudevent, event)


def _is_wanted(
    cloudevent_type: str, contract: type[DomainEvent] | None, wanted: Collection[str] | None
) -> bool:
    if wanted is None or cloudevent_type in wanted:
        return True
    return contract is not None and contract.cloudevent_type() in wanted


# NUL (raw or escaped) or a surrogate escape: only then is the data walked for text PostgreSQL cannot store
# (an escaped surrogate pair is a proper emoji; a lone one is not text).
_SUSPECT = re.compile(rb"\x00|\\u0000|\\u[dD][89abcdefABCDEF]")


def _may_be_unstorable(data: bytes) -> bool:
    # Byte searches first: the regex costs a few microseconds on every message, and almost none has either.
    return (b"\x00" in data or b"\\u" in data) and _SUSPECT.search(data) is not None


def _storage_problem(data: bytes) -> str | None:
    """Why PostgreSQL could not keep this message's data, or None. The data as sent is walked, not the
    event: fields this version does not know are not in the event, yet a handler may keep the data verbatim
    (routing's case timeline)."""
    if not _may_be_unstorable(data):
        return None
    problem = structure_problem(json.loads(data))
    return problem[1] if problem else None


def _rejection(record: Any, ref: str, reason: str) -> Rejection:
    value = record.value if isinstance(record.value, bytes) else b""
    return Rejection(source=f"kafka:{record.topic}", source_ref=ref, reason=f"{ref}: {reason}", payload=value)


def decode_raw(record: Any) -> InboundMessage:
    """A record from an outside system that does not speak CloudEvents (a hotline platform, a bureau).

    Its position and timestamp stand in for the event id, so a redelivery of the same record is recognised
    by the inbox, and a different record at a reused position (a log lost and begun again) is not taken
    for it; the same content published twice is two records, and the handler's own keys dedupe those.
    """
    ref = f"{record.topic}/{record.partition}@{record.offset}"
    key = record.key.decode("utf-8", errors="replace") if isinstance(record.key, bytes) else record.key
    cloudevent = CloudEvent(
        id=f"{ref}#{getattr(record, 'timestamp', None) or 0}",
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
    retry: RetryPolicy = DEFAULT_RETRY,
    mapper: EventMapper | None = None,
    preload: Preload | None = None,
) -> BatchOutcome:
    """Handle a batch of records once each, and say what became of them.

    `wanted` lists the CloudEvents types the handler acts on; with `raw` the records are not CloudEvents
    and the handler reads `message.cloudevent.data` itself, raising MessageRejected for what it cannot use.
    `mapper` reads the events (default_mapper(): every contract on Caseline's topics and its upcasters).
    `preload` fetches, for the whole batch at once, what its handlers are about to load (see Preload).
    Only infrastructure failures (eventcore.failures) leave this function: the batch then comes again.
    """
    decoded = [decode_raw(record) if raw else decode(record, wanted, mapper) for record in records]
    messages = [m for m in decoded if isinstance(m, InboundMessage)]
    rejections = [m for m in decoded if isinstance(m, Rejection)]
    if not messages and not rejections:  # only types this subscriber skips: nothing to write
        return BatchOutcome(ignored=len(decoded))
    outcome = await _whole_batch(stores, messages, rejections, handler, preload)
    if outcome is None:
        async with stores.pool.acquire() as conn:
            again = await stores.dead_letters.waiting_ids(conn, [m.cloudevent.id for m in messages])
        outcome = await _consume_one_by_one(stores, messages, handler, retry, again)
        async with stores.pool.acquire() as conn:
            await stores.dead_letters.add(conn, rejections)
    for rejection in rejections:
        log.warning("message_dead_lettered", reason=rejection.reason, ref=rejection.source_ref)
    outcome.ignored += len(decoded) - len(messages) - len(rejections)
    outcome.dead_lettered += len(rejections)
    return outcome


async def _whole_batch(
    stores: ServiceStores,
    messages: Sequence[InboundMessage],
    rejections: list[Rejection],
    handler: Handler,
    preload: Preload | None = None,
) -> BatchOutcome | None:
    """The fast path: the whole batch in one transaction. None: redo it one message at a time.

    A concurrent writer that got to a case first (a staff command, another replica) is nobody's fault:
    the batch is tried again with fresh reads before it is taken apart.
    """
    for attempt in range(1, CONFLICT_RETRIES + 2):
        try:
            async with stores.unit_of_work() as uow:
                outcome = await _process(stores, uow, messages, handler, preload, whole_batch=True)
                await stores.dead_letters.add(uow.conn, rejections)
            return outcome
        except _WaitingDeadLetter:
            return None  # rolled back: taken apart, so the dead-lettered message gets a try of its own
        except (ConcurrencyError, asyncpg.TransactionRollbackError) as conflict:
            if attempt > CONFLICT_RETRIES:
                log.info("batch_redone_one_by_one", cause=describe(conflict), records=len(messages))
                return None
            await asyncio.sleep(0.02 * attempt)
        except Exception as error:
            if await is_infrastructure_failure(error, stores.pool):
                raise
            log.info("batch_redone_one_by_one", cause=describe(error), records=len(messages))
            return None
    return None


async def _process(
    stores: ServiceStores,
    uow: UnitOfWork,
    messages: Sequence[InboundMessage],
    handler: Handler,
    preload: Preload | None = None,
    *,
    whole_batch: bool = False,
) -> BatchOutcome:
    by_origin: dict[tuple[str, str], list[str]] = {}
    for message in messages:
        by_origin.setdefault((message.topic, message.cloudevent.source), []).append(message.cloudevent.id)
    fresh: set[str] = set()
    for (topic, source), ids in by_origin.items():
        fresh |= await stores.inbox.claim(uow.conn, topic, ids, source=source)
    if whole_batch:
        await _refuse_waiting_dead_letters(stores, uow, [m for m in messages if m.cloudevent.id not in fresh])
    outcome = BatchOutcome()
    if preload is not None and fresh:
        await preload(uow, [m for m in messages if m.cloudevent.id in fresh])
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


class _WaitingDeadLetter(Exception):
    """A batch redelivers a message that waits as a dead letter: the batch is taken apart (see below)."""


async def _refuse_waiting_dead_letters(
    stores: ServiceStores, uow: UnitOfWork, seen_before: Sequence[InboundMessage]
) -> None:
    """Raise _WaitingDeadLetter when one of the batch's already-claimed messages waits as a dead letter.

    Only those need looking up: a message is claimed in the inbox in the transaction that dead-letters it,
    so a message the inbox has not seen cannot be one. A batch of first deliveries, the usual case, costs
    no query."""
    if seen_before and await stores.dead_letters.waiting_ids(uow.conn, [m.cloudevent.id for m in seen_before]):
        raise _WaitingDeadLetter


async def _consume_one_by_one(
    stores: ServiceStores,
    messages: Sequence[InboundMessage],
    handler: Handler,
    retry: RetryPolicy,
    dead_lettered_before: set[str],
) -> BatchOutcome:
    """In offset order, one transaction each, so the good ones land and each bad one is dealt with alone."""
    outcome = BatchOutcome()
    for message in messages:
        if message.cloudevent.id in dead_lettered_before:
            outcome += await _try_dead_lettered_again(stores, message, handler)
        else:
            outcome += await _handle_with_attempts(stores, message, handler, retry)
    return outcome


async def _handle_with_attempts(
    stores: ServiceStores, message: InboundMessage, handler: Handler, retry: RetryPolicy
) -> BatchOutcome:
    """Rejected: dead-lettered at once. Failed: tried again after a back-off, dead-lettered once the
    message has failed `retry.max_attempts` times (counted across deliveries)."""
    while True:
        try:
            async with stores.unit_of_work() as uow:
                outcome = await _process(stores, uow, [message], handler)
                await stores.attempts.forget(uow.conn, [message.cloudevent.id])
            return outcome
        except MessageRejected as rejected:
            await _dead_letter(stores, message, str(rejected))
            return BatchOutcome(dead_lettered=1)
        except Exception as error:
            if await is_infrastructure_failure(error, stores.pool):
                raise
            attempts = await stores.attempts.record(stores.pool, message.cloudevent.id, message.topic, error)
            if attempts >= retry.max_attempts:
                reason = f"{describe(error)}: {str(error)[:500]} (failed {attempts} times)"
                await _dead_letter(
                    stores, message, reason, log_reason=f"{describe(error)} ({attempts} times)"
                )
                return BatchOutcome(dead_lettered=1)
            log.warning(
                "message_handling_failed",
                event_id=message.cloudevent.id,
                ref=message.ref,
                error=describe(error),
                attempt=attempts,
                of=retry.max_attempts,
                retry_in=retry.backoff(attempts),
            )
            await retry.wait_before_attempt(attempts)


async def _try_dead_lettered_again(
    stores: ServiceStores, message: InboundMessage, handler: Handler
) -> BatchOutcome:
    """A dead-lettered message delivered again (a producer's re-drive, an audit's repair) gets one more try.

    It may have come before what it depends on (after a lost log, the first messages the new log took can
    precede the older ones re-sent behind them): now they are handled, it can be too. Still failing, it
    stays a dead letter and the partition moves on.
    """
    try:
        async with stores.unit_of_work() as uow:
            await stores.inbox.release(uow.conn, [message.cloudevent.id], source=message.cloudevent.source)
            outcome = await _process(stores, uow, [message], handler)
            await stores.dead_letters.resolve(uow.conn, message.cloudevent.id, "handled when delivered again")
    except Exception as error:
        if await is_infrastructure_failure(error, stores.pool):
            raise
        log.info("dead_lettered_message_still_fails", event_id=message.cloudevent.id, error=describe(error))
        return BatchOutcome(duplicates=1)
    log.info("dead_letter_resolved_on_redelivery", event_id=message.cloudevent.id, ref=message.ref)
    return outcome


async def _dead_letter(
    stores: ServiceStores, message: InboundMessage, why: str, *, log_reason: str | None = None
) -> None:
    reason = f"{message.ref}: {why}"
    rejection = Rejection(
        f"kafka:{message.topic}",
        reason,
        message.cloudevent.data,
        message.ref,
        message_id=message.cloudevent.id,
    )
    async with stores.pool.acquire() as conn, conn.transaction():
        await stores.inbox.claim(
            conn, message.topic, [message.cloudevent.id], source=message.cloudevent.source
        )
        await stores.dead_letters.add(conn, [rejection])
        await stores.attempts.forget(conn, [message.cloudevent.id])
    log.warning(
        "message_dead_lettered",
        reason=reason if log_reason is None else f"{message.ref}: {log_reason}",
        event_id=message.cloudevent.id,
    )
