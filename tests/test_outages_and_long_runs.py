"""What a PostgreSQL away does to a feed, what the background check reports, and what is kept how long."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from caseline.monitor import FlowCounts, RecentIds
from district.sample_hotline import write_synthetic_orders
from eventcore.consumer import ServiceStores
from eventcore.database import connect, migrate
from eventcore.delivery_check import DeliveryCheck, Gap
from eventcore.failures import DatabaseUnavailable
from eventcore.relay import OutboxRelay
from eventcore.settings import Settings
from services.intake import handlers
from services.intake.app import EXTRA_DDL, SCHEMA, intake_context
from services.intake.handlers import feed_hotline_file


async def test_a_feed_whose_database_does_not_come_back_stops_saying_how_far_it_got_and_a_rerun_completes_it(
    pool: asyncpg.Pool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await migrate(pool, SCHEMA, EXTRA_DDL)
    stores = ServiceStores(pool, SCHEMA, "/caseline/intake")
    orders = tmp_path / "orders.jsonl"
    write_synthetic_orders(orders, 6, prefix="AWAY")
    receive = handlers.receive_hotline_records
    calls = 0

    async def database_gone_after_the_first_batch(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls > 1:
            raise ConnectionRefusedError("PostgreSQL is restarting")
        return await receive(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(handlers, "receive_hotline_records", database_gone_after_the_first_batch)
    ctx = intake_context(Settings())
    with pytest.raises(DatabaseUnavailable) as stopped:
        await feed_hotline_file(stores, ctx, orders, batch_size=2, patience_seconds=0.6)
    message = str(stopped.value)
    assert "from line 3" in message and "the 2 records before it are done" in message
    assert "Run the same command again" in message and calls > 2  # the batch was tried again meanwhile

    monkeypatch.setattr(handlers, "receive_hotline_records", receive)
    again = await feed_hotline_file(stores, ctx, orders, batch_size=2)
    assert (again.accepted, again.duplicates) == (4, 2)  # nothing doubled


def test_a_gap_that_shrinks_is_closing_and_one_that_does_not_is_stuck_after_the_grace() -> None:
    gap = Gap()
    gap.observe(10, now=0.0)
    gap.observe(12, now=50.0)  # growing: not closing
    assert gap.stuck_seconds(now=130.0) == 130.0
    gap.observe(3, now=130.0)  # shrinking again: closing, the count starts over
    assert gap.stuck_seconds(now=140.0) == 10.0
    gap.observe(0, now=150.0)
    assert gap.stuck_seconds(now=500.0) == 0.0


async def test_the_background_check_reports_outbox_rows_left_unpublished_as_a_gap(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO svc.outbox (message_id, topic, message_key, headers, payload, created_at) "
            "VALUES (gen_random_uuid(), 't', 'k', '{}', '{}', clock_timestamp() - interval '10 minutes')"
        )
    check = DeliveryCheck("svc", ["t"], grace_seconds=0.0)
    assert (await check.check_once(pool))["unpublished"] == 1
    health = check.health()
    assert health["status"] == "stuck" and health["gaps"] == {"unpublished": 1}


async def test_published_outbox_rows_are_kept_for_the_retention_and_then_deleted(
    pool: asyncpg.Pool, database_url: str
) -> None:
    async with pool.acquire() as setup:
        await setup.execute(
            "INSERT INTO svc.outbox (message_id, topic, message_key, headers, payload, published_at) VALUES "
            "(gen_random_uuid(), 't', 'old', '{}', '{}', clock_timestamp() - interval '8 days'), "
            "(gen_random_uuid(), 't', 'recent', '{}', '{}', clock_timestamp() - interval '1 day'), "
            "(gen_random_uuid(), 't', 'waiting', '{}', '{}', NULL)"
        )
    conn = await connect(database_url)
    try:
        relay = OutboxRelay(database_url, "svc", "unused:9092", retention_hours=168)
        assert await relay.delete_expired(conn) == 1
        kept = await conn.fetch("SELECT message_key FROM svc.outbox ORDER BY position")
    finally:
        await conn.close()
    assert [r["message_key"] for r in kept] == ["recent", "waiting"]


def test_the_flow_monitor_forgets_old_ids_and_counts_a_replaced_log_again() -> None:
    recent = RecentIds(capacity=3)
    assert all(recent.add(i) for i in "abcd") and len(recent) == 3 and recent.add("a")  # "a" was forgotten
    counts = FlowCounts()
    for offset, event_id in enumerate(["e1", "e2", "e2"]):  # a relay's resend after its own crash
        counts.observe("caseline.complaints.v1", 0, offset)
        counts.record(event_id, "caseline.ComplaintReceived.v1", {}, topic="caseline.complaints.v1")
    assert counts.received == 2
    for offset, event_id in enumerate(["e1", "e2"]):  # the broker lost its log; the relay re-drove it
        counts.observe("caseline.complaints.v1", 0, offset)
        counts.record(event_id, "caseline.ComplaintReceived.v1", {}, topic="caseline.complaints.v1")
    assert counts.received == 2 and counts.log_resets == 1
