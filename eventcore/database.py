"""Connection pools and the tables every service's schema holds."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from schemas.topics import TOPIC_SOURCES

# What handlers receive: a plain connection or one borrowed from a pool; both run the same queries.
DbConnection = asyncpg.Connection | PoolConnectionProxy

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

CORE_TABLES = """
CREATE TABLE IF NOT EXISTS {s}.events (
    global_position bigserial PRIMARY KEY,
    stream_id text NOT NULL,
    stream_version integer NOT NULL CHECK (stream_version > 0),
    event_id uuid NOT NULL,
    event_type text NOT NULL,
    schema_version integer NOT NULL,
    data jsonb NOT NULL,
    metadata jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT events_stream_version_unique UNIQUE (stream_id, stream_version),
    CONSTRAINT events_event_id_unique UNIQUE (event_id)
);
-- What each event is about (a case): indexed, so a service reads one subject's facts across its streams.
ALTER TABLE {s}.events ADD COLUMN IF NOT EXISTS subject text;
UPDATE {s}.events SET subject = data->>'case_id' WHERE subject IS NULL;
ALTER TABLE {s}.events ALTER COLUMN subject SET NOT NULL;
CREATE INDEX IF NOT EXISTS events_subject ON {s}.events (subject);
DROP INDEX IF EXISTS {s}.events_case_id;
CREATE TABLE IF NOT EXISTS {s}.outbox (
    position bigserial PRIMARY KEY,
    message_id uuid NOT NULL,
    topic text NOT NULL,
    message_key text NOT NULL,
    headers jsonb NOT NULL,
    payload text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    published_at timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON {s}.outbox (position) WHERE published_at IS NULL;
CREATE TABLE IF NOT EXISTS {s}.relay_progress (
    topic text NOT NULL,
    partition integer NOT NULL,
    last_offset bigint NOT NULL,
    last_message_id text NOT NULL,
    PRIMARY KEY (topic, partition)
);
CREATE TABLE IF NOT EXISTS {s}.inbox (
    message_id text PRIMARY KEY,
    topic text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
ALTER TABLE {s}.inbox ADD COLUMN IF NOT EXISTS source text;
UPDATE {s}.inbox SET source = {origin} WHERE source IS NULL;
ALTER TABLE {s}.inbox ALTER COLUMN source SET NOT NULL;
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'inbox_pkey'
               AND conrelid = '{s}.inbox'::regclass AND array_length(conkey, 1) = 1) THEN
        ALTER TABLE {s}.inbox DROP CONSTRAINT inbox_pkey;
        ALTER TABLE {s}.inbox ADD CONSTRAINT inbox_pkey PRIMARY KEY (source, message_id);
    END IF;
END $$;
CREATE TABLE IF NOT EXISTS {s}.dead_letters (
    id bigserial PRIMARY KEY,
    source text NOT NULL,
    source_ref text,
    reason text NOT NULL,
    payload bytea NOT NULL,
    details jsonb NOT NULL DEFAULT '{{}}',
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    replayed_at timestamptz
);
ALTER TABLE {s}.dead_letters ADD COLUMN IF NOT EXISTS message_id text;
CREATE INDEX IF NOT EXISTS dead_letters_waiting_message ON {s}.dead_letters (message_id)
    WHERE replayed_at IS NULL AND message_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS {s}.failed_attempts (
    message_id text PRIMARY KEY,
    topic text NOT NULL,
    attempts integer NOT NULL,
    last_error text NOT NULL,
    first_failed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_failed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE IF NOT EXISTS {s}.consumer_anchors (
    topic text NOT NULL,
    partition integer NOT NULL,
    last_offset bigint NOT NULL,
    record_id text NOT NULL,
    PRIMARY KEY (topic, partition)
);
"""


def origin_of(topic: str) -> str:
    """The source a topic's messages come from: its owner's ce_source, else the raw topic itself."""
    return TOPIC_SOURCES.get(topic, f"kafka:{topic}")


def _origin_sql() -> str:
    """SQL naming each inbox row's source from its topic: rows from before the inbox knew sources."""
    cases = " ".join(f"WHEN '{topic}' THEN '{source}'" for topic, source in sorted(TOPIC_SOURCES.items()))
    return f"CASE topic {cases} ELSE 'kafka:' || topic END"


def checked_schema(schema: str) -> str:
    """Schema names are interpolated into SQL, so only plain identifiers are allowed."""
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}: use lower-case letters, digits and underscores")
    return schema


def row_per_key(table: str, alias: str, **keys: str) -> str:
    """A FROM item: `table`'s row (as `alias`) for each key, the keys given as one array per key column
    (`case_id="$1::text[]"`), each row found by its own probe of the index on those columns. `OFFSET 0` keeps
    the planner from flattening the LATERAL subquery into a join: as a join, the plan a connection caches
    while the table is new and small (PostgreSQL keeps it until it analyses the table) hashes the keys and
    reads the whole table on every use, however large it grew."""
    matched = " AND ".join(f"{alias}.{column} = k.{column}" for column in keys)
    return (
        f"unnest({', '.join(keys.values())}) AS k({', '.join(keys)}) CROSS JOIN LATERAL "
        f"(SELECT * FROM {table} {alias} WHERE {matched} OFFSET 0) {alias}"
    )


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def copy_rows(
    conn: DbConnection, schema: str, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> int:
    """Rows into a table in one COPY, no conflict looked for: a rebuild's, into a table it emptied in its
    own transaction. Returns how many."""
    if rows:
        await conn.copy_records_to_table(
            table, schema_name=checked_schema(schema), columns=list(columns), records=rows
        )
    return len(rows)


@dataclass(frozen=True)
class Write:
    """One data-modifying statement without RETURNING (an INSERT, an upsert, an UPDATE) and its arguments."""

    sql: str
    args: tuple[Any, ...]


_PLACEHOLDER = re.compile(r"\$(\d+)")


def shifted(sql: str, by: int) -> str:
    """The statement with its placeholders $1, $2, ... renumbered $(1+by), $(2+by), ...: a part of a
    statement whose arguments follow `by` others."""
    return _PLACEHOLDER.sub(lambda placeholder: f"${int(placeholder[1]) + by}", sql)


async def execute_together(conn: DbConnection, writes: Sequence[Write | None]) -> None:
    """Independent writes in one statement, as data-modifying CTEs: one round trip instead of one each.

    Every part sees the statement's one snapshot, not what the others write, so the parts must touch
    different tables (or rows none of the others reads or writes). None: nothing to write for that part.
    """
    parts = [write for write in writes if write is not None]
    if len(parts) <= 1:
        for write in parts:
            await conn.execute(write.sql, *write.args)
        return
    ctes: list[str] = []
    args: list[Any] = []
    for n, write in enumerate(parts):
        ctes.append(f"w{n} AS ({shifted(write.sql, len(args))})")
        args.extend(write.args)
    await conn.execute(f"WITH {', '.join(ctes)} SELECT 1", *args)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A pooled connection released: asyncpg has already rolled back a transaction left open (a task
    cancelled in one) and dropped its listener callbacks. Its default reset would also send
    `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` to the server, one more round trip per
    transaction; nothing that clears outlives a transaction on a pooled connection here (its advisory
    locks are all `pg_advisory_xact_lock`, cursors close at commit, nothing runs SET, and whatever holds
    a session lock or LISTENs has a connection of its own: the relay, the SLA watch, live updates).
    tests/test_event_store.py checks that a released connection keeps no transaction and sends no reset."""


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 8) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=_keep_session
    )
    assert pool is not None
    return pool


async def migrate(pool: asyncpg.Pool, schema: str, extra_ddl: Sequence[str] = ()) -> None:
    """Create the service's schema and tables, once per version of the DDL.

    A schema already at this version is left alone: even `CREATE INDEX IF NOT EXISTS` takes a table lock
    that waits for running writers, so a replica starting beside busy ones could deadlock with them.
    An advisory lock keeps concurrent first starts from racing.
    """
    s = checked_schema(schema)
    version = _ddl_version(s, extra_ddl)
    async with pool.acquire() as conn:
        if await _is_current(conn, s, version):
            return
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('caseline.migrate'))")
            if await _is_current(conn, s, version):
                return
            await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")
            await conn.execute(CORE_TABLES.format(s=s, origin=_origin_sql()))
            for ddl in extra_ddl:
                await conn.execute(ddl.format(s=s))
            await conn.execute(
                f"CREATE TABLE IF NOT EXISTS {s}.schema_versions "
                "(version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT clock_timestamp())"
            )
            await conn.execute(
                f"INSERT INTO {s}.schema_versions (version) VALUES ($1) ON CONFLICT DO NOTHING", version
            )


def _ddl_version(schema: str, extra_ddl: Sequence[str]) -> str:
    text = "\n".join([CORE_TABLES.format(s=schema, origin=_origin_sql()), *(d.format(s=schema) for d in extra_ddl)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


async def _is_current(conn: DbConnection, schema: str, version: str) -> bool:
    # to_regclass, not a failing SELECT: inside a transaction an error would abort it.
    if await conn.fetchval("SELECT to_regclass($1)", f"{schema}.schema_versions") is None:
        return False
    found = await conn.fetchval(f"SELECT 1 FROM {schema}.schema_versions WHERE version = $1", version)
    return found is not None


async def connect(dsn: str) -> asyncpg.Connection:
    """A single connection with the same codecs as the pools."""
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn
