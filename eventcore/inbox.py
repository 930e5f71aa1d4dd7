"""Inbox: the ids of processed messages, recorded in the same transaction as the consumer's own appends.

Keyed by the message's source and id: ids are chosen by the sender, so another sender reusing an id (a forged
message) cannot make the real one look like a duplicate.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventcore.database import DbConnection, checked_schema, origin_of


class Inbox:
    def __init__(self, schema: str) -> None:
        self.schema = checked_schema(schema)

    async def claim(
        self, conn: DbConnection, topic: str, message_ids: Sequence[str], *, source: str | None = None
    ) -> set[str]:
        """Record the ids of one source; returns those not seen before. A concurrent claimer of the same id
        waits for us. `source` defaults to the topic's owner (schemas.topics), else `kafka:<topic>`."""
        if not message_ids:
            return set()
        rows = await conn.fetch(
            f"INSERT INTO {self.schema}.inbox (source, message_id, topic) SELECT $3, unnest($1::text[]), $2 "
            "ON CONFLICT (source, message_id) DO NOTHING RETURNING message_id",
            list(dict.fromkeys(message_ids)),
            topic,
            source or origin_of(topic),
        )
        return {row["message_id"] for row in rows}

    async def release(self, conn: DbConnection, message_ids: Sequence[str], *, source: str) -> None:
        """Forget one source's ids again, inside a transaction that handles them anew (a dead letter's retry)."""
        await conn.execute(
            f"DELETE FROM {self.schema}.inbox WHERE source = $2 AND message_id = ANY($1::text[])",
            list(message_ids),
            source,
        )

    async def count(self, conn: DbConnection) -> int:
        return int(await conn.fetchval(f"SELECT count(*) FROM {self.schema}.inbox"))
