"""The event store: optimistic concurrency by constraint, per-stream and global order."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from eventcore.database import DbConnection, create_pool, migrate
from eventcore.store import ConcurrencyError, DuplicateEventError, EventStore, StreamAppend
from tests.factories import case_opened

STORE = EventStore("svc")


async def test_concurrent_appends_to_one_stream_one_wins_and_one_gets_a_concurrency_error(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as first, pool.acquire() as second:
        first_tx = first.transaction()
        await first_tx.start()
        await STORE.append(first, "case-a", 0, [case_opened("a")])
        # The second writer is not refused by a read: it blocks on the unique index until the first commits.
        second_append = asyncio.create_task(_append_in_transaction(second, "case-a", 0))
        await asyncio.sleep(0.2)
        assert not second_append.done(), "the second append must wait for the first transaction"
        await first_tx.commit()
        with pytest.raises(ConcurrencyError) as raised:
            await second_append
    assert raised.value.stream_id == "case-a"
    assert "case-a" in str(raised.value)
    async with pool.acquire() as conn:
        assert len(await STORE.read_stream(conn, "case-a")) == 1


async def _append_in_transaction(conn: DbConnection, stream_id: str, expected: int) -> int:
    async with conn.transaction():
        return await STORE.append(conn, stream_id, expected, [case_opened(stream_id)])


async def test_many_racing_writers_produce_exactly_one_event_per_version(pool: asyncpg.Pool) -> None:
    async def writer() -> bool:
        async with pool.acquire() as conn:
            try:
                await _append_in_transaction(conn, "case-race", 0)
                return True
            except ConcurrencyError:
                return False

    outcomes = await asyncio.gather(*(writer() for _ in range(6)))
    assert outcomes.count(True) == 1
    assert outcomes.count(False) == 5


async def test_an_append_inside_a_transaction_is_one_statement_and_a_conflict_still_undoes_the_whole_transaction(
    pool: asyncpg.Pool, statements: list[str]
) -> None:
    """No savepoint around the insert (two more round trips per batch): nobody recovers inside the
    transaction, every caller rolls back whole and retries."""
    async with pool.acquire() as conn:
        await STORE.append(conn, "case-t", 0, [case_opened("t")])
        statements.clear()
        with pytest.raises(ConcurrencyError):
            async with conn.transaction():
                await STORE.append(conn, "case-u", 0, [case_opened("u")])
                await STORE.append(conn, "case-t", 0, [case_opened("t")])
        assert [s for s in statements if "SAVEPOINT" in s.upper()] == []
        assert sum("INSERT INTO svc.events" in s for s in statements) == 2
        assert await STORE.read_stream(conn, "case-u") == []


async def test_stale_expected_version_is_refused(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await STORE.append(conn, "case-s", 0, [case_opened("s"), case_opened("s")])
        with pytest.raises(ConcurrencyError):
            await STORE.append(conn, "case-s", 1, [case_opened("s")])
        assert await STORE.append(conn, "case-s", 2, [case_opened("s")]) == 3


async def test_stream_reads_back_in_version_order_with_type_schema_version_and_metadata(
    pool: asyncpg.Pool,
) -> None:
    events = [case_opened("r"), case_opened("r")]
    async with pool.acquire() as conn:
        await STORE.append(conn, "case-r", 0, events)
        recorded = await STORE.read_stream(conn, "case-r")
    assert [e.stream_version for e in recorded] == [1, 2]
    assert [e.event_id for e in recorded] == [p.event_id for p in events]
    assert recorded[0].event_type == "CaseOpened" and recorded[0].schema_version == 1
    assert recorded[0].data["case_id"] == "r"
    assert recorded[0].metadata == {
        "correlation_id": "r",
        "causation_id": None,
        "actor": "test",
        "channel": None,
        "district": "luzhou",
    }
    assert recorded[0].recorded_at <= recorded[1].recorded_at


async def test_read_all_returns_every_stream_in_one_global_order(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        for name in ("x", "y", "x", "z", "y"):
            version = await STORE.stream_version(conn, f"case-{name}")
            await STORE.append(conn, f"case-{name}", version, [case_opened(name)])
        everything = await STORE.read_all(conn)
        tail = await STORE.read_all(conn, after_position=everything[1].global_position)
    assert [e.data["case_id"] for e in everything] == ["x", "y", "x", "z", "y"]
    positions = [e.global_position for e in everything]
    assert positions == sorted(positions) and len(set(positions)) == 5
    assert [e.data["case_id"] for e in tail] == ["x", "z", "y"]


async def test_creating_streams_skips_those_that_exist_and_says_which_were_created(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        await STORE.append(conn, "case-old", 0, [case_opened("old")])
        created = await STORE.create_streams(
            conn,
            [
                StreamAppend("case-old", 0, [case_opened("old")]),
                StreamAppend("case-new", 0, [case_opened("new"), case_opened("new")]),
            ],
        )
        assert created == {"case-new"}
        assert len(await STORE.read_stream(conn, "case-old")) == 1
        assert len(await STORE.read_stream(conn, "case-new")) == 2


async def test_streams_started_and_streams_continued_are_written_in_one_statement_each_stream_in_order(
    pool: asyncpg.Pool, statements: list[str]
) -> None:
    async with pool.acquire() as conn:
        await STORE.append(conn, "case-on", 0, [case_opened("on")])
        await STORE.append(conn, "case-old", 0, [case_opened("old")])
        statements.clear()
        async with conn.transaction():
            created = await STORE.write(
                conn,
                [
                    StreamAppend("case-old", 0, [case_opened("old"), case_opened("old")]),
                    StreamAppend("case-new", 0, [case_opened("new") for _ in range(3)]),
                ],
                [StreamAppend("case-on", 1, [case_opened("on")])],
            )
        new = await STORE.read_stream(conn, "case-new")
        assert created == {"case-new"}
        assert sum("INSERT INTO svc.events" in s for s in statements) == 1
        assert [e.stream_version for e in new] == [1, 2, 3]
        assert [e.global_position for e in new] == sorted(e.global_position for e in new)
        assert len(await STORE.read_stream(conn, "case-old")) == 1
        assert len(await STORE.read_stream(conn, "case-on")) == 2
        with pytest.raises(ConcurrencyError) as conflict:
            starting, stale = StreamAppend("case-x", 0, [case_opened("x")]), StreamAppend("case-on", 1, [case_opened("on")])
            await STORE.write(conn, [starting], [stale])
        assert conflict.value.stream_id == "case-on"
        assert await STORE.read_stream(conn, "case-x") == []


async def test_the_same_event_id_twice_is_a_duplicate_not_a_concurrency_conflict(pool: asyncpg.Pool) -> None:
    event = case_opened("d")
    async with pool.acquire() as conn:
        await STORE.append(conn, "case-d", 0, [event])
        with pytest.raises(DuplicateEventError):
            await STORE.append(conn, "case-d2", 0, [event])


async def test_migrating_a_current_schema_takes_no_table_lock_so_it_never_waits_for_writers(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as writer:
        busy = writer.transaction()
        await busy.start()
        await STORE.append(writer, "case-busy", 0, [case_opened("busy")])  # holds a lock on svc.events
        # A second replica starting now must not queue behind the writer (and deadlock with it).
        await asyncio.wait_for(migrate(pool, "svc"), timeout=2)
        await busy.commit()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM svc.schema_versions") == 1


async def test_a_connection_released_mid_transaction_comes_back_rolled_back_without_a_reset_round_trip(
    database_url: str,
) -> None:
    pool = await create_pool(database_url, max_size=1)  # one connection: the next acquire gets it back
    try:
        await migrate(pool, "svc")
        conn = await pool.acquire()
        sent: list[str] = []
        conn.add_query_logger(lambda logged: sent.append(logged.query))
        abandoned = conn.transaction()  # as a task cancelled mid-way leaves it: never committed
        await abandoned.start()
        await STORE.append(conn, "case-left", 0, [case_opened("left")])
        await conn.execute("SELECT pg_advisory_xact_lock(42)")
        await pool.release(conn)
        assert "ROLLBACK" in sent and not any("RESET ALL" in query for query in sent)
        async with pool.acquire() as again:
            assert not again.is_in_transaction()
            assert await STORE.read_stream(again, "case-left") == []
            async with again.transaction():
                assert await again.fetchval("SELECT pg_try_advisory_xact_lock(42)")
    finally:
        await pool.close()
