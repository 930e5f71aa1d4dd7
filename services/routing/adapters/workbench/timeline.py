"""What the other services published about routing's cases, kept by routing for the case page.

Routing consumes the complaints, joint-meeting and SLA topics anyway; the workbench records each fact of
them that names a case (`case_timeline`, in routing's own schema, in the consumer's transaction, deduplicated
by event id) so the case page shows the whole history — intake's complaint, the joint meeting's meetings,
tasks and reports, the SLA clocks — without reading another service's schema or calling it. A fact of a
joint-meeting file shows on every case of the file (`file_id`). Facts published before this table existed
are not in it; `caseline case show` reads every store.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventcore.consumer import Handler, InboundMessage
from eventcore.database import DbConnection, checked_schema
from eventcore.unit_of_work import UnitOfWork
from services.routing.adapters.workbench.changes import Announcement

TIMELINE_DDL = """
CREATE TABLE IF NOT EXISTS {s}.case_timeline (
    event_id text PRIMARY KEY,
    case_id text NOT NULL,
    file_id text,
    service text NOT NULL,
    event_type text NOT NULL,
    occurred_at timestamptz NOT NULL,
    actor text,
    causation_id text,
    data json NOT NULL  -- kept as published and only ever read whole: json, not jsonb (no conversion cost)
);
CREATE INDEX IF NOT EXISTS case_timeline_case ON {s}.case_timeline (case_id);
CREATE INDEX IF NOT EXISTS case_timeline_file ON {s}.case_timeline (file_id) WHERE file_id IS NOT NULL;
"""


@dataclass(frozen=True)
class TimelineEntry:
    event_id: str
    case_id: str
    file_id: str | None
    service: str
    event_type: str
    occurred_at: datetime
    actor: str | None
    causation_id: str | None
    data: dict[str, Any]


@dataclass(frozen=True)
class Timeline:
    schema: str

    def recording(self, handler: Handler) -> Handler:
        """`handler`, with every consumed fact recorded for the case page first."""

        async def handle(uow: UnitOfWork, message: InboundMessage) -> None:
            if message.event is not None:
                uow.add_rows(self.write, [_row(message)])
            await handler(uow, message)

        return handle

    async def write(self, conn: DbConnection, rows: Sequence[tuple[Any, ...]]) -> None:
        """The facts recorded, and the cases they are about announced (every case of a joint-meeting file
        a fact names), in one statement: the announcement reads no row the insert writes (a fact's own case
        is named, the file's other cases were recorded by earlier facts)."""
        s = checked_schema(self.schema)
        columns = [list(column) for column in zip(*rows, strict=True)]
        insert = (
            f"INSERT INTO {s}.case_timeline "
            "(event_id, case_id, file_id, service, event_type, occurred_at, actor, causation_id, data) "
            "SELECT i, c, f, sv, t, o, a, ca, d::json FROM unnest($1::text[], $2::text[], $3::text[], "
            "$4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::text[], $9::text[]) "
            "AS x(i, c, f, sv, t, o, a, ca, d) ON CONFLICT (event_id) DO NOTHING"
        )
        # Intake's facts always come with routing's own events on the case, which the projector announces.
        others = [row for row in rows if row[3] != "intake"]
        files = sorted({row[2] for row in others if row[2]})
        announcement = Announcement.of(self.schema, sorted({row[1] for row in others}), files=files)
        if announcement is None:
            await conn.execute(insert, *columns)
            return
        announcement = announcement.after(len(columns))
        await conn.execute(
            f"WITH recorded AS ({insert}) {announcement.sql}",
            *columns,
            *announcement.args,
        )

    async def of_case(self, conn: DbConnection, case_id: str) -> list[TimelineEntry]:
        """The case's own facts and those of every joint-meeting file it is in, oldest first."""
        s = checked_schema(self.schema)
        records = await conn.fetch(
            f"SELECT * FROM {s}.case_timeline WHERE case_id = $1 OR file_id IN "
            f"(SELECT file_id FROM {s}.case_timeline WHERE case_id = $1 AND file_id IS NOT NULL) "
            "ORDER BY occurred_at, event_id LIMIT 2000",
            case_id,
        )
        return [
            TimelineEntry(
                event_id=r["event_id"],
                case_id=r["case_id"],
                file_id=r["file_id"],
                service=r["service"],
                event_type=r["event_type"],
                occurred_at=r["occurred_at"],
                actor=r["actor"],
                causation_id=r["causation_id"],
                data=r["data"] if isinstance(r["data"], dict) else json.loads(r["data"]),
            )
            for r in records
        ]


def _row(message: InboundMessage) -> tuple[Any, ...]:
    event = message.event
    assert event is not None
    ce = message.cloudevent
    return (
        ce.id,
        event.case_id,
        getattr(event, "file_id", None),
        ce.source.rstrip("/").rsplit("/", 1)[-1] or ce.source,
        event.event_type,
        _time(ce.time),
        ce.extensions.get("actor"),
        ce.extensions.get("causationid"),
        ce.data.decode("utf-8"),  # the fact as published (it was validated as its contract): no re-encoding
    )


def _time(text: str | None) -> datetime:
    if text:
        try:
            moment = datetime.fromisoformat(text)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        except ValueError:
            pass
    return datetime.now(UTC)
