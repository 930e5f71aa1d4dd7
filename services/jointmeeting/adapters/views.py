"""Queries on the read models for HTTP: the files list, a file with its tasks, a bureau's board."""

from __future__ import annotations

from typing import Any

import asyncpg

from eventcore.database import DbConnection
from schemas.reference import Bureau
from services.jointmeeting.adapters.read_models import FILE_COLUMNS, TASK_COLUMNS
from services.jointmeeting.domain.state import FileState

_OPEN = ("assigned", "accepted", "in_progress", "unable")


def _row(record: asyncpg.Record) -> dict[str, Any]:
    return dict(record.items())


async def board(conn: DbConnection, schema: str, bureau: Bureau, district: str | None) -> dict[str, Any]:
    """A bureau's open, overdue and completed tasks (cancelled and reassigned ones drop off).

    `district`: that district's bureau only (what a bureau token sees); None: every district's (the CLI).
    """
    rows = await conn.fetch(
        f"SELECT {TASK_COLUMNS} FROM {schema}.board_tasks WHERE bureau = $1 "
        "AND ($2::text IS NULL OR district = $2) ORDER BY due_at, task_id",
        bureau.value,
        district,
    )
    tasks = [_row(r) for r in rows]
    return {
        "bureau": bureau.value,
        "district": district,
        "open": [t for t in tasks if t["status"] in _OPEN and not t["overdue"]],
        "overdue": [t for t in tasks if t["status"] in _OPEN and t["overdue"]],
        "completed": [t for t in tasks if t["status"] == "done"],
    }


async def task(conn: DbConnection, schema: str, task_id: str, district: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {TASK_COLUMNS} FROM {schema}.board_tasks WHERE task_id = $1 AND district = $2",
        task_id,
        district,
    )
    return _row(row) if row else None


async def files(
    conn: DbConnection, schema: str, district: str, *, completed: bool | None, needs_meeting: bool | None
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"SELECT {FILE_COLUMNS} FROM {schema}.files WHERE district = $1 "
        "AND ($2::boolean IS NULL OR completed = $2) AND ($3::boolean IS NULL OR needs_meeting = $3) "
        "ORDER BY file_id LIMIT 500",
        district,
        completed,
        needs_meeting,
    )
    return [_row(r) for r in rows]


async def file_detail(conn: DbConnection, schema: str, file_id: str, district: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {FILE_COLUMNS} FROM {schema}.files WHERE file_id = $1 AND district = $2", file_id, district
    )
    if row is None:
        return None
    tasks = await conn.fetch(
        f"SELECT {TASK_COLUMNS} FROM {schema}.board_tasks WHERE file_id = $1 ORDER BY task_id", file_id
    )
    return {**_row(row), "tasks": [_row(t) for t in tasks]}


def state_view(state: FileState) -> dict[str, Any]:
    """What a command answers: the file as it is after the command."""
    return {
        "file_id": state.file_id,
        "district": state.district,
        "case_ids": list(state.case_ids),
        "completed": state.completed,
        "needs_meeting": state.needs_meeting,
        "meetings": [
            {"meeting_id": m.meeting_id, "scheduled_for": m.scheduled_for, "held": m.held}
            for m in state.meetings.values()
        ],
        "tasks": [
            {
                "task_id": t.task_id,
                "bureau": t.bureau.value,
                "status": t.status.value,
                "due_at": t.due_at,
                "overdue": t.overdue,
            }
            for t in state.tasks.values()
        ],
    }
