"""`caseline audit` on stores written as the services write them: gaps found by id, doubles too, repaired."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from typer.testing import CliRunner, Result

from caseline.audit import audit, repair
from caseline.cli import app
from eventcore.database import create_pool, migrate
from eventcore.outbox import REWIND, notify_channel
from eventcore.settings import get_settings

SCHEMAS = ("intake", "routing", "jointmeeting", "sla")


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=2)
    for schema in SCHEMAS:
        await migrate(pool, schema)
    yield pool
    await pool.close()


async def _event(
    pool: asyncpg.Pool, schema: str, event_type: str, case_id: str, cause: str | None = None, **data: str
) -> str:
    """One event as the service stores it, with its published outbox message; returns its id."""
    event_id = str(uuid.uuid4())
    metadata = {"correlation_id": case_id, "causation_id": cause, "actor": "test"}
    async with pool.acquire() as conn:
        await conn.execute(
            f"INSERT INTO {schema}.events (stream_id, stream_version, event_id, event_type, schema_version, "
            "data, metadata, subject, recorded_at) "
            "VALUES ($1, 1, $2, $3, 1, $4, $5, $6, clock_timestamp() - interval '1 hour')",
            f"{event_type}-{event_id}",
            uuid.UUID(event_id),
            event_type,
            {"case_id": case_id, **data},
            metadata,
            case_id,
        )
        await conn.execute(
            f"INSERT INTO {schema}.outbox (message_id, topic, message_key, headers, payload, published_at) "
            "VALUES ($1, $2, $3, '{}', '{}', clock_timestamp())",
            uuid.UUID(event_id),
            "caseline.cases.v1" if schema == "routing" else f"caseline.{schema}",
            case_id,
        )
    return event_id


async def _handled_complaint(pool: asyncpg.Pool, case_id: str) -> None:
    received = await _event(pool, "intake", "ComplaintReceived", case_id)
    await _event(pool, "routing", "CaseOpened", case_id, cause=received)
    await _event(pool, "sla", "SlaClockStarted", case_id, clock_id=f"{case_id}/dispatch")


async def test_a_complaint_routing_never_handled_is_a_gap_with_its_id_and_repair_sends_it_again(
    stores: asyncpg.Pool, database_url: str
) -> None:
    await _handled_complaint(stores, "C-1")
    lost = await _event(stores, "intake", "ComplaintReceived", "C-2")  # published, then lost by the broker
    report = await audit(database_url)
    assert [(g.check, g.subject) for g in report.gaps] == [("complaint_not_handled", lost)]
    assert "C-2" in report.gaps[0].detail and "never reached routing" in report.gaps[0].detail
    assert report.figures["complaints_accepted"] == 2 and report.figures["cases_opened"] == 1

    rewound = asyncio.Event()

    def on_notify(*notified: object) -> None:
        if notified[-1] == REWIND:
            rewound.set()

    listener = await asyncpg.connect(database_url)  # where intake's relay listens
    await listener.add_listener(notify_channel("intake"), on_notify)
    try:
        repaired = await repair(database_url, report)
        await asyncio.wait_for(rewound.wait(), 5)  # the row lies below what the relay published
    finally:
        await listener.close()
    assert repaired.marked == {"intake": 1}
    async with stores.acquire() as conn:
        unpublished = await conn.fetch(
            "SELECT message_id::text AS id FROM intake.outbox WHERE published_at IS NULL"
        )
    assert [r["id"] for r in unpublished] == [lost]  # its relay sends it again; nothing else


async def test_a_complaint_opened_twice_and_an_escalation_in_no_file_are_gaps(
    stores: asyncpg.Pool, database_url: str
) -> None:
    received = await _event(stores, "intake", "ComplaintReceived", "C-3")
    await _event(stores, "routing", "CaseOpened", "C-3", cause=received)
    await _event(stores, "routing", "CaseOpened", "C-3", cause=received)  # handled twice
    await _event(stores, "sla", "SlaClockStarted", "C-3", clock_id="C-3/dispatch")
    escalation = await _event(stores, "routing", "CaseEscalated", "C-3")
    report = await audit(database_url)
    checks = {(g.check, g.subject) for g in report.gaps}
    assert ("complaint_handled_twice", received) in checks and ("complaint_handled_twice", "C-3") in checks
    assert ("escalation_without_file", "C-3") in checks
    assert ("dispatch_clock_running", "C-3") in checks  # escalated, yet its dispatch clock never stopped
    assert any(escalation in g.detail for g in report.gaps if g.check == "escalation_without_file")


async def test_what_is_younger_than_the_minimum_age_is_in_flight_not_a_gap(
    stores: asyncpg.Pool, database_url: str
) -> None:
    await _handled_complaint(stores, "C-4")
    async with stores.acquire() as conn:
        await conn.execute(
            "INSERT INTO intake.events (stream_id, stream_version, event_id, event_type, schema_version, data, "
            "metadata, subject) VALUES ('fresh', 1, $1, 'ComplaintReceived', 1, '{\"case_id\": \"C-5\"}', '{}', 'C-5')",
            uuid.uuid4(),
        )
        await conn.execute(
            "INSERT INTO intake.outbox (message_id, topic, message_key, headers, payload) "
            "VALUES ($1, 'caseline.complaints.v1', 'C-5', '{}', '{}')",
            uuid.uuid4(),
        )
    assert (await audit(database_url, min_age_seconds=60)).ok
    assert {g.check for g in (await audit(database_url)).gaps} == {"complaint_not_handled", "unpublished"}


def _invoke(args: list[str], database_url: str) -> Result:
    get_settings.cache_clear()  # the command reads DATABASE_URL afresh
    try:
        return CliRunner().invoke(app, args, env={"DATABASE_URL": database_url, "COLUMNS": "200"})
    finally:
        get_settings.cache_clear()


def test_the_audit_command_on_a_database_no_service_wrote_to_finds_nothing_missing(database_url: str) -> None:
    result = _invoke(["audit", "--json"], database_url)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ok"] is True


def test_the_audit_command_exits_1_with_the_gaps_listed(database_url: str) -> None:
    async def seed() -> str:
        pool = await create_pool(database_url, max_size=2)
        try:
            for schema in SCHEMAS:
                await migrate(pool, schema)
            return await _event(pool, "intake", "ComplaintReceived", "C-6")
        finally:
            await pool.close()

    lost = asyncio.run(seed())
    result = _invoke(["audit", "--min-age", "0", "--repair"], database_url)
    assert result.exit_code == 1
    assert "complaint_not_handled (1)" in result.output and lost in result.output
    assert "1 messages of intake marked for publishing again" in result.output
