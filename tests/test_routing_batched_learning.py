"""Routing learns a consumer batch's SLA clocks and joint-meeting decisions in a few statements, however many
cases the batch touches, learns exactly what it learns one message at a time, and what one message of a
batch learnt the next one in it knows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial
from typing import Any

import asyncpg
import pytest

from eventcore.consumer import InboundMessage, ServiceStores, consume_batch
from eventcore.database import create_pool, migrate
from eventcore.settings import Settings
from eventcore.unit_of_work import UnitOfWork
from schemas.base import DomainEvent
from schemas.jointmeeting import JointMeetingFileOpened
from schemas.reference import Bureau, Category
from schemas.sla import ClockKind, ClockMeasure, ClockScope, SlaAtRisk, SlaBreached, SlaClockPaused
from schemas.topics import COMPLAINTS, JOINT_MEETING, SLA
from services.routing.adapters.case_view import CaseView
from services.routing.adapters.learnt_store import learnt_clock, learnt_clocks
from services.routing.app import EXTRA_DDL, SCHEMA, spec
from services.routing.handlers import (
    handle_complaints_topic,
    handle_joint_meeting_topic,
    handle_sla_topic,
    preload_batch,
)
from tests.factories import Record
from tests.test_case_lifecycle import NOW, complaint, compound, merged
from tests.test_routing_service import CTX, record, resolve_clock_started

ONE_BY_ONE = "routing_one_by_one"


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=4)
    for schema in (SCHEMA, ONE_BY_ONE):
        await migrate(pool, schema, EXTRA_DDL)
    yield pool
    await pool.close()


@pytest.fixture
def stores(pool: asyncpg.Pool) -> ServiceStores:
    return ServiceStores(pool, SCHEMA, "/caseline/routing", projector=CaseView(SCHEMA).project)


async def on_topics(uow: UnitOfWork, message: InboundMessage) -> None:
    """Routing's handlers as its subscriptions call them, for a test batch that mixes topics."""
    handler = {
        COMPLAINTS: handle_complaints_topic,
        JOINT_MEETING: handle_joint_meeting_topic,
        SLA: handle_sla_topic,
    }[message.topic]
    await handler(CTX, uow, message)


def clock_facts(case_id: str) -> list[DomainEvent]:
    """A case's resolve clock started and paused, its contact clock started and at risk."""
    resolve = resolve_clock_started(case_id, NOW + timedelta(days=5))
    contact = resolve.model_copy(
        update={"clock_id": f"{case_id}/contact", "kind": ClockKind.CONTACT, "measure": ClockMeasure.WALL}
    )
    paused = SlaClockPaused(
        case_id=case_id,
        clock_id=resolve.clock_id,
        paused_at=NOW,
        consumed_seconds=3600,
        reason="waiting for the complainant",
    )
    at_risk = SlaAtRisk(
        case_id=case_id,
        clock_id=contact.clock_id,
        kind=ClockKind.CONTACT,
        deadline=contact.deadline,
        share_used=0.8,
        scope=contact.scope,
    )
    return [resolve, contact, paused, at_risk]


def sla_records(cases: int) -> list[Record]:
    facts = [fact for n in range(cases) for fact in clock_facts(f"case-{n}")]
    return [record(fact, SLA, offset) for offset, fact in enumerate(facts)]


async def clock_rows(pool: asyncpg.Pool, schema: str) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(f"SELECT * FROM {schema}.case_clock ORDER BY case_id, clock_id")
    return [dict(row) for row in rows]


async def test_a_batch_of_clock_facts_costs_as_many_statements_for_forty_cases_as_for_two(
    pool: asyncpg.Pool, stores: ServiceStores, statements: list[str]
) -> None:
    handler = partial(handle_sla_topic, CTX)
    await consume_batch(stores, sla_records(2), handler, preload=preload_batch)
    for_two = len(statements)
    statements.clear()
    forty = sla_records(40)[8:]  # the first two cases' facts were handled already: duplicates
    await consume_batch(stores, forty, handler, preload=preload_batch)
    assert len(statements) <= for_two
    touching_clocks = [s for s in statements if "case_clock" in s]
    assert len(touching_clocks) == 2  # one read of the batch's clocks, one write of what it learnt
    assert len(await clock_rows(pool, SCHEMA)) == 80


async def test_a_batch_learns_the_same_clocks_as_its_messages_one_at_a_time(pool: asyncpg.Pool) -> None:
    handler = partial(handle_sla_topic, CTX)
    records = sla_records(12)
    batched = ServiceStores(pool, SCHEMA, "/caseline/routing")
    await consume_batch(batched, records, handler, preload=preload_batch)
    one_by_one = ServiceStores(pool, ONE_BY_ONE, "/caseline/routing")
    for each in records:
        await consume_batch(one_by_one, [each], handler)
    learnt = await clock_rows(pool, SCHEMA)
    assert learnt == await clock_rows(pool, ONE_BY_ONE)
    paused = next(row for row in learnt if row["clock_id"] == "case-3/resolve/0")
    at_risk = next(row for row in learnt if row["clock_id"] == "case-3/contact")
    assert (paused["status"], paused["deadline"], paused["consumed_seconds"]) == ("paused", None, 3600)
    assert (at_risk["status"], at_risk["at_risk_alerted"]) == ("running", True)


async def test_complaints_and_the_co_complainants_merged_into_them_cost_the_same_statements_for_twenty_cases_as_for_two(
    pool: asyncpg.Pool, stores: ServiceStores, statements: list[str]
) -> None:
    def batch(cases: range) -> list[Record]:
        events: list[DomainEvent] = [complaint(where=compound(), case_id=f"case-m{n}") for n in cases]
        events += [merged(2, f"case-m{n}") for n in cases]
        return [record(event, COMPLAINTS, offset) for offset, event in enumerate(events)]

    handler = partial(handle_complaints_topic, CTX)
    await consume_batch(stores, batch(range(2)), handler, preload=preload_batch)
    for_two = len(statements)
    statements.clear()
    await consume_batch(stores, batch(range(2, 22)), handler, preload=preload_batch)
    assert len(statements) == for_two
    async with pool.acquire() as conn:
        counts = await conn.fetch(f"SELECT complainant_count FROM {SCHEMA}.case_view")
    assert [row["complainant_count"] for row in counts] == [2] * 22


async def test_a_decision_learnt_in_a_batch_is_known_to_the_breach_escalating_the_case_later_in_it(
    pool: asyncpg.Pool, stores: ServiceStores
) -> None:
    await consume_batch(stores, [record(complaint(where=compound(), case_id="case-d"), COMPLAINTS, 0)], on_topics)
    decided = JointMeetingFileOpened(
        case_id="case-d",
        file_id="jm-7",
        category=Category.SANITATION,
        compound_code=None,
        street_code=None,
        lead_bureau=Bureau.CITY_APPEARANCE,
        member_bureaus=[Bureau.CITY_APPEARANCE, Bureau.STREET_OFFICE],
    )
    breach = SlaBreached(
        case_id="case-d",
        clock_id="case-d/resolve/0",
        kind=ClockKind.RESOLVE,
        deadline=NOW,
        scope=ClockScope(level="community"),
        policy_rule="normal-resolve",
        escalation_requested=True,
    )
    batch = [record(decided, JOINT_MEETING, 0), record(breach, SLA, 0)]
    await consume_batch(stores, batch, on_topics, preload=preload_batch)
    async with pool.acquire() as conn:
        escalated = await conn.fetch(f"SELECT data FROM {SCHEMA}.events WHERE event_type = 'CaseEscalated'")
        kept = await conn.fetchval(f"SELECT lead_bureau FROM {SCHEMA}.case_joint_decision WHERE case_id = 'case-d'")
    [escalation] = [row["data"] for row in escalated]
    assert (escalation["rule_id"], escalation["lead_bureau"]) == ("joint-meeting-decision/jm-7", "city_appearance")
    assert kept == "city_appearance"


def test_every_routing_subscription_preloads_its_batch() -> None:
    assert [s.preload for s in spec(Settings()).subscriptions] == [preload_batch] * 3


async def test_a_clock_fact_reads_only_its_own_learnt_clock_after_the_clocks_grew_under_a_cached_plan(
    database_url: str,
) -> None:
    """The consumer's connection caches the clock read's plan while routing has learnt a single case's clocks
    (its sixth use; forced here), and PostgreSQL keeps it until it analyses the table. With thousands of
    clocks learnt since, the next fact's preload still reads only the rows of the clocks it names."""
    pool = await create_pool(database_url, max_size=1)  # one connection: the one whose plans are cached
    await migrate(pool, SCHEMA, EXTRA_DDL)
    stores = ServiceStores(pool, SCHEMA, "/caseline/routing", projector=CaseView(SCHEMA).project)
    try:
        async with pool.acquire() as conn:
            await conn.execute("SET plan_cache_mode = force_generic_plan")
        await consume_batch(stores, sla_records(1), on_topics)
        async with pool.acquire() as conn:
            await conn.execute(
                f"INSERT INTO {SCHEMA}.case_clock SELECT 'case-' || n, 'case-' || n || '/resolve', 'resolve', 1, "
                "'working', 'running', NULL, NULL, 86400, 0, 'rule', NULL, false, false "
                "FROM generate_series(1000, 6000) AS n"
            )
            table_blocks = await conn.fetchval(f"SELECT pg_relation_size('{SCHEMA}.case_clock') / 8192")
        async with stores.unit_of_work() as uow:
            fetched = f"SELECT pg_stat_get_xact_blocks_fetched('{SCHEMA}.case_clock'::regclass)"
            before = await uow.conn.fetchval(fetched)
            await learnt_clocks(uow, [("case-4321", "case-4321/resolve"), ("case-0", "case-0/contact")])
            read = await uow.conn.fetchval(fetched) - before
            found = await learnt_clock(uow, "case-4321", "case-4321/resolve")
        async with pool.acquire() as conn:
            await conn.execute("RESET plan_cache_mode")
    finally:
        await pool.close()

    assert found is not None and found.status == "running"
    assert table_blocks > 40
    assert read <= 6
