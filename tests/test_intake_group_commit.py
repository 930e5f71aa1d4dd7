"""Intake's HTTP requests that arrive together commit together (group commit), against the real PostgreSQL:
fewer transactions than requests, each request answered with exactly its own outcomes, a repeat in two
concurrent requests still a duplicate, and one request the database refuses failing alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from district.registry import load_districts
from eventcore.auth import Authenticator
from eventcore.consumer import ServiceStores
from eventcore.database import create_pool, migrate
from schemas.web import WebComplaint
from services.intake.adapters.credentials import Open311Keys, channel_tokens
from services.intake.adapters.group_commit import GroupCommit
from services.intake.adapters.http_channels import channel_router
from services.intake.adapters.http_common import Channels
from services.intake.adapters.http_hotline import hotline_router
from services.intake.app import EXTRA_DDL, SCHEMA
from services.intake.domain.channels import from_web
from services.intake.handlers import IntakeContext, Status
from services.intake.settings import IntakeSettings
from tests.dev_credentials import HOTLINE_PLATFORM, petition_office

CTX = IntakeContext(load_districts(), "secret")
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[ServiceStores]:
    pool = await create_pool(database_url, max_size=6)
    await migrate(pool, SCHEMA, EXTRA_DDL)
    yield ServiceStores(pool, SCHEMA, "/caseline/intake")
    await pool.close()


def intake_http(stores: ServiceStores, group_commit: GroupCommit) -> httpx.AsyncClient:
    """Intake's HTTP channels in process, against the real database."""
    app = FastAPI()
    intake = IntakeSettings()
    channels = Channels(
        CTX,
        auth=Authenticator("intake", channel_tokens(CTX.districts, intake, None)),
        open311=Open311Keys.configured(intake, None),
        group_commit=group_commit,
    )
    for router in (hotline_router(channels), channel_router(channels)):
        app.include_router(router)
    app.state.runtime = SimpleNamespace(stores=stores)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake", timeout=30)


def order(order_no: str, **changes: Any) -> dict[str, Any]:
    return {
        "order_no": order_no,
        "received_at": (NOW - timedelta(hours=1)).isoformat(),
        "caller_phone": "13900001111",
        "kind": "投诉",
        "category": "环境卫生",
        "description": "垃圾桶满了三天没人清运",
        "address": "东街街道丰河华庭3号楼",
        **changes,
    }


def petition(petition_no: str) -> dict[str, Any]:
    return {
        "petition_no": petition_no,
        "form": "letter",
        "received_at": (NOW - timedelta(hours=2)).isoformat(),
        "petitioner_name": "赵六",
        "petitioner_phone": "13700003333",
        "category": "sanitation",
        "matter": "小区垃圾长期无人清理",
        "address": "东街街道丰河华庭",
    }


async def transactions_that_wrote_complaints(stores: ServiceStores) -> int:
    """How many transactions the stored complaints were written in (rows of one transaction share xmin)."""
    async with stores.pool.acquire() as conn:
        count: int = await conn.fetchval(f"SELECT count(DISTINCT xmin::text) FROM {SCHEMA}.events")
        return count


async def test_pushes_arriving_together_commit_in_fewer_transactions_each_answered_with_its_own_orders(
    stores: ServiceStores,
) -> None:
    batches = [[order(f"GC-{n}")] for n in range(1, 10)]
    batches.append([order("GC-10"), order("GC-11", description="<script>x</script>"), order("GC-12")])
    async with intake_http(stores, GroupCommit(transactions=1)) as client:
        answers = await asyncio.gather(
            *(client.post("/v1/hotline/orders", json=batch, headers=HOTLINE_PLATFORM) for batch in batches),
            client.post("/v1/petitions", json=petition("XF-GC-1"), headers=petition_office()),
        )
    *pushes, registered = answers
    assert all(answer.status_code == 200 for answer in pushes)
    results = [[(r["order_no"], r["status"], r.get("complaint_id")) for r in a.json()["results"]] for a in pushes]
    assert results[:9] == [[(f"GC-{n}", "accepted", f"hotline:GC-{n}")] for n in range(1, 10)]
    assert results[9] == [
        ("GC-10", "accepted", "hotline:GC-10"),
        ("GC-11", "rejected", None),
        ("GC-12", "accepted", "hotline:GC-12"),
    ]
    assert registered.status_code == 201 and registered.json()["status"] == "accepted"
    # The first request found intake idle and went alone; the ten that came meanwhile shared the next one.
    assert await transactions_that_wrote_complaints(stores) == 2


async def test_an_order_pushed_in_two_concurrent_requests_is_received_once_and_the_second_is_a_duplicate(
    stores: ServiceStores,
) -> None:
    async with intake_http(stores, GroupCommit(transactions=1)) as client:
        # The first request opens a transaction; the two sent meanwhile share the next one.
        _, first, second = await asyncio.gather(
            client.post("/v1/hotline/orders", json=[order("GC-0")], headers=HOTLINE_PLATFORM),
            *(client.post("/v1/hotline/orders", json=[order("GC-1")], headers=HOTLINE_PLATFORM) for _ in "ab"),
        )
    statuses = sorted(answer.json()["results"][0]["status"] for answer in (first, second))
    assert statuses == ["accepted", "duplicate"]
    assert {answer.json()["results"][0]["complaint_id"] for answer in (first, second)} == {"hotline:GC-1"}
    async with stores.pool.acquire() as conn:
        assert await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.events WHERE stream_id LIKE '%GC-1'") == 1


async def test_a_request_the_database_refuses_fails_alone_and_the_requests_beside_it_are_received(
    stores: ServiceStores,
) -> None:
    group_commit = GroupCommit(transactions=1)

    form = WebComplaint.model_validate({"phone": "13600000000", "category": "sanitation", "description": "楼道很脏"})
    requests = [[from_web(form, idempotency_key=f"k-{n}", received_at=NOW, raw=b"{}")] for n in range(1, 6)]
    # A NUL character, which PostgreSQL stores in no text or JSON (one that slipped past a channel's checks):
    # no transaction holding it can commit.
    requests[2] = [replace(requests[2][0], description="楼道\x00很脏")]
    answers = await asyncio.gather(
        *(group_commit.receive_submissions(stores, CTX, submissions) for submissions in requests),
        return_exceptions=True,
    )
    refused = answers.pop(2)
    assert isinstance(refused, Exception)
    assert [[o.status for o in outcomes] for outcomes in answers if isinstance(outcomes, list)] == [
        [Status.ACCEPTED]
    ] * 4
    assert group_commit.redone == 1  # the four that shared its transaction were received again, alone
    async with stores.pool.acquire() as conn:
        assert await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.events") == 4
