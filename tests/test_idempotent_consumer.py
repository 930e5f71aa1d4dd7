"""The inbox and the batch consumer: a redelivered message changes nothing; a bad one is kept, not lost."""

from __future__ import annotations

import asyncio

import asyncpg

from eventcore.consumer import InboundMessage, MessageRejected, ServiceStores, consume_batch
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
