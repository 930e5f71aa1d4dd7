"""The SLA reads a case once per change: a consumer batch's cases in one query, and the watch only the events
it lacks; yet what the watch holds is always what a full fold of the store gives, however concurrent writers'
commits interleave (PostgreSQL takes global positions before commit, so a lower one may commit later)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest
from asyncpg import Record
from asyncpg.pool import PoolConnectionProxy

from eventcore.consumer import ServiceStores, consume_batch
from eventcore.database import create_pool, migrate
from eventcore.mapper import EventMapper
from eventcore.outbox import OutboxMessage
from eventcore.store import EventStore, RecordedEvent
from schemas.base import DomainEvent
from schemas.cases import CaseAccepted
from schemas.sla import ClockKind
from schemas.topics import CASES
from services.sla.adapters import clock_store
from services.sla.adapters.clock_store import clocks_of, load_case
from services.sla.adapters.watch import Watch
from services.sla.app import spec
from services.sla.domain.clocks import AlertKind, CaseClocks, clock_id_for
from services.sla.handlers import SlaContext, handle_case_fact
from services.sla.settings import SlaSettings
from tests import factories
from tests.factories import case_opened
from tests.test_sla_case_clocks_store import message
from tests.test_sla_clocks import MONDAY, REACTOR, assigned_task, opened, routed

CASE = "case-1"
CONTEXT = SlaContext(REACTOR)


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[ServiceStores]:
    pool = await create_pool(database_url, max_size=6)
    await migrate(pool, "sla")
    yield ServiceStores(pool, "sla", source="/caseline/sla")
    await pool.close()


class Handling:
    """A consumer batch about the case, handled and flushed (its events have their global positions and its
    notification is queued) but not committed yet."""

    def __init__(self, conn: PoolConnectionProxy[Record], transaction: Any) -> None:
        self.conn, self.transaction = conn, transaction

    async def commit(self, stores: ServiceStores) -> None:
        await self.transaction.commit()
        await stores.pool.release(self.conn)


async def handling(stores: ServiceStores, fact: DomainEvent, at: datetime) -> Handling:
    conn = await stores.pool.acquire()
    transaction = conn.transaction()
    await transaction.start()
    uow = stores.bind(conn)
    await handle_case_fact(CONTEXT, uow, message(fact, at, 0))
    await uow.flush()
    return Handling(conn, transaction)


async def handled(stores: ServiceStores, fact: DomainEvent, at: datetime) -> None:
    await (await handling(stores, fact, at)).commit(stores)


async def full_fold(stores: ServiceStores) -> CaseClocks:
    async with stores.pool.acquire() as conn:
        return clocks_of(await load_case(stores.bind(conn), CASE))


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the watch never got to {what}")


class Watching:
    """A watch running as in the service: listening, loading, then reading what each notification names."""

    def __init__(self, stores: ServiceStores, database_url: str, now: datetime = MONDAY) -> None:
        self.watch = Watch(0.8, now=lambda: now)
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self.watch.run(stores, database_url, self.stop))

    def has(self, *clock_ids: str) -> bool:
        case = self.watch.cases.get(CASE)
        return case is not None and all(c in case.clocks for c in clock_ids)

    def case(self) -> CaseClocks:
        return self.watch.cases[CASE]

    async def close(self) -> None:
        self.stop.set()
        await self.task


@pytest.fixture
async def watching(stores: ServiceStores, database_url: str) -> AsyncIterator[Callable[..., Watching]]:
    started: list[Watching] = []

    def start(now: datetime = MONDAY) -> Watching:
        started.append(Watching(stores, database_url, now))
        return started[-1]

    yield start
    for running in started:
        await running.close()


DISPATCH = clock_id_for(CASE, ClockKind.DISPATCH)
CONTACT = clock_id_for(CASE, ClockKind.CONTACT)
TASK_1 = clock_id_for(CASE, ClockKind.TASK, "t1")
TASK_2 = clock_id_for(CASE, ClockKind.TASK, "t2")
DUE = MONDAY + timedelta(days=10)


async def test_a_batch_of_facts_about_many_cases_loads_their_clocks_in_one_query(
    stores: ServiceStores, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[int] = []
    read_subjects = EventStore.read_subjects

    async def counted(store: EventStore, conn: Any, subjects: Any) -> list[RecordedEvent]:
        reads.append(len(subjects))
        return await read_subjects(store, conn, subjects)

    monkeypatch.setattr(EventStore, "read_subjects", counted)
    cases = next(s for s in spec(SlaSettings()).subscriptions if s.topic == CASES)
    records = []
    for offset in range(20):
        pending = case_opened(f"case-{offset}")
        sent = OutboxMessage.for_event(pending, topic=CASES, source="/caseline/routing")
        headers = [(k, v.encode()) for k, v in sent.headers.items()]
        records.append(factories.Record(CASES, 0, offset, headers, sent.payload.encode()))

    outcome = await consume_batch(stores, records, cases.handler, cases.wanted, preload=cases.preload)

    assert outcome.handled == 20
    assert reads == [20]
    async with stores.pool.acquire() as conn:
        started = await conn.fetchval("SELECT count(*) FROM sla.events WHERE event_type = 'SlaClockStarted'")
    assert started == 20  # every case's dispatch clock, as one message at a time would have started it


async def test_the_watch_reads_only_what_a_change_added_to_a_case_it_holds(
    stores: ServiceStores, watching: Callable[..., Watching], monkeypatch: pytest.MonkeyPatch
) -> None:
    await handled(stores, opened(), MONDAY)
    await handled(stores, routed(), MONDAY + timedelta(hours=1))
    running = watching()
    await until(lambda: running.has(CONTACT), "the routed case")
    accepting = await handling(stores, CaseAccepted(case_id=CASE, unit_code="COMM-1"), MONDAY + timedelta(hours=2))
    decoded: list[str] = []
    recorded = EventMapper.recorded

    def counted(mapper: EventMapper, row: RecordedEvent) -> DomainEvent:
        decoded.append(row.event_type)
        return recorded(mapper, row)

    monkeypatch.setattr(EventMapper, "recorded", counted)
    await accepting.commit(stores)
    await until(lambda: running.case().clocks[CONTACT].stopped_at is not None, "the accepted case")

    assert decoded == ["SlaClockStopped"]  # not the four events it had folded already
    assert running.case() == await full_fold(stores)


async def test_a_change_committed_behind_one_the_watch_folded_already_is_folded_in_store_order(
    stores: ServiceStores, watching: Callable[..., Watching]
) -> None:
    await handled(stores, opened(), MONDAY)
    running = watching()
    await until(lambda: running.has(DISPATCH), "the opened case")
    # The joint meeting's task and routing's dispatch are handled at once (another replica, another topic):
    # the task clock takes the lower global position but commits second.
    task = await handling(stores, assigned_task(DUE), MONDAY + timedelta(hours=1))
    dispatch = await handling(stores, routed(), MONDAY + timedelta(hours=2))
    await dispatch.commit(stores)
    await until(lambda: running.has(CONTACT), "the dispatched case")
    await task.commit(stores)
    await until(lambda: running.has(TASK_1), "the task's clock")

    full = await full_fold(stores)
    assert running.case() == full
    assert list(running.case().clocks) == list(full.clocks) == [
        DISPATCH,
        TASK_1,
        CONTACT,
        clock_id_for(CASE, ClockKind.RESOLVE, 0),
    ]


async def test_a_watch_loading_while_writers_commit_holds_every_stream_it_is_told_of(
    stores: ServiceStores, watching: Callable[..., Watching], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its load reads the store in pages; a stream whose first event commits behind the first page and
    whose second event lands in a later page must not be taken as complete from its second event."""
    await handled(stores, opened(), MONDAY)
    first_task = await handling(stores, assigned_task(DUE), MONDAY + timedelta(hours=1))
    await handled(stores, routed(), MONDAY + timedelta(hours=2))  # positions after the first task's
    monkeypatch.setattr(clock_store, "_PAGE", 2)
    read_all = EventStore.read_all
    pages = 0

    async def interleaved(store: EventStore, conn: Any, after: int = 0, limit: int = 1000) -> Any:
        nonlocal pages
        page = await read_all(store, conn, after, limit)
        pages += 1
        if pages == 1:  # between the first page and the next, both tasks commit
            await first_task.commit(stores)
            await handled(stores, assigned_task(DUE, "t2"), MONDAY + timedelta(hours=3))
        return page

    monkeypatch.setattr(EventStore, "read_all", interleaved)
    running = watching()
    await until(lambda: running.has(CONTACT, TASK_1, TASK_2), "both tasks")

    full = await full_fold(stores)
    assert running.case() == full
    assert list(running.case().clocks) == list(full.clocks)



def all_announced(running: Watching) -> bool:
    clocks = running.case().clocks.values() if running.has(TASK_1) else ()
    return bool(clocks) and all(c.breached for c in clocks if c.stopped_at is None)


def contact_stopped(running: Watching) -> bool:
    return running.case().clocks[CONTACT].stopped_at is not None


async def test_replicas_racing_to_announce_a_case_s_breaches_each_hold_what_the_store_holds(
    stores: ServiceStores, watching: Callable[..., Watching]
) -> None:
    await handled(stores, opened(), MONDAY)
    await handled(stores, routed(), MONDAY + timedelta(hours=1))
    await handled(stores, assigned_task(DUE), MONDAY + timedelta(hours=2))
    late = MONDAY + timedelta(days=60)  # every running clock is past its deadline
    replicas = [watching(late), watching(late)]
    for running in replicas:
        await until(partial(all_announced, running), "every breach announced")
    await handled(stores, CaseAccepted(case_id=CASE, unit_code="COMM-1"), late)  # while they hold it
    for running in replicas:
        await until(partial(contact_stopped, running), "the accepted case")

    full = await full_fold(stores)
    assert sorted(full.announced) == sorted(
        (c, AlertKind.BREACHED) for c in (CONTACT, clock_id_for(CASE, ClockKind.RESOLVE, 0), TASK_1)
    )
    for running in replicas:
        assert running.case() == full
