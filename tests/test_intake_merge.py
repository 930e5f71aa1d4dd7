"""Many people reporting one problem: co-complainants join the first open case within the merge window."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

from district.registry import load_districts
from eventcore.consumer import ServiceStores, consume_batch
from eventcore.database import create_pool, migrate
from eventcore.outbox import OutboxMessage
from eventcore.store import PendingEvent
from schemas.base import DomainEvent, EventMetadata
from schemas.cases import CallbackOutcome, CaseClosed, CaseReopened, ReopenReason
from schemas.reference import Category
from schemas.topics import CASES
from services.intake.adapters.hotline_file import FileRecord
from services.intake.adapters.intake_store import IntakeStore
from services.intake.app import EXTRA_DDL, SCHEMA
from services.intake.domain.merge import RULE_SAME_COMPOUND_CATEGORY, MergePolicy, OpenCase
from services.intake.handlers import (
    IntakeContext,
    Outcome,
    Status,
    handle_case_status_changed,
    receive_hotline_records,
)
from tests.factories import Record

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
CTX = IntakeContext(load_districts(), "secret", merge=MergePolicy(timedelta(hours=48)))


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[ServiceStores]:
    pool = await create_pool(database_url, max_size=6)
    await migrate(pool, SCHEMA, EXTRA_DDL)
    yield ServiceStores(pool, SCHEMA, "/caseline/intake")
    await pool.close()


def order(n: int, hours: float = 0, **changes: Any) -> FileRecord:
    data = {
        "order_no": f"M-{n}",
        "received_at": (T0 + timedelta(hours=hours)).isoformat(),
        "caller_phone": f"1390000{n:04d}",
        "kind": "complaint",
        "category": "elevator_equipment",
        "description": "电梯又坏了",
        "address": "",
        "compound": "丰河华庭",
        **changes,
    }
    return FileRecord("test", n, json.dumps(data, ensure_ascii=False).encode())


async def receive(stores: ServiceStores, *records: FileRecord, ctx: IntakeContext = CTX) -> list[Outcome]:
    _, outcomes = await receive_hotline_records(stores, ctx, records, actor="test")
    return outcomes


async def test_neighbours_reporting_the_same_lift_join_the_first_case_and_it_counts_them(
    stores: ServiceStores,
) -> None:
    first, second, third = await receive(stores, order(1), order(2, hours=5), order(3, hours=30))
    assert first.status is Status.ACCEPTED
    assert [second.status, third.status] == [Status.MERGED, Status.MERGED]
    assert second.case_id == third.case_id == first.case_id
    assert second.merge_rule == RULE_SAME_COMPOUND_CATEGORY and "CP0001" in (second.reason or "")
    async with stores.pool.acquire() as conn:
        merged = await conn.fetch(
            f"SELECT data FROM {SCHEMA}.events WHERE event_type = 'ComplaintMerged' ORDER BY global_position"
        )
        published = await conn.fetchval(
            f"SELECT count(*) FROM {SCHEMA}.outbox WHERE message_key = $1", first.case_id
        )
    assert [row["data"]["complainant_count"] for row in merged] == [2, 3]
    assert merged[0]["data"]["merge_reason"].startswith("compound CP0001 and category elevator_equipment")
    assert published == 3  # all three travel on the case's key, so routing sees them in order


async def test_a_merge_points_the_complaint_at_its_case_and_recounts_the_case_in_one_statement(
    stores: ServiceStores, statements: list[str]
) -> None:
    (first,) = await receive(stores, order(1))
    statements.clear()
    (second,) = await receive(stores, order(2, hours=1))
    assert second.status is Status.MERGED and second.case_id == first.case_id
    updates = [sql for sql in statements if "UPDATE intake.complaints" in sql or "UPDATE intake.cases" in sql]
    assert len(updates) == 1 and "UPDATE intake.cases" in updates[0]
    async with stores.pool.acquire() as conn:
        pointed = await conn.fetchrow(
            f"SELECT case_id, merged FROM {SCHEMA}.complaints WHERE complaint_id = $1", second.complaint_id
        )
        count = await conn.fetchval(
            f"SELECT complainant_count FROM {SCHEMA}.cases WHERE case_id = $1", first.case_id
        )
    assert pointed is not None and tuple(pointed) == (first.case_id, True) and count == 2


async def test_another_category_another_compound_or_a_later_report_opens_its_own_case(
    stores: ServiceStores,
) -> None:
    outcomes = await receive(
        stores,
        order(1),
        order(2, category="sanitation"),
        order(3, compound="金峰公寓"),
        order(4, hours=49),
        order(5, compound="", address="丰河5号楼"),  # an abbreviation is too weak a match to merge on
    )
    assert [o.status for o in outcomes] == [Status.ACCEPTED] * 5
    assert len({o.case_id for o in outcomes}) == 5


async def test_merging_is_off_unless_a_window_is_configured(stores: ServiceStores) -> None:
    off = IntakeContext(load_districts(), "secret")
    outcomes = await receive(stores, order(1), order(2), ctx=off)
    assert [o.status for o in outcomes] == [Status.ACCEPTED, Status.ACCEPTED]


async def test_a_closed_case_takes_no_more_co_complainants_and_a_reopened_one_does_again(
    stores: ServiceStores,
) -> None:
    [first] = await receive(stores, order(1))
    assert first.case_id is not None
    await _case_event(
        stores, CaseClosed(case_id=first.case_id, outcome=CallbackOutcome.SATISFIED, reopen_count=0), 1
    )
    [after_close] = await receive(stores, order(2, hours=1))
    assert after_close.status is Status.ACCEPTED and after_close.case_id != first.case_id
    await _case_event(
        stores,
        CaseReopened(case_id=first.case_id, reason=ReopenReason.DISSATISFIED, reopen_count=1, unit_code=None),
        2,
    )
    [after_reopen] = await receive(stores, order(3, hours=2))
    assert after_reopen.status is Status.MERGED and after_reopen.case_id == first.case_id


async def test_two_receivers_racing_on_one_problem_open_one_case_and_merge_the_other(
    stores: ServiceStores,
) -> None:
    for round_ in range(5):
        a, b = await asyncio.gather(
            receive(stores, order(10 * round_ + 1, hours=100 * round_)),
            receive(stores, order(10 * round_ + 2, hours=100 * round_ + 1)),
        )
        assert sorted([a[0].status, b[0].status]) == [Status.ACCEPTED, Status.MERGED]
        assert a[0].case_id == b[0].case_id


async def _case_event(stores: ServiceStores, event: DomainEvent, offset: int) -> None:
    message = OutboxMessage.for_event(
        PendingEvent(event, EventMetadata(correlation_id=event.case_id, actor="routing")),
        topic=CASES,
        source="/caseline/routing",
    )
    headers = [(k, v.encode()) for k, v in message.headers.items()]
    record = Record(CASES, 0, offset, headers, message.payload.encode())
    wanted = {CaseClosed.cloudevent_type(), CaseReopened.cloudevent_type()}
    await consume_batch(stores, [record], handle_case_status_changed, wanted)


async def test_status_changes_for_cases_intake_does_not_know_are_ignored_with_a_warning(
    stores: ServiceStores,
) -> None:
    with capture_logs() as logs:
        closed = CaseClosed(case_id="case-unknown", outcome=CallbackOutcome.SATISFIED, reopen_count=0)
        await _case_event(stores, closed, 9)
    async with stores.pool.acquire() as conn:
        assert await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.cases") == 0
        assert await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.inbox") == 1
    assert [entry["event"] for entry in logs] == ["case_status_for_unknown_case"]


async def test_a_batch_reads_only_the_open_cases_its_own_complaints_could_join(
    stores: ServiceStores, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each key's cases within the window of that key's complaints: not those of the whole batch's span
    (every open case of weeks, read again by each batch of a long feed)."""
    rubbish_piles_up = {"category": "sanitation", "description": "楼下垃圾堆了好几天没人清运，臭气熏天"}
    [lift, rubbish] = await receive(stores, order(1), order(2, hours=60, **rubbish_piles_up))
    read: list[str] = []
    open_cases = IntakeStore.open_cases

    async def reading(self: IntakeStore, *args: Any) -> list[OpenCase]:
        found = await open_cases(self, *args)
        read.extend(case.case_id for case in found)
        return found

    monkeypatch.setattr(IntakeStore, "open_cases", reading)
    later_lift, early_rubbish = await receive(
        stores, order(3, hours=100), order(4, hours=40, **rubbish_piles_up)
    )

    assert read == [rubbish.case_id]
    assert lift.status is later_lift.status is Status.ACCEPTED
    assert early_rubbish.status is Status.MERGED and early_rubbish.case_id == rubbish.case_id


async def test_a_merge_look_up_reads_only_its_keys_cases_while_thousands_are_open_and_unanalysed(
    stores: ServiceStores,
) -> None:
    """A new installation or a day's burst: thousands of open cases the planner has no statistics for. The
    look-up still probes the index per key instead of reading every open case (the generic plan, as the
    statement cache runs it after its fifth use)."""
    async with stores.pool.acquire() as conn:
        await conn.execute(
            f"INSERT INTO {SCHEMA}.cases (case_id, district, compound_code, category, first_received_at) "
            "SELECT 'case-' || n, 'luzhou', 'CP' || (n % 400), 'sanitation', "
            "$1::timestamptz + n * interval '1 s' "
            "FROM generate_series(1, 5000) AS n",
            T0,
        )
        at = [T0 + timedelta(seconds=n) for n in (7, 1234, 4321)]
        windows = {
            ("luzhou", f"CP{n % 400}", Category.SANITATION): (t - timedelta(seconds=1), t + timedelta(seconds=1))
            for n, t in zip((7, 1234, 4321), at, strict=True)
        }
        async with conn.transaction():
            await conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            blocks_read = f"SELECT pg_stat_get_xact_blocks_fetched('{SCHEMA}.cases'::regclass)"
            before = await conn.fetchval(blocks_read)
            found = await IntakeStore(SCHEMA).open_cases(conn, windows)
            heap_blocks = await conn.fetchval(blocks_read) - before
            table_blocks = await conn.fetchval(f"SELECT pg_relation_size('{SCHEMA}.cases') / 8192")

    assert sorted(case.case_id for case in found) == ["case-1234", "case-4321", "case-7"]
    assert table_blocks > 40
    assert heap_blocks <= 6



async def test_merging_into_a_case_reads_only_its_rows_after_the_tables_grew_under_a_cached_plan(
    stores: ServiceStores,
) -> None:
    """A connection caches a statement's plan when the tables are new and small (its sixth use; forced here),
    and PostgreSQL keeps that plan until it analyses the tables. A merge made later, with thousands of
    complaints and cases in them, still updates its rows through their keys instead of reading both tables."""
    intake = IntakeStore(SCHEMA)
    async with stores.pool.acquire() as conn:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        await _complaints_with_their_cases(conn, 1, 1)
        await intake.merge(conn, {"complaint-1": "case-1"}, {"case-1": 1})
        await _complaints_with_their_cases(conn, 2, 5000)
        async with conn.transaction():
            before = {table: await _blocks_fetched(conn, table) for table in ("complaints", "cases")}
            await intake.merge(conn, {"complaint-4321": "case-7"}, {"case-7": 2})
            read = {table: await _blocks_fetched(conn, table) - before[table] for table in before}
        merged = await conn.fetchrow(
            f"SELECT c.case_id, c.merged, k.complainant_count FROM {SCHEMA}.complaints c "
            f"JOIN {SCHEMA}.cases k USING (case_id) WHERE c.complaint_id = 'complaint-4321'"
        )
        sizes = [await conn.fetchval(f"SELECT pg_relation_size('{SCHEMA}.{t}') / 8192") for t in read]
        await conn.execute("RESET plan_cache_mode")

    assert merged is not None and tuple(merged) == ("case-7", True, 2)
    assert min(sizes) > 40
    assert read["complaints"] <= 6 and read["cases"] <= 6, read


async def _complaints_with_their_cases(conn: Any, first: int, last: int) -> None:
    numbers = "FROM generate_series($2::int, $3::int) AS n"
    await conn.execute(
        f"INSERT INTO {SCHEMA}.cases (case_id, compound_code, category, first_received_at) "
        f"SELECT 'case-' || n, 'CP' || (n % 400), 'sanitation', $1::timestamptz + n * interval '1 s' {numbers}",
        T0, first, last,
    )
    await conn.execute(
        f"INSERT INTO {SCHEMA}.complaints (complaint_id, case_id, channel, source_ref, category, received_at, "
        "raw) SELECT 'complaint-' || n, 'case-' || n, 'hotline', 'M-' || n, 'sanitation', "
        f"$1::timestamptz + n * interval '1 s', '\\x00' {numbers}",
        T0, first, last,
    )


async def _blocks_fetched(conn: Any, table: str) -> int:
    return int(await conn.fetchval(f"SELECT pg_stat_get_xact_blocks_fetched('{SCHEMA}.{table}'::regclass)"))
