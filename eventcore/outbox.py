"""Transactional outbox: messages are written in the same transaction as the events that produce them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from eventcore.cloudevents import headers_for
from eventcore.database import DbConnection, Write, checked_schema, execute_together
from eventcore.store import PendingEvent


@dataclass(frozen=True)
class OutboxMessage:
    message_id: str
    topic: str
    key: str
    headers: dict[str, str]
    payload: str

    @classmethod
    def for_event(cls, pending: PendingEvent, *, topic: str, source: str) -> OutboxMessage:
        """The CloudEvent for a domain event, keyed by subject so one case's messages stay in order."""
        return cls(
            message_id=str(pending.event_id),
            topic=topic,
            key=pending.event.subject,
            headers=headers_for(
                event_id=pending.event_id, event=pending.event, metadata=pending.metadata, source=source
            ),
            payload=pending.data_json,
        )


def notify_channel(schema: str) -> str:
    return f"{checked_schema(schema)}_outbox"


# The payload that tells a schema's relay that rows it had published are unpublished again (an audit's
# repair): it reads from the start again, not only past what it published.
REWIND = "rewind"


class Outbox:
    def __init__(self, schema: str) -> None:
        self.schema = checked_schema(schema)

    async def add(self, conn: DbConnection, messages: Sequence[OutboxMessage]) -> int:
        """Returns how many were added; the relay is woken after the commit (UnitOfWork.notify_after_commit)."""
        await execute_together(conn, [self.adding(messages)])
        return len(messages)

    def adding(self, messages: Sequence[OutboxMessage]) -> Write | None:
        """The insert of these messages, to send with other writes (UnitOfWork.flush); None: there are none."""
        if not messages:
            return None
        return Write(
            f"INSERT INTO {self.schema}.outbox (message_id, topic, message_key, headers, payload) "
            "SELECT i, t, k, h::jsonb, p FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) "
            "AS x(i, t, k, h, p)",
            (
                [m.message_id for m in messages],
                [m.topic for m in messages],
                [m.key for m in messages],
                [json.dumps(m.headers) for m in messages],
                [m.payload for m in messages],
            ),
        )

    async def pending_count(self, conn: DbConnection) -> int:
        return int(
            await conn.fetchval(f"SELECT count(*) FROM {self.schema}.outbox WHERE published_at IS NULL")
        )
