"""SLA watch benchmark: thousands of open clocks, the start-up rebuild, the timer heap and breach writes.

    .venv/bin/python bench/sla.py --cases 10000

Starts an embedded PostgreSQL in a temp dir, decides the clocks of N ordinary cases (opened and routed),
stores their events in the `sla` schema, then measures what the watch does: fold the whole store at start,
schedule every clock on the heap, and, with the clock moved past every deadline, write one SlaBreached per
clock (exactly-once streams, via the outbox) in the watch's own loop. Prints one line per figure.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from caseline.embedded import start_postgres
from deadlines.calendar import WorkingCalendar
from deadlines.policy import load_policies
from deadlines.timing import Timing
from district.registry import load_districts
from eventcore.consumer import ServiceStores
from eventcore.database import create_pool, migrate
from eventcore.store import PendingEvent, StreamAppend
from schemas.base import DomainEvent, EventMetadata
from schemas.cases import CaseOpened, CaseRouted
from schemas.reference import Category, Channel, Level, Urgency
from services.sla.adapters.clock_store import load_all
from services.sla.adapters.watch import Watch
from services.sla.app import attribution
from services.sla.domain.clocks import CaseClocks, case_stream
from services.sla.domain.reactions import Reactor


def opened_and_routed(
    case_id: str, district: str, street: str, compound: str, at: datetime
) -> list[DomainEvent]:
    return [
        CaseOpened(
            case_id=case_id,
            complaint_id=f"hotline:{case_id}",
            district=district,
            channel=Channel.HOTLINE,
            category=Category.SANITATION,
            urgency=Urgency.NORMAL,
            received_at=at,
            compound_code=compound,
            street_code=street,
            complainant_id="p-bench",
        ),
        CaseRouted(
            case_id=case_id,
            level=Level.STREET,
            unit_code=street,
            unit_name=street,
            rule_id="bench",
            rules_version="1",
            reason="bench",
        ),
    ]


def decide(cases: int, start: datetime) -> dict[str, list[DomainEvent]]:
    """Cases alternate between the districts, each judged by its own policy and directory."""
    districts = load_districts()
    policies = load_policies(districts.codes)
    timing = Timing(policies[districts.founding.code], WorkingCalendar(), policies)
    reactor = Reactor(timing, attribution(districts))
    served = [(d.code, d.directory.compounds) for d in districts]
    produced: dict[str, list[DomainEvent]] = {}
    for i in range(cases):
        case_id = f"BENCH-{i:06d}"
        district, compounds = served[i % len(served)]
        compound = compounds[i // len(served) % len(compounds)]
        case = CaseClocks(case_id)
        produced[case_id] = []
        for fact in opened_and_routed(case_id, district, compound.street_code, compound.code, start):
            reaction = reactor.react(case, fact, start)
            case = reaction.case
            produced[case_id].extend(reaction.events)
    return produced


async def run(cases: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="clsla-", dir="/tmp"))
    try:
        dsn = start_postgres(folder)
        pool = await create_pool(dsn, max_size=4)
        await migrate(pool, "sla")
        stores = ServiceStores(pool, "sla", source="/caseline/sla")
        start = datetime.now(UTC) - timedelta(days=30)
        began = time.perf_counter()
        produced = decide(cases, start)
        print(f"decide clocks: {cases} cases in {time.perf_counter() - began:.2f}s")

        began = time.perf_counter()
        metadata = EventMetadata(correlation_id="bench", actor="bench")
        items = list(produced.items())
        for offset in range(0, len(items), 1000):
            appends = [
                StreamAppend(case_stream(case_id), 0, [PendingEvent(e, metadata) for e in events])
                for case_id, events in items[offset : offset + 1000]
            ]
            async with pool.acquire() as conn:
                await stores.store.append_many(conn, appends)
        print(f"store clock events: {sum(map(len, produced.values()))} in {time.perf_counter() - began:.2f}s")

        began = time.perf_counter()
        async with pool.acquire() as conn:
            loaded = await load_all(conn, "sla")
        print(
            f"start-up rebuild (fold the whole store): {len(loaded)} cases in {time.perf_counter() - began:.2f}s"
        )

        shares = {
            code: policy.at_risk_share for code, policy in load_policies(load_districts().codes).items()
        }
        watch = Watch(shares, now=lambda: datetime.now(UTC) + timedelta(days=60))
        began = time.perf_counter()
        await watch.load(stores)  # folds again, then schedules
        open_clocks = sum(1 for c in watch.clocks() if c.next_alert() is not None)
        print(f"watch start (fold + heap): {open_clocks} open clocks in {time.perf_counter() - began:.2f}s")

        began = time.perf_counter()
        await watch.fire_due(stores)
        elapsed = time.perf_counter() - began
        print(
            f"breaches written (once per clock): {watch.alerts_written} in {elapsed:.2f}s "
            f"({watch.alerts_written / elapsed:.0f}/s)"
        )
        async with pool.acquire() as conn:
            stored = await conn.fetchval("SELECT count(*) FROM sla.events WHERE event_type = 'SlaBreached'")
        print(
            f"SlaBreached stored: {stored}; python {platform.python_version()}, cpus {__import__('os').cpu_count()}"
        )
        await pool.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10000)
    asyncio.run(run(parser.parse_args().cases))


if __name__ == "__main__":
    main()
