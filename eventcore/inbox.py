"""Inbox: the ids of processed messages, recorded in the same transaction as the consumer's own appends."""

from __future__ import annotations

from collections.abc import Sequence

from eventcore.database import DbConnection, checked_schema


class Inbox:
    def __init__(self, schema: str) -> None:
        self.schema = checked_schema(schema)

    async def claim(self, conn: DbConnection, topic: str, message_ids: Sequence[str]) -> set[str]:
        """Record the ids; returns those not seen before. A concurrent claimer of the same id waits for us."""
        if not message_ids:
            return set()
        rows = await conn.fetch(
            f"INSERT INTO {self.schema}.inbox (message_id, topic) SELECT unnest($1::text[]), $2 "
            "ON CONFLICT (message_id) DO NOTHING RETURNING message_id",
            list(dict.fromkeys(message_ids)),
            topic,
        )
        return {row["message_id"] for row in rows}

    async def release(self, conn: DbConnection, message_ids: Sequence[str]) -> None:
        """Forget the ids again, inside a transaction that handles them anew (a dead letter's retry)."""
        await conn.execute(
            f"DELETE FROM {self.schema}.inbox WHERE message_id = ANY($1::text[])", list(message_ids)
        )

    async def count(self, conn: DbConnection) -> int:
        return int(await conn.fetchval(f"SELECT count(*) FROM {self.schema}.inbox"))
