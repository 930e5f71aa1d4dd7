"""Append-only event store on PostgreSQL with optimistic concurrency.

The unique constraint on (stream_id, stream_version) decides concurrent appends: there is no
read-then-write check, so two writers racing for the same version cannot both win.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar
from uuid import UUID, uuid4

import asyncpg

from eventcore.database import DbConnection, checked_schema, shifted
from schemas.base import DomainEvent, EventMetadata


class ConcurrencyError(Exception):
    """Another writer appended to the stream first; reload it and decide again."""

    def __init__(self, stream_id: str, expected_version: int | None, detail: str = "") -> None:
        self.stream_id = stream_id
        self.expected_version = expected_version
        where = f"at expected version {expected_version}" if expected_version is not None else ""
        super().__init__(f"concurrent append to stream {stream_id!r} {where}: {detail}".strip())


class DuplicateEventError(ValueError):
    """An event id was appended twice; event ids are unique across the store."""


@dataclass(frozen=True)
class PendingEvent:
    """An event about to be appended."""

    event: DomainEvent
    metadata: EventMetadata
    event_id: UUID = field(default_factory=uuid4)

    @cached_property
    def data_json(self) -> str:
        """Serialised once: the same JSON goes into the event store and the outbox."""
        return self.event.model_dump_json()


@dataclass(frozen=True)
class StreamAppend:
    """Events for one stream, expected to follow `expected_version` (0 for a new stream)."""

    stream_id: str
    expected_version: int
    events: Sequence[PendingEvent]


@dataclass(frozen=True)
class RecordedEvent:
    global_position: int
    stream_id: str
    stream_version: int
    event_id: UUID
    event_type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime
    subject: str = ""


_INSERT_COLUMNS = "(stream_id, stream_version, event_id, event_type, schema_version, data, metadata, subject)"
_ON_STREAM_START = "ON CONFLICT ON CONSTRAINT events_stream_version_unique DO NOTHING RETURNING stream_id"
_UNNEST = (
    "SELECT s, v, i, t, sv, d::jsonb, m::jsonb, sj FROM unnest($1::text[], $2::int[], $3::uuid[], "
    "$4::text[], $5::int[], $6::text[], $7::text[], $8::text[]) AS x(s, v, i, t, sv, d, m, sj)"
)


def _rows(appends: Sequence[StreamAppend]) -> list[list[Any]]:
    columns: list[list[Any]] = [[], [], [], [], [], [], [], []]
    for append in appends:
        for offset, pending in enumerate(append.events, start=1):
            columns[0].append(append.stream_id)
            columns[1].append(append.expected_version + offset)
            columns[2].append(pending.event_id)
            columns[3].append(pending.event.event_type)
            columns[4].append(pending.event.schema_version)
            columns[5].append(pending.data_json)
            columns[6].append(pending.metadata.model_dump_json())
            columns[7].append(pending.event.subject)
    return columns


def _conflicting_stream(error: asyncpg.UniqueViolationError, appends: Sequence[StreamAppend]) -> StreamAppend:
    detail = str(getattr(error, "detail", "") or "")
    for append in appends:
        if f"({append.stream_id}," in detail:
            return append
    return appends[0]


T = TypeVar("T")
_STREAM_PREFIX = re.compile(r"[a-z0-9-]+")
Decode = Callable[[str, int, str], T]  # (event_type, schema_version, data as JSON text) -> an event


class EventStore:
    """One service's event store: the tables live in that service's own schema."""

    def __init__(self, schema: str) -> None:
        self.schema = checked_schema(schema)

    async def append(
        self, conn: DbConnection, stream_id: str, expected_version: int, events: Sequence[PendingEvent]
    ) -> int:
        """Append to one stream; returns the stream's new version."""
        await self.append_many(conn, [StreamAppend(stream_id, expected_version, events)])
        return expected_version + len(events)

    async def append_many(self, conn: DbConnection, appends: Sequence[StreamAppend]) -> None:
        """Append to several streams in one statement; any conflict fails the whole statement."""
        await self.write(conn, (), appends)

    async def create_streams(self, conn: DbConnection, appends: Sequence[StreamAppend]) -> set[str]:
        """Start new streams, skipping those that already exist; returns the ids actually created.

        Creation is decided by the stream's first event (ON CONFLICT on the version constraint), so
        concurrent creators of one stream wait for each other and exactly one succeeds.
        """
        return await self.write(conn, appends, ())

    async def write(
        self, conn: DbConnection, starts: Sequence[StreamAppend], appends: Sequence[StreamAppend]
    ) -> set[str]:
        """Start streams (create_streams) and append to others (append_many) in one statement, one round
        trip; returns the ids of the streams started. A conflict of an append fails the whole statement.

        No savepoint around it (two more round trips a batch): a conflict aborts the caller's transaction,
        and every caller rolls back and retries whole. Each started stream's first event is inserted, and
        given its position, before the rest of that stream (the rest is inserted only for streams the first
        created), so every stream's events are in order by position.
        """
        if any(a.expected_version != 0 for a in starts):
            raise ValueError("only new streams (expected_version 0) can be started")
        if {a.stream_id for a in starts} & {a.stream_id for a in appends}:
            # Appends to a stream started here must follow its start: the parts of one statement run in
            # no promised order, so they go after it.
            return await self.write(conn, starts, ()) | await self.write(conn, (), appends)
        firsts = [StreamAppend(a.stream_id, 0, a.events[:1]) for a in starts if a.events]
        rests = [StreamAppend(a.stream_id, 1, a.events[1:]) for a in starts if len(a.events) > 1]
        appends = [a for a in appends if a.events]
        parts, args = [], []
        if firsts:
            parts.append(f"created AS ({self._insert(0)} {_ON_STREAM_START})")
            args += _rows(firsts)
        if rests:
            parts.append(f"rest AS ({self._insert(len(args))} WHERE x.s IN (SELECT stream_id FROM created))")
            args += _rows(rests)
        if appends:
            parts.append(f"appended AS ({self._insert(len(args))})")
            args += _rows(appends)
        if not parts:
            return set()
        started = "SELECT stream_id FROM created" if firsts else "SELECT NULL::text AS stream_id WHERE false"
        try:
            rows = await conn.fetch(f"WITH {', '.join(parts)} {started}", *args)
        except asyncpg.UniqueViolationError as error:
            if getattr(error, "constraint_name", None) == "events_event_id_unique":
                raise DuplicateEventError(f"event already stored: {getattr(error, 'detail', error)}") from error
            conflict = _conflicting_stream(error, [*appends, *rests])
            raise ConcurrencyError(conflict.stream_id, conflict.expected_version, str(error)) from error
        return {row["stream_id"] for row in rows}

    def _insert(self, after: int) -> str:
        """The events insert of one part, its placeholders numbered after the parts before it."""
        return f"INSERT INTO {self.schema}.events {_INSERT_COLUMNS} {shifted(_UNNEST, after)}"

    async def read_stream(self, conn: DbConnection, stream_id: str) -> list[RecordedEvent]:
        rows = await conn.fetch(
            f"SELECT * FROM {self.schema}.events WHERE stream_id = $1 ORDER BY stream_version", stream_id
        )
        return [_recorded(row) for row in rows]

    async def read_streams(self, conn: DbConnection, stream_ids: Sequence[str]) -> list[RecordedEvent]:
        """Several streams' events in one query, each stream's in order."""
        rows = await conn.fetch(
            f"SELECT * FROM {self.schema}.events WHERE stream_id = ANY($1::text[]) "
            "ORDER BY stream_id, stream_version",
            list(dict.fromkeys(stream_ids)),
        )
        return [_recorded(row) for row in rows]

    async def stream_version(self, conn: DbConnection, stream_id: str) -> int:
        version = await conn.fetchval(
            f"SELECT max(stream_version) FROM {self.schema}.events WHERE stream_id = $1", stream_id
        )
        return int(version or 0)

    async def read_all(
        self, conn: DbConnection, after_position: int = 0, limit: int = 1000
    ) -> list[RecordedEvent]:
        """Everything in global order (for replays; live readers take messages from the outbox relay)."""
        rows = await conn.fetch(
            f"SELECT * FROM {self.schema}.events WHERE global_position > $1 ORDER BY global_position LIMIT $2",
            after_position,
            limit,
        )
        return [_recorded(row) for row in rows]

    async def each_stream(
        self, conn: DbConnection, prefix: str, decode: Decode[T], page: int = 10_000
    ) -> AsyncIterator[tuple[str, list[T]]]:
        """Every stream whose id starts with `prefix`, in id order, with its events in stream order, each
        decoded once by `decode(event_type, schema_version, data as JSON text)`: what a replay folds.

        A cursor, so inside the caller's transaction; it reads pages of `page` rows and only the columns a
        fold needs, so memory holds one page and one stream, whatever the store's size.
        """
        if not _STREAM_PREFIX.fullmatch(prefix):
            raise ValueError(f"stream prefix {prefix!r}: lower-case letters, digits and '-' only")
        current: str | None = None
        events: list[T] = []
        # The prefix as a literal, not a parameter: PostgreSQL plans `LIKE 'case-%'` as a range of the key.
        async for row in conn.cursor(
            f"SELECT stream_id, event_type, schema_version, data::text AS data FROM {self.schema}.events "
            f"WHERE stream_id LIKE '{prefix}%' ORDER BY stream_id, stream_version",
            prefetch=page,
        ):
            if row["stream_id"] != current:
                if current is not None:
                    yield current, events
                current, events = row["stream_id"], []
            events.append(decode(row["event_type"], row["schema_version"], row["data"]))
        if current is not None:
            yield current, events

    async def read_subjects(self, conn: DbConnection, subjects: Sequence[str]) -> list[RecordedEvent]:
        """Every stream's events about these subjects, in store order."""
        rows = await conn.fetch(
            f"SELECT * FROM {self.schema}.events WHERE subject = ANY($1::text[]) ORDER BY global_position",
            list(dict.fromkeys(subjects)),
        )
        return [_recorded(row) for row in rows]

    async def read_subjects_after(
        self, conn: DbConnection, subjects: Sequence[str], versions: Mapping[str, int]
    ) -> list[RecordedEvent]:
        """The events about these subjects that follow `versions` (stream → the version a reader holds; a
        stream not named is read from its start), in store order: what a reader holding the rest lacks."""
        rows = await conn.fetch(
            f"SELECT e.* FROM {self.schema}.events e "
            "LEFT JOIN unnest($2::text[], $3::int[]) AS held(stream_id, version) "
            "ON held.stream_id = e.stream_id "
            "WHERE e.subject = ANY($1::text[]) AND e.stream_version > coalesce(held.version, 0) "
            "ORDER BY e.global_position",
            list(dict.fromkeys(subjects)),
            list(versions),
            list(versions.values()),
        )
        return [_recorded(row) for row in rows]

    async def read_subject(self, conn: DbConnection, subject: str) -> list[RecordedEvent]:
        return await self.read_subjects(conn, [subject])


def _recorded(row: asyncpg.Record) -> RecordedEvent:
    data = row["data"]
    metadata = row["metadata"]
    return RecordedEvent(
        global_position=row["global_position"],
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        schema_version=row["schema_version"],
        data=data if isinstance(data, dict) else json.loads(data),
        metadata=metadata if isinstance(metadata, dict) else json.loads(metadata),
        recorded_at=row["recorded_at"],
        subject=row["subject"],
    )
