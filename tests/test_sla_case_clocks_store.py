"""A case's clocks as the SLA stores them: every stream about the case (case clocks, task clocks, alerts),
decided on within a batch without a flush, read back through the shared event mapper."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from uuid import uuid4

import pytest

from eventcore.cloudevents import CloudEvent
from eventcore.consumer import InboundMessage, ServiceStores
from eventcore.database import create_pool, migrate
from schemas.base import DomainEvent
from schemas.cases import CaseAccepted
from schemas.sla import ClockKind
from schemas.topics import CASES
from services.sla.adapters.clock_store import clocks_of, load_all, load_case
from services.sla.adapters.watch import Watch
from services.sla.domain.clocks import AlertKind, alert_stream, case_stream, clock_id_for
from services.sla.handlers import SlaContext, handle_case_fact
from tests.sla_support import opened_and_routed
from tests.test_sla_clocks import MONDAY, REACTOR

CONTEXT = SlaContext(REACTOR)


def message(fact: DomainEvent, at: datetime, offset: int) -> InboundMessage:
    cloudevent = CloudEvent(
        id=str(uuid4()),
        source="/caseline/routing",
        type=f"caseline.{fact.event_type}.v1",
        subject=fact.case_id,
        time=at.isoformat(),
        data=b"",
        extensions={"district": "luzhou", "correlationid": fact.case_id},
    )
    return InboundMessage(CASES, 0, offset, cloudevent, fact)


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[ServiceStores]:
    pool = await create_pool(database_url, max_size=3)
    await migrate(pool, "sla")
    yield ServiceStores(pool, "sla", source="/caseline/sla")
    await pool.close()


async def _batch(stores: ServiceStores, facts: list[tuple[DomainEvent, datetime]]) -> None:
    """As the consumer handles a batch: one transaction, one unit of work, one flush at the end."""
    async with stores.pool.acquire() as conn, conn.transaction():
        uow = stores.bind(conn)
        for offset, (fact, at) in enumerate(facts):
            await handle_case_fact(CONTEXT, uow, message(fact, at, offset))
        assert await conn.fetchval("SELECT count(*) FROM sla.events") == 0  # nothing written per fact
        await uow.flush()


async def test_a_batchs_facts_about_one_case_decide_on_each_others_clocks_before_anything_is_written(
    stores: ServiceStores,
) -> None:
    three_days_later = MONDAY + timedelta(days=3)  # the contact clock's working day is long gone
    facts: list[tuple[DomainEvent, datetime]] = [
        *((fact, MONDAY) for fact in opened_and_routed("C1", at=MONDAY)),
        (CaseAccepted(case_id="C1", unit_code="COMM-1"), three_days_later),
    ]
    await _batch(stores, facts)
    async with stores.pool.acquire() as conn:
        versions = await conn.fetch(
            "SELECT stream_id, array_agg(stream_version ORDER BY stream_version) AS v FROM sla.events "
            "GROUP BY stream_id ORDER BY stream_id"
        )
        loaded = await load_case(stores.bind(conn), "C1")
    contact = clock_id_for("C1", ClockKind.CONTACT)
    # opened starts dispatch; routed stops it and starts contact and resolve; accepted stops contact late
    assert {r["stream_id"]: list(r["v"]) for r in versions} == {
        alert_stream(contact, AlertKind.BREACHED): [1],
        case_stream("C1"): [1, 2, 3, 4, 5],
    }
    clocks = clocks_of(loaded)
    late = clocks.clocks[contact]
    assert late.on_time is False and late.stopped_at == three_days_later
    # its breach alert was stored before the clock's start (a unit of work writes new streams first),
    # yet the clock read back knows it was announced
    assert late.breached


async def test_every_case_is_read_back_the_same_whole_store_or_one_case(stores: ServiceStores) -> None:
    await _batch(
        stores, [(fact, MONDAY) for case in ("C1", "C2") for fact in opened_and_routed(case, at=MONDAY)]
    )
    async with stores.pool.acquire() as conn:
        everything = await load_all(conn, "sla")
        one_by_one = {case: clocks_of(await load_case(stores.bind(conn), case)) for case in ("C1", "C2")}
    assert everything == one_by_one
    watch = Watch(0.8, now=lambda: MONDAY)
    await watch.load(stores)
    assert watch.cases == one_by_one


async def test_a_stored_clock_fact_with_a_field_this_version_does_not_know_still_reads(
    stores: ServiceStores,
) -> None:
    await _batch(stores, [(fact, MONDAY) for fact in opened_and_routed("C1", at=MONDAY)])
    async with stores.pool.acquire() as conn:  # as a newer SLA would have written it
        await conn.execute("""UPDATE sla.events SET data = data || '{"added_later": 1}'::jsonb""")
        loaded = await load_case(stores.bind(conn), "C1")
        everything = await load_all(conn, "sla")
    assert clocks_of(loaded).clock(ClockKind.RESOLVE) is not None
    assert everything == {"C1": clocks_of(loaded)}
