"""The inbox and the batch consumer: a redelivered message changes nothing; a bad one is kept, not lost."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import pytest

from eventcore.consumer import InboundMessage, MessageRejected, ServiceStores, consume_batch
from eventcore.deadletters import DeadLetter, DeadLetters
from eventcore.failures import RetryPolicy, ShuttingDown
from eventcore.inbox import Inbox
from eventcore.outbox import OutboxMessage
from eventcore.store import PendingEvent
from eventcore.unit_of_work import UnitOfWork
from schemas.base import EventMetadata
from schemas.cases import CaseClosed, CaseOpened
from schemas.reference import Category
from tests.factories import Record, case_opened


def _record(pending: PendingEvent, offset: int) -> Record:
    message = OutboxMessage.for_event(pending, topic="caseline.cases.v1", source="/caseline/routing")
    headers = [(k, v.encode()) for k, v in message.headers.items()]
    return Record(message.topic, 0, offset, headers, message.payload.encode())


async def _follow_up(uow: UnitOfWork, message: InboundMessage) -> None:
    """A handler that records one event per message it is given."""
    assert isinstance(message.event, CaseOpened)
    if message.event.category == "fire_hazard":
        raise MessageRejected("fire hazards are not handled here")
    follow = PendingEvent(
        message.event, EventMetadata(correlation_id="c", causation_id=message.cloudevent.id, actor="t")
    )
    uow.start_stream(f"seen-{message.cloudevent.id}", [follow], publish_to=None)


async def _count(pool: asyncpg.Pool, sql: str) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval(sql))


async def test_a_redelivered_message_changes_nothing(pool: asyncpg.Pool) -> None:
    stores = ServiceStores(pool, "svc", "/test")
    records = [_record(case_opened(f"c{i}"), i) for i in range(5)]
    first = await consume_batch(stores, records, _follow_up)
    again = await consume_batch(stores, records, _follow_up)  # the whole batch again, as after a rebalance
    thrice = await consume_batch(stores, records[2:3] * 3, _follow_up)  # one message three times in a batch
    assert await _count(pool, "SELECT count(*) FROM svc.events") == 5
    assert await _count(pool, "SELECT count(*) FROM svc.inbox") == 5
    assert (first.handled, first.duplicates) == (5, 0)
    assert (again.handled, again.duplicates) == (0, 5)
    assert (thrice.handled, thrice.duplicates) == (0, 3)


async def test_types_a_subscriber_does_not_want_are_counted_as_ignored_not_handled(
    pool: asyncpg.Pool,
) -> None:
    stores = ServiceStores(pool, "svc", "/test")
    records = [_record(case_opened(f"c{i}"), i) for i in range(3)]
    outcome = await consume_batch(stores, records, _follow_up, wanted={CaseClosed.cloudevent_type()})
    assert outcome.counts() == {"handled": 0, "duplicate": 0, "ignored": 3, "dead_lettered": 0}
    assert await _count(pool, "SELECT count(*) FROM svc.events") == 0


async def test_a_batch_of_first_deliveries_looks_up_no_dead_letters_and_a_batch_it_skips_writes_nothing(
    pool: asyncpg.Pool, statements: list[str]
) -> None:
    """Only a redelivered message can wait as a dead letter (dead-lettering claims it in the inbox), so
    only a batch the inbox has seen before pays the look-up; one of types the subscriber skips needs no
    transaction at all."""
    stores = ServiceStores(pool, "svc", "/test")
    records = [_record(case_opened(f"c{i}"), i) for i in range(3)]
    await consume_batch(stores, records, _follow_up)
    first_delivery, statements[:] = list(statements), []
    await consume_batch(stores, records, _follow_up)
    redelivery, statements[:] = list(statements), []
    skipped = await consume_batch(stores, records, _follow_up, wanted={CaseClosed.cloudevent_type()})

    assert not [s for s in first_delivery if "dead_letters" in s and s.lstrip().startswith("SELECT")]
    assert [s for s in redelivery if "dead_letters" in s and s.lstrip().startswith("SELECT")]
    assert statements == [] and skipped.ignored == 3


async def test_a_record_that_is_not_a_cloudevent_is_dead_lettered_with_its_position_and_the_rest_processed(
    pool: asyncpg.Pool,
) -> None:
    stores = ServiceStores(pool, "svc", "/test")
    good = _record(case_opened("ok"), 1)
    broken = Record("caseline.cases.v1", 3, 99, [("ce_specversion", b"0.3")], b"{}")
    outcome = await consume_batch(stores, [good, broken], _follow_up)
    assert (outcome.handled, outcome.dead_lettered) == (1, 1)
    assert await _count(pool, "SELECT count(*) FROM svc.events") == 1
    async with pool.acquire() as conn:
        [letter] = await stores.dead_letters.list(conn)
    assert letter.source_ref == "caseline.cases.v1/3@99"
    assert "ce_specversion" in letter.reason and letter.payload == b"{}"


async def test_a_message_the_handler_rejects_is_dead_lettered_while_the_rest_of_its_batch_lands(
    pool: asyncpg.Pool,
) -> None:
    stores = ServiceStores(pool, "svc", "/test")
    records = [
        _record(case_opened("a"), 1),
        _record(case_opened("b", Category.FIRE_HAZARD), 2),
        _record(case_opened("c"), 3),
    ]
    outcome = await consume_batch(stores, records, _follow_up)
    assert (outcome.handled, outcome.dead_lettered) == (2, 1)
    assert await _count(pool, "SELECT count(*) FROM svc.events") == 2
    async with pool.acquire() as conn:
        [letter] = await stores.dead_letters.list(conn)
    assert (
        "fire hazards are not handled here" in letter.reason and letter.source_ref == "caseline.cases.v1/0@2"
    )
    await consume_batch(stores, records, _follow_up)  # redelivered: the rejected one is not retried forever
    assert await _count(pool, "SELECT count(*) FROM svc.dead_letters") == 1


async def test_two_consumers_claiming_the_same_message_at_once_process_it_once(pool: asyncpg.Pool) -> None:
    inbox = Inbox("svc")

    async def claim() -> set[str]:
        async with pool.acquire() as conn, conn.transaction():
            claimed = await inbox.claim(conn, "t", ["m-1"])
            await asyncio.sleep(0.2)  # hold the claim while the other consumer tries
            return claimed

    first, second = await asyncio.gather(claim(), claim())
    assert sorted([len(first), len(second)]) == [0, 1]


async def test_raw_records_from_outside_systems_are_handled_once_and_rejections_kept(
    pool: asyncpg.Pool,
) -> None:
    stores = ServiceStores(pool, "svc", "/test")

    async def take(uow: UnitOfWork, message: InboundMessage) -> None:
        if not message.cloudevent.data.startswith(b"{"):
            raise MessageRejected("not a JSON object")
        uow.start_stream(f"raw-{message.ref}", [case_opened("raw")], publish_to=None)

    records = [Record("raw.v1", 0, 1, [], b'{"a": 1}'), Record("raw.v1", 0, 2, [], b"garbage")]
    await consume_batch(stores, records, take, raw=True)
    await consume_batch(stores, records, take, raw=True)  # redelivered
    assert await _count(pool, "SELECT count(*) FROM svc.events") == 1
    async with pool.acquire() as conn:
        [letter] = await stores.dead_letters.list(conn)
    assert letter.source_ref == "raw.v1/0@2" and "not a JSON object" in letter.reason
    assert letter.payload == b"garbage"


FAST_RETRY = RetryPolicy(max_attempts=3, first_backoff_seconds=0.01)


async def _dead_letters(pool: asyncpg.Pool) -> list[DeadLetter]:
    async with pool.acquire() as conn:
        return await DeadLetters("svc").list(conn, include_replayed=True)


async def test_a_message_whose_handler_keeps_failing_is_dead_lettered_after_bounded_attempts_and_the_rest_lands(
    pool: asyncpg.Pool,
) -> None:
    stores = ServiceStores(pool, "svc", "/test")
    tries: list[str] = []

    async def buggy(uow: UnitOfWork, message: InboundMessage) -> None:
        tries.append(message.cloudevent.id)
        if message.cloudevent.subject == "b":
            raise KeyError("district")  # a bug, not a rejection: it is tried again before it is given up
        await _follow_up(uow, message)

    records = [_record(case_opened(c), i) for i, c in enumerate("abc")]
    outcome = await consume_batch(stores, records, buggy, retry=FAST_RETRY)
    assert (outcome.handled, outcome.dead_lettered) == (2, 1)
    assert await _count(pool, "SELECT count(*) FROM svc.events") == 2
    [letter] = await _dead_letters(pool)
    assert letter.source_ref == "caseline.cases.v1/0@1" and "KeyError" in letter.reason
    assert "failed 3 times" in letter.reason
    b_id = dict(records[1].headers)["ce_id"].decode()
    assert tries.count(b_id) == 1 + 3  # the batch once, then three attempts alone
    assert await _count(pool, "SELECT count(*) FROM svc.failed_attempts") == 0

    again = await consume_batch(stores, records, buggy, retry=FAST_RETRY)  # redelivered: one more try only
    assert (again.handled, again.duplicates) == (0, 3)
    assert tries.count(b_id) == 5 and len(await _dead_letters(pool)) == 1


async def test_attempts_are_counted_across_a_redelivery_so_a_restart_does_not_start_the_count_again(
    pool: asyncpg.Pool,
) -> None:
    stores = ServiceStores(pool, "svc", "/test")
    stopping = asyncio.Event()

    async def failing(uow: UnitOfWork, message: InboundMessage) -> None:
        stopping.set()  # the service is told to stop while the message waits for its next attempt
        raise RecursionError("maximum recursion depth exceeded")

    records = [_record(case_opened("deep"), 7)]
    with pytest.raises(ShuttingDown):
        await consume_batch(stores, records, failing, retry=RetryPolicy(3, 0.01, stop=stopping))
    assert await _count(pool, "SELECT attempts FROM svc.failed_attempts") == 1
    assert await _dead_letters(pool) == []

    await consume_batch(stores, records, failing, retry=FAST_RETRY)  # after the restart
    [letter] = await _dead_letters(pool)
    assert "RecursionError" in letter.reason and "failed 3 times" in letter.reason


async def test_a_database_that_does_not_answer_is_not_the_messages_fault_but_a_value_it_refuses_is(
    pool: asyncpg.Pool,
) -> None:
    stores = ServiceStores(pool, "svc", "/test")

    async def database_gone(uow: UnitOfWork, message: InboundMessage) -> None:
        raise asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation")

    records = [_record(case_opened("x"), 1)]
    with pytest.raises(asyncpg.ConnectionDoesNotExistError):
        await consume_batch(stores, records, database_gone, retry=FAST_RETRY)
    assert await _count(pool, "SELECT count(*) FROM svc.failed_attempts") == 0
    assert await _dead_letters(pool) == []

    async def refused_value(uow: UnitOfWork, message: InboundMessage) -> None:
        await uow.conn.execute("SELECT 'not a number'::int")  # PostgreSQL answers: the message's fault

    await consume_batch(stores, records, refused_value, retry=FAST_RETRY)
    [letter] = await _dead_letters(pool)
    assert "InvalidTextRepresentationError" in letter.reason


async def test_a_dead_lettered_message_delivered_again_after_what_it_needed_is_handled_and_no_longer_waits(
    pool: asyncpg.Pool,
) -> None:
    """After a lost log, a case's later fact can come before its opening; re-sent in order, it goes through."""
    stores = ServiceStores(pool, "svc", "/test")

    async def needs_opening(uow: UnitOfWork, message: InboundMessage) -> None:
        assert isinstance(message.event, CaseOpened)
        if message.event.category == Category.FIRE_HAZARD:  # stands for "a later fact of the case"
            if await uow.store.stream_version(uow.conn, "opened-early") == 0:
                raise MessageRejected("before its opening")
            uow.start_stream("later", [case_opened("early")], publish_to=None)
        else:
            uow.start_stream("opened-early", [case_opened("early")], publish_to=None)

    later = _record(case_opened("early", Category.FIRE_HAZARD), 0)
    opening = _record(case_opened("early"), 1)
    first = await consume_batch(stores, [later], needs_opening, retry=FAST_RETRY)
    assert first.dead_lettered == 1
    redriven = await consume_batch(stores, [opening, later], needs_opening, retry=FAST_RETRY)
    assert (redriven.handled, redriven.dead_lettered) == (2, 0)
    assert await _count(pool, "SELECT count(*) FROM svc.events WHERE stream_id = 'later'") == 1
    [letter] = await _dead_letters(pool)
    assert letter.replayed_at is not None and letter.details["resolved"] == "handled when delivered again"


async def test_a_batch_is_preloaded_once_with_its_fresh_messages_only_and_not_when_taken_apart(
    pool: asyncpg.Pool,
) -> None:
    stores = ServiceStores(pool, "svc", "/test")
    records = [_record(case_opened(f"pre{i}"), i) for i in range(4)]
    await consume_batch(stores, records[:1], _follow_up)  # the first one is a duplicate below
    preloaded: list[list[str]] = []

    async def preload(uow: UnitOfWork, messages: Sequence[InboundMessage]) -> None:
        preloaded.append([m.event.case_id for m in messages if m.event is not None])

    await consume_batch(stores, records, _follow_up, preload=preload)
    fire = _record(case_opened("pre-fire", category=Category.FIRE_HAZARD), 9)
    await consume_batch(stores, [_record(case_opened("pre9"), 8), fire], _follow_up, preload=preload)
    # The second batch failed whole (a rejected message) and was redone one message at a time: the preload
    # ran inside the transaction that rolled back, and not again for the messages handled alone.
    assert preloaded == [["pre1", "pre2", "pre3"], ["pre9", "pre-fire"]]
    assert await _count(pool, "SELECT count(*) FROM svc.events WHERE stream_id LIKE 'seen-%'") == 5
