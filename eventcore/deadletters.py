"""Dead letters: rejected input kept with its reason and original bytes, so it can be fixed and replayed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from eventcore.database import DbConnection, checked_schema


@dataclass(frozen=True)
class Rejection:
    source: str  # e.g. "hotline-file:orders.jsonl" or "kafka:caseline.complaints.v1"
    reason: str  # what is wrong and where, for a person to fix
    payload: bytes
    source_ref: str | None = None  # line number, order number or topic/partition/offset
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeadLetter:
    id: int
    source: str
    source_ref: str | None
    reason: str
    payload: bytes
    details: dict[str, Any]
    created_at: datetime
    replayed_at: datetime | None


class DeadLetters:
    def __init__(self, schema: str) -> None:
        self.schema = checked_schema(schema)

    async def add(self, conn: DbConnection, rejections: Sequence[Rejection]) -> None:
        if not rejections:
            return
        await conn.executemany(
            f"INSERT INTO {self.schema}.dead_letters (source, source_ref, reason, payload, details) "
            "VALUES ($1, $2, $3, $4, $5::jsonb)",
            [(r.source, r.source_ref, r.reason, r.payload, r.details) for r in rejections],
        )

    async def list(self, conn: DbConnection, *, include_replayed: bool = False) -> list[DeadLetter]:
        where = "" if include_replayed else "WHERE replayed_at IS NULL"
        rows = await conn.fetch(f"SELECT * FROM {self.schema}.dead_letters {where} ORDER BY id")
        return [_dead_letter(row) for row in rows]

    async def get(self, conn: DbConnection, dead_letter_id: int) -> DeadLetter | None:
        row = await conn.fetchrow(f"SELECT * FROM {self.schema}.dead_letters WHERE id = $1", dead_letter_id)
        return _dead_letter(row) if row else None

    async def mark_replayed(self, conn: DbConnection, dead_letter_id: int) -> None:
        await conn.execute(
            f"UPDATE {self.schema}.dead_letters SET replayed_at = clock_timestamp() WHERE id = $1",
            dead_letter_id,
        )


def _dead_letter(row: asyncpg.Record) -> DeadLetter:
    details = row["details"]
    return DeadLetter(
        id=row["id"],
        source=row["source"],
        source_ref=row["source_ref"],
        reason=row["reason"],
        payload=bytes(row["payload"]),
        details=details if isinstance(details, dict) else json.loads(details),
        created_at=row["created_at"],
        replayed_at=row["replayed_at"],
    )
