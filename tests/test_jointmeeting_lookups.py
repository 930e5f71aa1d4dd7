"""The joint meeting's look-ups that every escalation makes, against the real PostgreSQL: they find the right
files and stay index look-ups however many files the district has opened."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from eventcore.consumer import ServiceStores
from eventcore.database import DbConnection, migrate
from services.jointmeeting.adapters.file_store import files_of_case
from services.jointmeeting.adapters.read_models import EXTRA_DDL
from services.jointmeeting.app import SCHEMA


class RecordingConnection:
    """Forwards to the real connection and keeps each query, to look at its plan afterwards."""

    def __init__(self, conn: DbConnection) -> None:
        self.conn = conn
        self.queries: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        self.queries.append((query, args))
        return await self.conn.fetch(query, *args)


async def _open_files(conn: DbConnection, files: dict[str, tuple[list[str], bool]]) -> None:
    await conn.executemany(
        f"INSERT INTO {SCHEMA}.files (file_id, primary_case_id, case_ids, category, compound_code, street_code, "
        "lead_bureau, completed, needs_meeting, tasks_counting, tasks_done, district) "
        "VALUES ($1, $2, $3, 'fire_hazard', 'C1', 'ST01', 'fire_rescue', $4, false, 1, 0, 'luzhou')",
        [(file_id, cases[0], cases, completed) for file_id, (cases, completed) in files.items()],
    )


@pytest.fixture
async def jointmeeting_pool(pool: asyncpg.Pool) -> asyncpg.Pool:
    await migrate(pool, SCHEMA, EXTRA_DDL)
    return pool


async def test_a_case_escalated_again_finds_every_file_it_was_in_by_index_among_many(
    jointmeeting_pool: asyncpg.Pool,
) -> None:
    stores = ServiceStores(jointmeeting_pool, SCHEMA, source="/caseline/jointmeeting")
    async with jointmeeting_pool.acquire() as conn:
        many = {f"jm-other-{n}": ([f"case-{n}", f"case-{n}-b"], n % 2 == 0) for n in range(2000)}
        await _open_files(conn, many | {"jm-a": (["case-x", "case-y"], True), "jm-b": (["case-y"], False)})
        await conn.execute(f"ANALYZE {SCHEMA}.files")
        recording = RecordingConnection(conn)
        uow = stores.bind(conn)
        uow.conn = recording  # type: ignore[assignment]  # only fetch is asked for
        found = await files_of_case(uow, "case-y")
        none = await files_of_case(uow, "case-nowhere")
        [(query, args), _] = recording.queries
        # A table this small is cheaper to scan; what matters is that the query is one the index can answer
        # (`$1 = ANY(case_ids)` is not: it scans every file whatever the planner is told).
        await conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {query}", *args))
    assert found == [("jm-a", True), ("jm-b", False)]
    assert none == []
    assert "files_by_case" in plan, plan
