"""Loading a file from its stream and committing a decision: events, messages, bureau notices, read models."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

from eventcore.database import DbConnection
from eventcore.outbox import OutboxMessage
from eventcore.store import PendingEvent
from eventcore.unit_of_work import UnitOfWork
from schemas.base import DomainEvent, EventMetadata
from schemas.bureau import bureau_tasks_topic
from schemas.topics import JOINT_MEETING
from services.jointmeeting.adapters.read_models import parse_event, save
from services.jointmeeting.adapters.workbench.changes import announce
from services.jointmeeting.domain.files import file_stream
from services.jointmeeting.domain.notices import notice_for
from services.jointmeeting.domain.state import FileState, evolve


@dataclass(frozen=True)
class LoadedFile:
    state: FileState | None  # None: no such file
    version: int
    correlation_id: str | None  # the journey of the case the file was opened for


async def load_file(uow: UnitOfWork, file_id: str) -> LoadedFile:
    recorded = await uow.store.read_stream(uow.conn, file_stream(file_id))
    state: FileState | None = None
    for event in recorded:
        state = evolve(state, parse_event(event))
    if not recorded:
        return LoadedFile(None, 0, None)
    return LoadedFile(state, recorded[-1].stream_version, recorded[0].metadata.get("correlation_id"))


async def commit(
    uow: UnitOfWork,
    file_id: str,
    version: int,
    state: FileState | None,
    events: Sequence[DomainEvent],
    metadata: EventMetadata,
) -> FileState | None:
    """Append at the expected version (a concurrent writer makes this fail with ConcurrencyError).

    Every event goes to caseline.jointmeeting.v1; each change to a task also sends its bureau a notice
    on that bureau's own topic, in the same transaction.
    """
    if not events:
        return state
    after = copy.deepcopy(state)
    notices: list[OutboxMessage] = []
    for event in events:
        after = evolve(after, event)
        notice = notice_for(after, event)
        if notice is not None:
            notices.append(
                OutboxMessage.for_event(
                    PendingEvent(notice, metadata), topic=bureau_tasks_topic(notice.bureau), source=uow.source
                )
            )
    pending = [PendingEvent(event, metadata) for event in events]
    uow.append(file_stream(file_id), version, pending, publish_to=JOINT_MEETING)
    await uow.flush()
    await uow.outbox.add(uow.conn, notices)
    assert after is not None
    await save(uow.conn, uow.store.schema, after)
    await announce(uow.conn, after)  # delivered at commit: the workbench's lists and boards follow live
    return after


async def open_cluster_file(
    conn: DbConnection, schema: str, district: str, compound_code: str, category: str
) -> str | None:
    """The open file for this compound and problem in this district (compound codes are district-local).

    The cluster stays locked until the caller's transaction ends: neighbours' cases have different keys, so
    two replicas may escalate them at once, and each would otherwise find no file and open one of its own.
    A replica that waits here sees the other's file once that commits.
    """
    await conn.execute(  # the two-key form: a space of its own, apart from the relays' one-key locks
        "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))",
        f"{schema}.cluster",
        f"{district}/{compound_code}/{category}",
    )
    return await conn.fetchval(  # type: ignore[no-any-return]
        f"SELECT file_id FROM {schema}.files WHERE district = $1 AND compound_code = $2 AND category = $3 "
        "AND NOT completed ORDER BY file_id LIMIT 1",
        district,
        compound_code,
        category,
    )


async def files_of_case(conn: DbConnection, schema: str, case_id: str) -> list[tuple[str, bool]]:
    rows = await conn.fetch(
        f"SELECT file_id, completed FROM {schema}.files WHERE $1 = ANY(case_ids) ORDER BY file_id", case_id
    )
    return [(row["file_id"], row["completed"]) for row in rows]


async def file_of_task(
    conn: DbConnection, schema: str, task_id: str, district: str | None = None
) -> str | None:
    """The task's file; with `district`, only a task of that district (another district's is unknown)."""
    return await conn.fetchval(  # type: ignore[no-any-return]
        f"SELECT file_id FROM {schema}.board_tasks WHERE task_id = $1 AND ($2::text IS NULL OR district = $2)",
        task_id,
        district,
    )
