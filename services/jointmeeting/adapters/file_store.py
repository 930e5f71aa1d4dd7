"""Loading a file from its stream and committing a decision: events, messages, bureau notices, read models.

Files load and save through one eventcore Repository, inside the caller's unit of work; the look-ups the
handlers need (which file holds a case, a task, a cluster) take the unit of work too, so no handler reaches
for the connection or the schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from eventcore.aggregate import Loaded, Repository
from eventcore.outbox import OutboxMessage
from eventcore.store import PendingEvent
from eventcore.unit_of_work import UnitOfWork
from schemas.base import DomainEvent, EventMetadata
from schemas.bureau import OPEN_STATUSES, bureau_tasks_topic
from schemas.topics import JOINT_MEETING
from services.jointmeeting.adapters.read_models import save
from services.jointmeeting.adapters.workbench.changes import announce
from services.jointmeeting.domain.files import file_stream
from services.jointmeeting.domain.notices import notices_for
from services.jointmeeting.domain.state import FileState, evolve

FILES: Repository[FileState] = Repository(evolve, publish_to=JOINT_MEETING)


async def load_file(uow: UnitOfWork, file_id: str) -> Loaded[FileState]:
    """The file as its stream says (state None: no such file); correlation_id: its first case's journey."""
    return await FILES.load(uow, file_stream(file_id))


def unopened_file(file_id: str) -> Loaded[FileState]:
    """A file about to be opened, without reading its stream: its first events are appended at version 0,
    so should another writer have opened the same file meanwhile, the commit fails (ConcurrencyError)."""
    return Loaded(file_stream(file_id), 0, None)


async def commit(
    uow: UnitOfWork, loaded: Loaded[FileState], events: Sequence[DomainEvent], metadata: EventMetadata
) -> Loaded[FileState]:
    """Append at the version the file was loaded at (a concurrent writer makes the unit of work's flush fail
    with ConcurrencyError); returns the file after the events.

    Every event goes to caseline.jointmeeting.v1; each change to a task also sends its bureau a notice
    on that bureau's own topic, and the files list and the bureaus' boards follow, all in the same unit of
    work.
    """
    if not events:
        return loaded
    after = FILES.save(uow, loaded, events, metadata)
    assert after.state is not None
    notices = [
        OutboxMessage.for_event(
            PendingEvent(notice, metadata), topic=bureau_tasks_topic(notice.bureau), source=uow.source
        )
        for notice in notices_for(loaded.state, events)
    ]
    # Written at the flush, after the events they tell of (as when each commit flushed on its own).
    uow.add_rows(uow.outbox.add, notices)
    # The read model at once, not at the flush: a later escalation in the same batch finds its cluster's file.
    await save(uow.conn, uow.store.schema, after.state)
    await announce(uow.conn, after.state)  # delivered at commit: the workbench's lists and boards follow live
    return after


async def open_cluster_file(uow: UnitOfWork, district: str, compound_code: str, category: str) -> str | None:
    """The open file for this compound and problem in this district (compound codes are district-local).

    The cluster stays locked until the caller's transaction ends: neighbours' cases have different keys, so
    two replicas may escalate them at once, and each would otherwise find no file and open one of its own.
    A replica that waits here sees the other's file once that commits.
    """
    schema = uow.store.schema
    await uow.conn.execute(  # the two-key form: a space of its own, apart from the relays' one-key locks
        "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))",
        f"{schema}.cluster",
        f"{district}/{compound_code}/{category}",
    )
    return await uow.conn.fetchval(  # type: ignore[no-any-return]
        f"SELECT file_id FROM {schema}.files WHERE district = $1 AND compound_code = $2 AND category = $3 "
        "AND NOT completed ORDER BY file_id LIMIT 1",
        district,
        compound_code,
        category,
    )


async def files_of_case(uow: UnitOfWork, case_id: str) -> list[tuple[str, bool]]:
    """Every file the case was ever in, each with whether it is complete."""
    rows = await uow.conn.fetch(
        f"SELECT file_id, completed FROM {uow.store.schema}.files "
        "WHERE case_ids @> ARRAY[$1::text] ORDER BY file_id",
        case_id,
    )
    return [(row["file_id"], row["completed"]) for row in rows]


async def file_of_task(uow: UnitOfWork, task_id: str, district: str | None = None) -> str | None:
    """The task's file; with `district`, only a task of that district (another district's is unknown)."""
    return await uow.conn.fetchval(  # type: ignore[no-any-return]
        f"SELECT file_id FROM {uow.store.schema}.board_tasks "
        "WHERE task_id = $1 AND ($2::text IS NULL OR district = $2)",
        task_id,
        district,
    )


async def files_with_tasks_overdue(uow: UnitOfWork, now: datetime) -> list[str]:
    """Every file (of any district) with an open task past its deadline that is not marked overdue yet."""
    rows = await uow.conn.fetch(
        f"SELECT DISTINCT file_id FROM {uow.store.schema}.board_tasks "
        "WHERE status = ANY($1::text[]) AND due_at <= $2 AND NOT overdue ORDER BY file_id",
        sorted(status.value for status in OPEN_STATUSES),
        now,
    )
    return [row["file_id"] for row in rows]
