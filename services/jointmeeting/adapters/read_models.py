"""Read models in the joint meeting's own schema: the files list and each bureau's task board.

Each row is the file's folded state, written in the same transaction as the file's events; `rebuild`
folds the whole event store again, so the tables can always be dropped and replayed.
"""

from __future__ import annotations

from typing import Any

from eventcore.database import DbConnection, checked_schema, copy_rows
from eventcore.mapper import default_mapper
from eventcore.store import EventStore
from services.jointmeeting.domain.files import FILE_STREAM_PREFIX
from services.jointmeeting.domain.state import FileState, fold

EXTRA_DDL = (
    """
CREATE TABLE IF NOT EXISTS {s}.files (
    file_id text PRIMARY KEY,
    primary_case_id text NOT NULL,
    case_ids text[] NOT NULL,
    category text NOT NULL,
    compound_code text,
    street_code text,
    lead_bureau text NOT NULL,
    completed boolean NOT NULL,
    needs_meeting boolean NOT NULL,
    tasks_counting integer NOT NULL,
    tasks_done integer NOT NULL
);
CREATE INDEX IF NOT EXISTS files_open_cluster ON {s}.files (compound_code, category) WHERE NOT completed;
CREATE TABLE IF NOT EXISTS {s}.board_tasks (
    task_id text PRIMARY KEY,
    file_id text NOT NULL,
    case_id text NOT NULL,
    bureau text NOT NULL,
    is_lead boolean NOT NULL,
    category text NOT NULL,
    compound_code text,
    street_code text,
    action text NOT NULL,
    done_when text NOT NULL,
    due_at timestamptz NOT NULL,
    status text NOT NULL,
    overdue boolean NOT NULL,
    last_note text NOT NULL
);
CREATE INDEX IF NOT EXISTS board_tasks_bureau ON {s}.board_tasks (bureau, status);
""",
    # Districts (tenants): added in place so installations from before keep their rows, which belong to
    # the founding district. Added after the columns above on purpose: save() relies on the column order.
    """
ALTER TABLE {s}.files ADD COLUMN IF NOT EXISTS district text NOT NULL DEFAULT 'luzhou';
ALTER TABLE {s}.board_tasks ADD COLUMN IF NOT EXISTS district text NOT NULL DEFAULT 'luzhou';
DROP INDEX IF EXISTS {s}.files_open_cluster;
CREATE INDEX IF NOT EXISTS files_open_cluster_by_district
    ON {s}.files (district, compound_code, category) WHERE NOT completed;
DROP INDEX IF EXISTS {s}.board_tasks_bureau;
CREATE INDEX IF NOT EXISTS board_tasks_bureau_by_district ON {s}.board_tasks (district, bureau, status);
""",
    # Every escalation asks which files hold its case: without this, a scan of every file ever opened.
    """
CREATE INDEX IF NOT EXISTS files_by_case ON {s}.files USING gin (case_ids);
""",
)

FILE_COLUMNS = (
    "file_id, primary_case_id, case_ids, category, compound_code, street_code, lead_bureau, completed, "
    "needs_meeting, tasks_counting, tasks_done, district"
)
TASK_COLUMNS = (
    "task_id, file_id, case_id, bureau, is_lead, category, compound_code, street_code, action, done_when, "
    "due_at, status, overdue, last_note, district"
)

_FILE_FIELDS = FILE_COLUMNS.split(", ")
_TASK_FIELDS = TASK_COLUMNS.split(", ")


async def save(conn: DbConnection, schema: str, state: FileState) -> None:
    s = checked_schema(schema)
    await conn.execute(
        f"INSERT INTO {s}.files ({FILE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
        f"ON CONFLICT (file_id) DO UPDATE SET ({FILE_COLUMNS}) = ROW(EXCLUDED.*)",
        *_file_row(state),
    )
    await conn.executemany(
        f"INSERT INTO {s}.board_tasks ({TASK_COLUMNS}) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) "
        f"ON CONFLICT (task_id) DO UPDATE SET ({TASK_COLUMNS}) = ROW(EXCLUDED.*)",
        _task_rows(state),
    )


async def rebuild(conn: DbConnection, schema: str, chunk: int = 5000) -> int:
    """Empty the read models and fold every file's stream again; returns the number of files.

    In the caller's transaction: the TRUNCATE locks both tables until it commits, so the service's writers
    wait for the rebuilt rows. Each file's events come in its stream's order, in pages of `chunk`, only the
    columns the fold needs, each decoded once; the rows are loaded `chunk` files at a time with COPY.
    """
    s = checked_schema(schema)
    await conn.execute(f"TRUNCATE {s}.files, {s}.board_tasks")
    files, total = list[FileState](), 0
    store, decode = EventStore(s), default_mapper().from_json
    async for _, events in store.each_stream(conn, FILE_STREAM_PREFIX, decode, chunk):
        if (state := fold(events)) is not None:
            files.append(state)
        if len(files) >= chunk:
            total += await _load(conn, s, files)
            files = []
    return total + await _load(conn, s, files)


async def _load(conn: DbConnection, s: str, files: list[FileState]) -> int:
    """These files' rows into tables emptied in this transaction: a COPY each, no conflict to look for."""
    loaded = await copy_rows(conn, s, "files", _FILE_FIELDS, [_file_row(f) for f in files])
    await copy_rows(conn, s, "board_tasks", _TASK_FIELDS, [r for f in files for r in _task_rows(f)])
    return loaded


def _file_row(state: FileState) -> tuple[Any, ...]:
    counting = [t for t in state.tasks.values() if t.counts]
    return (
        state.file_id,
        state.primary_case_id,
        list(state.case_ids),
        state.category.value,
        state.compound_code,
        state.street_code,
        state.lead_bureau.value,
        state.completed,
        state.needs_meeting,
        len(counting),
        sum(1 for t in counting if t.status.value == "done"),
        state.district,
    )


def _task_rows(state: FileState) -> list[tuple[Any, ...]]:
    return [
        (
            task.task_id,
            state.file_id,
            state.primary_case_id,
            task.bureau.value,
            task.is_lead,
            state.category.value,
            state.compound_code,
            state.street_code,
            task.action,
            task.done_when,
            task.due_at,
            task.status.value,
            task.overdue,
            task.last_note,
            state.district,
        )
        for task in state.tasks.values()
    ]
