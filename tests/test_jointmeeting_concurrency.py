"""Replicas of the joint meeting handle different partitions at once; a compound still gets one file.

Neighbours' cases have different case ids, so their escalations land on different partitions and may be
handled by two replicas in overlapping transactions.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from district.registry import load_districts
from eventcore.consumer import InboundMessage, ServiceStores, decode
from eventcore.database import create_pool, migrate
from eventcore.outbox import OutboxMessage
from eventcore.store import PendingEvent
from schemas.base import EventMetadata
from schemas.cases import CaseEscalated
from schemas.topics import CASES
from services.jointmeeting.adapters.read_models import EXTRA_DDL
from services.jointmeeting.handlers import context_for, handle_case_escalated
from tests.factories import Record
from tests.test_jointmeeting_support import fire_hazard_escalation

SCHEMA = "jointmeeting"


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[ServiceStores]:
    pool = await create_pool(database_url, max_size=4)
    await migrate(pool, SCHEMA, EXTRA_DDL)
    yield ServiceStores(pool, SCHEMA, source="/caseline/jointmeeting")
    await pool.close()


async def test_neighbours_escalated_at_once_on_two_replicas_share_one_file_for_their_compound(
    stores: ServiceStores,
) -> None:
    ctx = context_for(load_districts())
    first = _delivered(fire_hazard_escalation("case-fire-east", "CP0007"), partition=1)
    second = _delivered(fire_hazard_escalation("case-fire-west", "CP0007"), partition=5)

    async def replica(message: InboundMessage, commit_after: float) -> None:
        async with stores.pool.acquire() as conn, conn.transaction():
            uow = stores.bind(conn)
            await handle_case_escalated(ctx, uow, message)
            await uow.flush()  # as the consumer's batch does before it commits
            await asyncio.sleep(commit_after)  # a batch still handling other records before it commits

    await asyncio.gather(replica(first, 0.5), replica(second, 0.0))

    async with stores.pool.acquire() as conn:
        files = await conn.fetch(f"SELECT file_id, case_ids FROM {SCHEMA}.files")
    assert len(files) == 1, [row["file_id"] for row in files]
    assert sorted(files[0]["case_ids"]) == ["case-fire-east", "case-fire-west"]


def _delivered(escalation: CaseEscalated, partition: int) -> InboundMessage:
    metadata = EventMetadata(correlation_id=escalation.case_id, actor="routing", district=escalation.district)
    message = OutboxMessage.for_event(
        PendingEvent(escalation, metadata), topic=CASES, source="/caseline/routing"
    )
    headers = [(name, value.encode()) for name, value in message.headers.items()]
    decoded = decode(Record(CASES, partition, 0, headers, message.payload.encode()))
    assert isinstance(decoded, InboundMessage)
    return decoded


async def test_neighbours_escalated_in_one_batch_join_one_file_before_the_batch_is_written(
    stores: ServiceStores,
) -> None:
    """The second escalation finds the file the first opened although neither is flushed yet: the unit of
    work remembers the file it saved, and the second append follows the first at the next version."""
    ctx = context_for(load_districts())
    async with stores.pool.acquire() as conn, conn.transaction():
        uow = stores.bind(conn)
        for case_id in ("case-fire-north", "case-fire-south"):
            message = _delivered(fire_hazard_escalation(case_id, "CP0011"), partition=2)
            await handle_case_escalated(ctx, uow, message)
        await uow.flush()

    async with stores.pool.acquire() as conn:
        [file] = await conn.fetch(
            f"SELECT file_id, case_ids FROM {SCHEMA}.files WHERE compound_code = 'CP0011'"
        )
        versions = await conn.fetch(
            f"SELECT event_type, stream_version FROM {SCHEMA}.events WHERE stream_id = $1 "
            "ORDER BY stream_version",
            f"jmfile-{file['file_id']}",
        )
    assert file["case_ids"] == ["case-fire-north", "case-fire-south"]
    assert [row["stream_version"] for row in versions] == list(range(1, len(versions) + 1))
    assert versions[-1]["event_type"] == "CaseAddedToFile"
