"""Dead letters: rejected input kept with its reason and original bytes, so it can be fixed and replayed.

A payload larger than CASELINE_DEAD_LETTER_MAX_PAYLOAD_BYTES is kept truncated, its original size in
`details.original_size` and `details.truncated` true: a flood of oversized input cannot fill the database, and
whoever fixes it knows the sender must send it again.
"""

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
    message_id: str | None = None  # a consumed message's id: delivered again, it is tried again


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


DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024


class DeadLetters:
    def __init__(self, schema: str, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> None:
        self.schema = checked_schema(schema)
        self.max_payload_bytes = max_payload_bytes

    def kept(self, rejection: Rejection) -> tuple[Any, ...]:
        """The row for a rejection: payload cut at the limit, the original size recorded."""
        payload, details = rejection.payload, dict(rejection.details)
        if len(payload) > self.max_payload_bytes:
            details |= {"original_size": len(payload), "truncated": True}
            payload = payload[: self.max_payload_bytes]
        reason = rejection.reason.replace("\x00", "\\0")  # text columns cannot hold NUL
        return rejection.source, rejection.source_ref, reason, payload, _storable(details)

    async def add(self, conn: DbConnection, rejections: Sequence[Rejection]) -> None:
        if not rejections:
            return
        await conn.executemany(
            f"INSERT INTO {self.schema}.dead_letters (source, source_ref, reason, payload, details, message_id) "
            "VALUES ($1, $2, $3, $4, $5::jsonb, $6)",
            [(*self.kept(r), r.message_id) for r in rejections],
        )

    async def waiting_ids(self, conn: DbConnection, message_ids: Sequence[str]) -> set[str]:
        """Which of these consumed messages were dead-lettered and still wait for a fix."""
        if not message_ids:
            return set()
        rows = await conn.fetch(
            f"SELECT DISTINCT message_id FROM {self.schema}.dead_letters "
            "WHERE message_id = ANY($1::text[]) AND replayed_at IS NULL",
            list(message_ids),
        )
        return {row["message_id"] for row in rows}

    async def resolve(self, conn: DbConnection, message_id: str, how: str) -> None:
        """A dead-lettered message went through after all (delivered again): no longer waiting."""
        await conn.execute(
            f"UPDATE {self.schema}.dead_letters SET replayed_at = clock_timestamp(), "
            "details = details || jsonb_build_object('resolved', $2::text) "
            "WHERE message_id = $1 AND replayed_at IS NULL",
            message_id,
            how,
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


def _storable(details: dict[str, Any]) -> dict[str, Any]:
    """Details as jsonb can hold them: NUL and lone surrogates in strings replaced."""
    text = json.dumps(details, ensure_ascii=False, default=str)
    if "\\u0000" in text or "\x00" in text:
        text = text.replace("\\u0000", "\\\\0").replace("\x00", "\\\\0")
    cleaned: dict[str, Any] = json.loads(text.encode("utf-8", errors="replace").decode("utf-8"))
    return cleaned


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
