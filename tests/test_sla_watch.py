"""The SLA watch as a real process: breaches announced exactly once, across a kill -9 and a restart."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from caseline.embedded import EmbeddedBroker
from deadlines.calendar import WorkingCalendar
from deadlines.policy import load_policy
from deadlines.timing import Timing
from district.sample_hotline import write_synthetic_orders
from eventcore.consumer import ServiceStores
from eventcore.database import create_pool, migrate
from eventcore.store import PendingEvent
from schemas.base import DomainEvent, EventMetadata
from services.sla.adapters.watch import Watch
from services.sla.domain.clocks import CaseClocks, case_stream
from services.sla.domain.reactions import Reactor
from tests.kafka_reading import read_topic
from tests.sla_support import opened_and_routed, publish, write_tiny_policy
from tests.system import RunningSystem


@pytest.fixture
def system(database_url: str, broker: EmbeddedBroker, tmp_path: Path) -> Iterator[RunningSystem]:
    running = RunningSystem(database_url, broker, tmp_path / "logs")
    yield running
    running.stop()


def breaches(system: RunningSystem) -> object:
    async def count() -> int:
        return await system.scalar("SELECT count(*) FROM sla.events WHERE event_type = 'SlaBreached'")

    return count


@pytest.mark.e2e
async def test_breach_is_announced_once_per_clock_across_a_kill_and_restart_of_the_watch(
    system: RunningSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASELINE_SLA_POLICY_FILE", str(write_tiny_policy(tmp_path, resolve_seconds=4)))
    system.start("sla")
    bootstrap = system.broker.bootstrap_servers
    first = [f"SLA-A{i:02d}" for i in range(10)]
    await publish(bootstrap, [e for case in first for e in opened_and_routed(case)])
    count = breaches(system)
    await system.wait_until(count, 10, timeout=60)  # type: ignore[arg-type]

    # Ten more cases whose clocks the watch stores, then a crash before their deadlines.
    second = [f"SLA-B{i:02d}" for i in range(10)]
    await publish(bootstrap, [e for case in second for e in opened_and_routed(case)])
    await system.wait_until(
        lambda: system.scalar(
            "SELECT count(*) FROM sla.events WHERE event_type = 'SlaClockStarted' AND data->>'kind' = 'resolve'"
        ),
        20,
        timeout=60,
    )
    system.kill("sla")
    system.start("sla")  # rebuilds its timers from its own store; the consumer may replay a batch

    await system.wait_until(count, 20, timeout=60)  # type: ignore[arg-type]
    assert await system.settle(count, quiet=6.0) == 20  # type: ignore[arg-type]
    per_clock = await system.scalar(
        "SELECT count(DISTINCT data->>'clock_id') FROM sla.events WHERE event_type = 'SlaBreached'"
    )
    assert per_clock == 20
    at_risk = await system.scalar("SELECT count(*) FROM sla.events WHERE event_type = 'SlaAtRisk'")
    assert at_risk <= 20

    published = await read_topic(bootstrap, "caseline.sla.v1", expect=100, timeout=20)
    breached = [d for d in published if d.headers["ce_type"] == "caseline.SlaBreached.v1"]
    assert len(breached) == 20
    assert Counter(d.data["clock_id"] for d in breached).most_common(1)[0][1] == 1
    assert all(d.data["escalation_requested"] and d.data["kind"] == "resolve" for d in breached)
    assert {d.key for d in breached} == set(first + second)


async def test_two_watches_racing_over_the_same_overdue_clocks_announce_each_breach_once(
    database_url: str,
) -> None:
    pool = await create_pool(database_url, max_size=6)
    try:
        await migrate(pool, "sla")
        stores = ServiceStores(pool, "sla", source="/caseline/sla")
        reactor = Reactor(Timing(load_policy(), WorkingCalendar()), lambda _district, _compound: (None, None))
        long_ago = datetime.now(UTC) - timedelta(days=60)
        metadata = EventMetadata(correlation_id="t", actor="test")
        async with pool.acquire() as conn:
            for i in range(40):
                case = CaseClocks(f"RACE-{i}")
                events: list[DomainEvent] = []
                for fact in opened_and_routed(case.case_id, at=long_ago):
                    reaction = reactor.react(case, fact, long_ago)
                    case = reaction.case
                    events.extend(reaction.events)
                await stores.store.append(
                    conn, case_stream(case.case_id), 0, [PendingEvent(e, metadata) for e in events]
                )
        replicas = [Watch(0.8), Watch(0.8)]
        for watch in replicas:
            await watch.load(stores)
        await asyncio.gather(*(watch.fire_due(stores) for watch in replicas))
        await replicas[0].fire_due(stores)  # and once more, as after a restart
        async with pool.acquire() as conn:
            stored = await conn.fetchval("SELECT count(*) FROM sla.events WHERE event_type = 'SlaBreached'")
            queued = await conn.fetchval(
                "SELECT count(*) FROM sla.outbox WHERE headers->>'ce_type' = 'caseline.SlaBreached.v1'"
            )
        assert stored == queued == 80  # the contact and resolve clocks of 40 cases
        at_risk = await _count(pool, "SELECT count(*) FROM sla.events WHERE event_type = 'SlaAtRisk'")
        assert at_risk == 0  # found past the deadline: "at risk" after the fact would be noise
        assert sum(w.alerts_written for w in replicas) == 80
    finally:
        await pool.close()


async def _count(pool: asyncpg.Pool, sql: str) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval(sql))


@pytest.mark.e2e
async def test_the_watch_keeps_a_clock_for_every_case_routing_opens_and_every_task_the_joint_meeting_assigns(
    system: RunningSystem, tmp_path: Path
) -> None:
    orders = tmp_path / "orders.jsonl"
    write_synthetic_orders(orders, 30, prefix="SLAE2E")
    system.start("intake", "routing", "jointmeeting", "sla")
    fed = await system.feed(orders)
    handled = await system.wait_until(system.handled_cases, fed.accepted, timeout=120)
    started = "SELECT count(*) FROM sla.events WHERE event_type = 'SlaClockStarted' AND data->>'kind' = "
    # a case in the centre's triage queue is not dispatched yet: it has a dispatch clock only
    dispatched = await system.scalar(
        "SELECT count(DISTINCT data->>'case_id') FROM routing.events WHERE event_type = 'CaseEscalated' "
        "OR (event_type = 'CaseRouted' AND data->>'unit_code' <> 'centre-triage')"
    )
    assert 0 < dispatched <= handled
    await system.wait_until(lambda: system.scalar(started + "'resolve'"), dispatched, timeout=120)
    tasks = await system.settle(
        lambda: system.scalar(
            "SELECT count(*) FROM jointmeeting.events WHERE event_type = 'EnforcementTaskAssigned'"
        )
    )
    assert tasks > 0  # the synthetic feed covers the cross-department categories
    await system.wait_until(lambda: system.scalar(started + "'task'"), tasks, timeout=60)
    assert await system.settle(lambda: system.scalar(started + "'resolve'")) == dispatched
    assert await system.scalar(started + "'dispatch'") == handled
    assert await system.scalar("SELECT count(*) FROM sla.dead_letters") == 0
