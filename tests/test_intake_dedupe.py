"""Exact redelivery is a duplicate whatever the timing; the same key with other content is a conflict, refused."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from district.registry import load_districts
from eventcore.consumer import ServiceStores
from eventcore.database import create_pool, migrate
from schemas.web import WebComplaint
from services.intake.adapters.hotline_file import FileRecord
from services.intake.app import EXTRA_DDL, SCHEMA
from services.intake.domain.channels import from_web
from services.intake.handlers import IntakeContext, Status, receive_hotline_records, receive_submissions

CTX = IntakeContext(load_districts(), "secret")


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[str]:
    pool = await create_pool(database_url, max_size=2)
    await migrate(pool, SCHEMA, EXTRA_DDL)
    await pool.close()
    yield database_url


async def _stores(database_url: str) -> ServiceStores:
    """A fresh pool each time: what a restarted intake process would have."""
    return ServiceStores(await create_pool(database_url, max_size=2), SCHEMA, "/caseline/intake")


def record(line: int, **changes: Any) -> FileRecord:
    data = {
        "order_no": "D-1",
        "received_at": "2026-11-20T09:00:00+08:00",
        "caller_phone": "13900000001",
        "kind": "complaint",
        "category": "sanitation",
        "description": "垃圾没人清运",
        **changes,
    }
    return FileRecord("hotline-file:d.jsonl", line, json.dumps(data, ensure_ascii=False).encode())


async def test_a_redelivery_after_a_restart_is_a_duplicate_and_a_changed_one_a_conflict_kept_with_its_reason(
    database: str,
) -> None:
    first = await _stores(database)
    summary, _ = await receive_hotline_records(first, CTX, [record(1)], actor="t")
    await first.pool.close()
    again = await _stores(database)
    try:
        summary, outcomes = await receive_hotline_records(
            again, CTX, [record(1), record(2, description="垃圾已经清运了吗？还没有"), record(3)], actor="t"
        )
        async with again.pool.acquire() as conn:
            [letter] = await again.dead_letters.list(conn)
            events = await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.events")
    finally:
        await again.pool.close()
    assert [o.status for o in outcomes] == [Status.DUPLICATE, Status.CONFLICT, Status.DUPLICATE]
    assert summary.duplicates == 2 and summary.rejected == {"conflict": 1} and events == 1
    assert letter.source_ref == "line 2" and letter.details["kind"] == "conflict"
    assert "order number D-1 was already received with different content" in letter.reason
    assert letter.reason.startswith("line 2: ")


async def test_a_changed_record_inside_one_batch_is_a_conflict_with_the_first(database: str) -> None:
    stores = await _stores(database)
    try:
        _, outcomes = await receive_hotline_records(
            stores, CTX, [record(1), record(2, urgency="urgent")], actor="t"
        )
    finally:
        await stores.pool.close()
    assert [o.status for o in outcomes] == [Status.ACCEPTED, Status.CONFLICT]


async def test_a_web_form_sent_twice_without_its_own_time_is_a_duplicate_not_a_conflict(
    database: str,
) -> None:
    form = WebComplaint.model_validate(
        {"phone": "13600000000", "category": "sanitation", "description": "脏"}
    )
    now = datetime.now(UTC)
    sends = [
        from_web(form, idempotency_key="k-1", received_at=now + timedelta(seconds=s), raw=b"{}")
        for s in (0, 9)
    ]
    changed = from_web(
        form.model_copy(update={"description": "很脏"}), idempotency_key="k-1", received_at=now, raw=b"{}"
    )
    stores = await _stores(database)
    try:
        outcomes = [(await receive_submissions(stores, CTX, [s]))[0] for s in (*sends, changed)]
    finally:
        await stores.pool.close()
    assert [o.status for o in outcomes] == [Status.ACCEPTED, Status.DUPLICATE, Status.CONFLICT]
