"""What a file feed does once per process so that each record costs less, against real PostgreSQL."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from district.sample_hotline import write_synthetic_orders
from eventcore.consumer import ServiceStores
from eventcore.database import create_pool, migrate
from eventcore.settings import Settings
from services.intake.app import EXTRA_DDL, SCHEMA, intake_context
from services.intake.handlers import feed_hotline_file


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[ServiceStores]:
    pool = await create_pool(database_url, max_size=2)
    await migrate(pool, SCHEMA, EXTRA_DDL)
    yield ServiceStores(pool, SCHEMA, "/caseline/intake")
    await pool.close()


async def test_a_feed_leaves_what_the_process_holds_for_good_out_of_the_collectors_sight(
    stores: ServiceStores, tmp_path: Path
) -> None:
    """Full collections would otherwise walk the modules, the classifier and the directories every batch
    or two; what the feed itself makes is still collected."""
    orders = tmp_path / "orders.jsonl"
    write_synthetic_orders(orders, 30, prefix="GC")
    ctx = intake_context(Settings())
    summary = await feed_hotline_file(stores, ctx, orders, batch_size=10)

    assert summary.accepted == 30
    assert gc.get_freeze_count() > 10_000
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1


async def test_a_records_outbox_message_new_case_caller_and_label_sighting_are_written_in_one_statement(
    stores: ServiceStores, tmp_path: Path, statements: list[str]
) -> None:
    orders = tmp_path / "orders.jsonl"
    write_synthetic_orders(orders, 4, prefix="ONE")
    summary = await feed_hotline_file(stores, intake_context(Settings()), orders, batch_size=4)

    together = [s for s in statements if "INSERT INTO intake.cases" in s]
    assert len(together) == 1
    assert all(f"INSERT INTO intake.{table}" in together[0] for table in ("outbox", "complainants", "category_labels"))
    assert not [s for s in statements if s.startswith("INSERT INTO intake.outbox")]
    async with stores.pool.acquire() as conn:
        cases = await conn.fetchval("SELECT count(*) FROM intake.cases")
        callers = await conn.fetchval("SELECT count(*) FROM intake.complainants WHERE caller_phone <> ''")
        sightings = await conn.fetchval("SELECT coalesce(sum(seen), 0) FROM intake.category_labels")
    assert summary.accepted == cases == 4
    assert callers == 4 and sightings == 4
