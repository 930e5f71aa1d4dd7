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
