"""`caseline case show`: one case's history gathered from every service's store, oldest first."""

from __future__ import annotations

import asyncio

from typer.testing import CliRunner

from caseline.cli import app
from eventcore.database import create_pool, migrate
from eventcore.settings import get_settings
from eventcore.store import EventStore
from tests.factories import case_opened


async def test_case_show_prints_the_events_of_every_service_in_recorded_order(database_url: str) -> None:
    pool = await create_pool(database_url, max_size=2)
    try:
        for schema in ("intake", "routing"):
            await migrate(pool, schema)
        async with pool.acquire() as conn:
            await EventStore("intake").append(conn, "complaint-x", 0, [case_opened("case-x")])
            await EventStore("routing").append(conn, "case-case-x", 0, [case_opened("case-x")])
            await EventStore("routing").append(conn, "case-other", 0, [case_opened("case-other")])
    finally:
        await pool.close()

    # The command runs its own event loop, so it runs beside the test's loop, as from a shell.
    env = {"DATABASE_URL": database_url, "COLUMNS": "200"}
    get_settings.cache_clear()  # settings are read once per process; this test changes the environment
    shown = await asyncio.to_thread(CliRunner().invoke, app, ["case", "show", "case-x"], env=env)
    assert shown.exit_code == 0, shown.output
    assert shown.output.index("intake") < shown.output.index("routing")
    assert shown.output.count("CaseOpened v1") == 2 and "case-other" not in shown.output

    missing = await asyncio.to_thread(CliRunner().invoke, app, ["case", "show", "case-nope"], env=env)
    assert missing.exit_code == 1 and "no events for case 'case-nope'" in missing.output
