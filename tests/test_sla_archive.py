"""Long runs: the SLA watch holds open cases, not every case ever; what closed ones count for stays counted."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg

from eventcore.consumer import ServiceStores
from eventcore.database import migrate
from eventcore.store import EventStore, PendingEvent
from schemas.base import EventMetadata
from schemas.cases import CaseReopened, ReopenReason
from services.sla.adapters.clock_store import clocks_of, load_case, notify_changed
from services.sla.adapters.metrics import BrokerFigures
from services.sla.adapters.watch import Watch
from services.sla.domain.rates import Dimension, rates
from tests.sla_support import scrape_sla
from tests.test_sla_rates import MON, NOVEMBER, NOW, REACTOR, sla_events

KEEP_ALL = timedelta(days=3650)
METADATA = EventMetadata(correlation_id="c", actor="sla")


async def _stores(pool: asyncpg.Pool) -> ServiceStores:
    await migrate(pool, "sla")
    stores = ServiceStores(pool, "sla", "/caseline/sla")
    async with pool.acquire() as conn:
        for case_id, events in sla_events().items():
            for event in events:  # each in its own stream, as the watch writes them
                await EventStore("sla").append(
                    conn, f"sla-test/{case_id}/{id(event)}", 0, [PendingEvent(event, METADATA)]
                )
    return stores


def _figures(watch: Watch) -> tuple[str, list[tuple[str, str, int, int, int]]]:
    histograms = "\n".join(
        line for line in scrape_sla(watch, BrokerFigures()).splitlines() if "time_to" in line
    )
    rows = []
    for dimension in Dimension:
        computed = rates(list(watch.cases.values()), NOVEMBER, NOW, [dimension])
        for row in watch.archive.with_rates(computed, NOVEMBER, dimension, None):
            rows.append(
                (dimension.value, row.unit_code, row.tally.cases, row.tally.resolved, row.tally.satisfied)
            )
    return histograms, sorted(rows)


async def test_cases_called_back_and_left_alone_leave_memory_and_still_count_in_rates_and_histograms(
    pool: asyncpg.Pool,
) -> None:
    stores = await _stores(pool)
    keeping, archiving = (
        Watch(0.8, now=lambda: NOW, archive_after=KEEP_ALL),
        Watch(0.8, now=lambda: NOW, archive_after=timedelta(0)),
    )
    await keeping.load(stores)
    await archiving.load(stores)
    assert sorted(keeping.cases) == ["C1", "C2", "C3", "C4", "C5"]
    assert sorted(archiving.cases) == ["C3", "C4", "C5"]  # C1 and C2 were called back and closed
    assert archiving.archive.cases == 2
    assert _figures(archiving) == _figures(keeping)


async def test_a_case_reopened_after_it_left_memory_comes_back_and_counts_once(
    pool: asyncpg.Pool, database_url: str
) -> None:
    stores = await _stores(pool)
    watch = Watch(0.8, now=lambda: NOW, archive_after=timedelta(0))
    stop = asyncio.Event()
    running = asyncio.create_task(watch.run(stores, database_url, stop))
    try:
        while "C1" in watch.cases or not watch.cases:
            await asyncio.sleep(0.05)
        async with pool.acquire() as conn:  # the complainant complains again: routing reopens C1
            case = clocks_of(await load_case(stores.bind(conn), "C1"))
            reopened = CaseReopened(
                case_id="C1", reason=ReopenReason.DISSATISFIED, reopen_count=1, unit_code="ST01-CM01"
            )
            events = REACTOR.react(case, reopened, MON + timedelta(days=3)).events
            await EventStore("sla").append(
                conn, "sla-test/C1/reopened", 0, [PendingEvent(e, METADATA) for e in events]
            )
            uow = stores.bind(conn)
            notify_changed(uow, ["C1"])
            await uow.flush()
        while "C1" not in watch.cases:
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await running
    fresh = Watch(0.8, now=lambda: NOW, archive_after=KEEP_ALL)
    await fresh.load(stores)
    assert watch.archive.cases == 1  # C2 only
    assert _figures(watch) == _figures(fresh)  # C1's first clocks are not counted twice
