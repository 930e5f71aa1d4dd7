"""Intake's own read models: every complaint it took (the dedupe claim) and the status of every case.

The `complaints` row is claimed before anything else in the transaction that receives a complaint:
the primary key decides between concurrent receivers (a second claimer waits for the first to commit,
then finds the row), so redelivery makes no second complaint across restarts and replicas. Complaint ids
carry their district's prefix, so the claim is per district; rows written before tenancy are the
founding district's (the column's default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from eventcore.database import DbConnection, Write, checked_schema, execute_together
from schemas.reference import FOUNDING_DISTRICT, Category
from services.intake.domain.merge import MergeKey, OpenCase

DDL = """
CREATE TABLE IF NOT EXISTS {s}.complaints (
    complaint_id text PRIMARY KEY,
    case_id text NOT NULL,
    channel text NOT NULL,
    source_ref text NOT NULL,
    category text NOT NULL,
    received_at timestamptz NOT NULL,
    merged boolean NOT NULL DEFAULT false,
    raw bytea NOT NULL,
    content_hash text,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
ALTER TABLE {s}.complaints ADD COLUMN IF NOT EXISTS content_hash text;
ALTER TABLE {s}.complaints ADD COLUMN IF NOT EXISTS district text NOT NULL DEFAULT 'luzhou';
DROP INDEX IF EXISTS {s}.complaints_by_channel;
CREATE INDEX IF NOT EXISTS complaints_by_district_channel ON {s}.complaints (district, channel, received_at);
CREATE TABLE IF NOT EXISTS {s}.cases (
    case_id text PRIMARY KEY,
    compound_code text,
    category text NOT NULL,
    first_received_at timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'open',
    complainant_count integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
ALTER TABLE {s}.cases ADD COLUMN IF NOT EXISTS district text NOT NULL DEFAULT 'luzhou';
DROP INDEX IF EXISTS {s}.cases_open_by_key;
CREATE INDEX IF NOT EXISTS cases_open_by_district_key
    ON {s}.cases (district, compound_code, category, first_received_at) WHERE status = 'open';
-- Every platform label intake has seen and what it made of it: `caseline categories unmapped`.
CREATE TABLE IF NOT EXISTS {s}.category_labels (
    platform text NOT NULL,
    district text NOT NULL,
    label text NOT NULL,
    source text NOT NULL,
    category text NOT NULL,
    seen integer NOT NULL,
    triaged integer NOT NULL DEFAULT 0,
    first_seen_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_seen_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (platform, district, label, source, category)
);
-- The centre's corrections (CaseRecategorised), learnt from caseline.cases.v1: `caseline categories suggestions`.
CREATE TABLE IF NOT EXISTS {s}.category_corrections (
    case_id text NOT NULL,
    corrected_at timestamptz NOT NULL,
    district text NOT NULL,
    from_category text NOT NULL,
    to_category text NOT NULL,
    platform text,
    platform_label text,
    replaced_source text,
    actor text NOT NULL,
    reason text NOT NULL,
    PRIMARY KEY (case_id, corrected_at)
);
"""


@dataclass(frozen=True)
class Claim:
    complaint_id: str
    case_id: str
    district: str
    channel: str
    source_ref: str
    category: str
    received_at: datetime
    raw: bytes
    content_hash: str


@dataclass(frozen=True)
class NewCase:
    case_id: str
    district: str
    compound_code: str | None
    category: str
    first_received_at: datetime


@dataclass(frozen=True)
class LabelSeen:
    platform: str
    district: str
    label: str
    source: str
    category: str


@dataclass(frozen=True)
class Correction:
    case_id: str
    corrected_at: datetime
    district: str
    from_category: str
    to_category: str
    platform: str | None
    platform_label: str | None
    replaced_source: str | None
    actor: str
    reason: str


@dataclass(frozen=True)
class RequestRow:
    complaint_id: str
    case_id: str
    source_ref: str
    status: str
    updated_at: datetime | None
    recorded_at: datetime
    data: dict[str, Any]


class IntakeStore:
    def __init__(self, schema: str) -> None:
        self.s = checked_schema(schema)

    async def claim(self, conn: DbConnection, claims: Sequence[Claim]) -> set[str]:
        """Claims in key order, so two receivers of overlapping batches cannot deadlock; returns the new ones."""
        ordered = sorted(claims, key=lambda c: c.complaint_id)
        if not ordered:
            return set()
        rows = await conn.fetch(
            f"INSERT INTO {self.s}.complaints "
            "(complaint_id, case_id, channel, source_ref, category, received_at, raw, content_hash, district) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], "
            "$7::bytea[], $8::text[], $9::text[]) ON CONFLICT (complaint_id) DO NOTHING RETURNING complaint_id",
            [c.complaint_id for c in ordered],
            [c.case_id for c in ordered],
            [c.channel for c in ordered],
            [c.source_ref for c in ordered],
            [c.category for c in ordered],
            [c.received_at for c in ordered],
            [c.raw for c in ordered],
            [c.content_hash for c in ordered],
            [c.district for c in ordered],
        )
        return {row["complaint_id"] for row in rows}

    async def received(
        self, conn: DbConnection, complaint_ids: Sequence[str]
    ) -> dict[str, tuple[str, str | None]]:
        """complaint id -> (case id, content hash) for complaints already received."""
        if not complaint_ids:
            return {}
        rows = await conn.fetch(
            f"SELECT complaint_id, case_id, content_hash FROM {self.s}.complaints "
            "WHERE complaint_id = ANY($1::text[])",
            list(complaint_ids),
        )
        return {row["complaint_id"]: (row["case_id"], row["content_hash"]) for row in rows}

    async def lock_merge_keys(self, conn: DbConnection, keys: Sequence[MergeKey]) -> None:
        """Serialise merge decisions per district, compound and category across replicas, in one global order."""
        names = sorted({_lock_name(district, code, category) for district, code, category in keys})
        if names:
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext(k)) FROM (SELECT unnest($1::text[]) AS k ORDER BY 1) AS x",
                names,
            )

    async def open_cases(
        self, conn: DbConnection, windows: Mapping[MergeKey, tuple[datetime, datetime]]
    ) -> list[OpenCase]:
        """The open cases of each key first received within that key's window (earliest, latest).

        Each key is looked up on the whole index (district, compound, category, time): filtering on the
        compound alone over one window for the batch read every open case of weeks, more with each batch.
        The probe per key is a LATERAL subquery behind `OFFSET 0`, as `eventcore.database.row_per_key` writes
        it for key matches (this one also bounds a time window, so it is written out): as a join, the plan
        cached before the table was analysed reads every open case for each look-up."""
        if not windows:
            return []
        keys = sorted(windows)
        rows = await conn.fetch(
            f"SELECT c.* FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[]) "
            "AS k(district, compound_code, category, earliest, latest) "
            f"CROSS JOIN LATERAL (SELECT * FROM {self.s}.cases c WHERE c.district = k.district "
            "AND c.compound_code = k.compound_code AND c.category = k.category "
            "AND c.first_received_at BETWEEN k.earliest AND k.latest AND c.status = 'open' OFFSET 0) c",
            [district for district, _, _ in keys],
            [code for _, code, _ in keys],
            [category.value for _, _, category in keys],
            [windows[key][0] for key in keys],
            [windows[key][1] for key in keys],
        )
        return [
            OpenCase(
                row["case_id"],
                row["district"],
                row["compound_code"],
                Category(row["category"]),
                row["first_received_at"],
                row["complainant_count"],
            )
            for row in rows
        ]

    def opening(self, cases: Sequence[NewCase]) -> Write | None:
        """New cases, open (eventcore.database.execute_together sends it with the transaction's other writes)."""
        if not cases:
            return None
        return Write(
            f"INSERT INTO {self.s}.cases (case_id, district, compound_code, category, first_received_at) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) "
            "ON CONFLICT (case_id) DO NOTHING",
            (
                [c.case_id for c in cases],
                [c.district for c in cases],
                [c.compound_code for c in cases],
                [c.category for c in cases],
                [c.first_received_at for c in cases],
            ),
        )

    async def merge(self, conn: DbConnection, merged: dict[str, str], counts: dict[str, int]) -> None:
        """Merged complaints point at their case; cases take their new complainant counts (one statement:
        each part updates its own table, and neither reads what the other writes).

        Each part repeats its keys as `= ANY`, an index condition: joined only to the unnested keys, the plan
        a connection caches while the tables are new (PostgreSQL keeps it until it analyses them) hashes the
        keys and reads both tables whole on every merge, however large they grew. The fence holds for a plan
        cached on tables of up to ~150 rows, not ~400 (measured): an UPDATE cannot take the LATERAL probe
        the look-ups use (`open_cases`); autovacuum analyses a growing table within a minute, and that
        replaces the plan."""
        if not merged:
            return
        await execute_together(
            conn,
            [
                Write(
                    f"UPDATE {self.s}.complaints c SET case_id = x.case_id, merged = true "
                    "FROM unnest($1::text[], $2::text[]) AS x(complaint_id, case_id) "
                    "WHERE c.complaint_id = x.complaint_id AND c.complaint_id = ANY($1::text[])",
                    (list(merged), list(merged.values())),
                ),
                Write(
                    f"UPDATE {self.s}.cases c SET complainant_count = x.n, updated_at = clock_timestamp() "
                    "FROM unnest($1::text[], $2::int[]) AS x(case_id, n) "
                    "WHERE c.case_id = x.case_id AND c.case_id = ANY($1::text[])",
                    (list(counts), list(counts.values())),
                ),
            ],
        )

    def label_counts(self, seen: Mapping[LabelSeen, tuple[int, int]]) -> Write | None:
        """This transaction's label sightings added, in key order (concurrent feeds cannot deadlock on them)."""
        if not seen:
            return None
        rows = sorted(
            seen.items(),
            key=lambda item: (
                item[0].platform,
                item[0].district,
                item[0].label,
                item[0].source,
                item[0].category,
            ),
        )
        return Write(
            f"INSERT INTO {self.s}.category_labels AS l (platform, district, label, source, category, seen, triaged) "
            "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[]) "
            "ON CONFLICT (platform, district, label, source, category) DO UPDATE SET seen = l.seen + EXCLUDED.seen, "
            "triaged = l.triaged + EXCLUDED.triaged, last_seen_at = clock_timestamp()",
            (
                [k.platform for k, _ in rows],
                [k.district for k, _ in rows],
                [k.label for k, _ in rows],
                [k.source for k, _ in rows],
                [k.category for k, _ in rows],
                [n for _, (n, _) in rows],
                [triaged for _, (_, triaged) in rows],
            ),
        )

    async def recategorise(self, conn: DbConnection, correction: Correction) -> bool:
        """The case (and its complaints) take the corrected category, so merges key on it; the correction
        is kept for the suggestions export. False for a case intake never opened."""
        await conn.execute(
            f"INSERT INTO {self.s}.category_corrections (case_id, corrected_at, district, from_category, "
            "to_category, platform, platform_label, replaced_source, actor, reason) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
            correction.case_id,
            correction.corrected_at,
            correction.district,
            correction.from_category,
            correction.to_category,
            correction.platform,
            correction.platform_label,
            correction.replaced_source,
            correction.actor,
            correction.reason,
        )
        await conn.execute(
            f"UPDATE {self.s}.complaints SET category = $2 WHERE case_id = $1",
            correction.case_id,
            correction.to_category,
        )
        done = await conn.execute(
            f"UPDATE {self.s}.cases SET category = $2, updated_at = clock_timestamp() WHERE case_id = $1",
            correction.case_id,
            correction.to_category,
        )
        return str(done).endswith(" 1")

    async def set_status(self, conn: DbConnection, case_id: str, status: str, at: datetime) -> bool:
        done = await conn.execute(
            f"UPDATE {self.s}.cases SET status = $2, updated_at = $3 WHERE case_id = $1", case_id, status, at
        )
        return str(done).endswith(" 1")

    async def requests(
        self,
        conn: DbConnection,
        *,
        district: str,
        channel: str,
        ids: Sequence[str] | None = None,
        categories: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        statuses: Sequence[str] | None = None,
        limit: int = 1000,
        ref_prefix: str = "",
    ) -> list[RequestRow]:
        """A district's complaints of one channel with their case status, newest first (Open311's requests.json)."""
        rows = await conn.fetch(
            f"SELECT c.complaint_id, c.case_id, c.source_ref, c.recorded_at, k.status, k.updated_at, e.data "
            f"FROM {self.s}.complaints c "
            f"JOIN {self.s}.events e ON e.stream_id = 'complaint-' || c.complaint_id AND e.stream_version = 1 "
            f"LEFT JOIN {self.s}.cases k ON k.case_id = c.case_id "
            "WHERE c.channel = $1 AND ($2::text[] IS NULL OR c.source_ref = ANY($2)) "
            "AND ($3::text[] IS NULL OR c.category = ANY($3)) "
            "AND ($4::timestamptz IS NULL OR c.received_at >= $4) AND ($5::timestamptz IS NULL OR c.received_at <= $5) "
            "AND ($6::text[] IS NULL OR coalesce(k.status, 'open') = ANY($6)) "
            "AND starts_with(c.source_ref, $8) AND c.district = $9 "
            "ORDER BY c.received_at DESC LIMIT $7",
            channel,
            list(ids) if ids is not None else None,
            list(categories) if categories is not None else None,
            start,
            end,
            list(statuses) if statuses is not None else None,
            limit,
            ref_prefix,
            district,
        )
        return [
            RequestRow(
                r["complaint_id"],
                r["case_id"],
                r["source_ref"],
                r["status"] or "open",
                r["updated_at"],
                r["recorded_at"],
                r["data"],
            )
            for r in rows
        ]


def _lock_name(district: str, code: str, category: Category) -> str:
    # The founding district keeps the name it had before tenancy, so replicas of both versions agree.
    scope = "" if district == FOUNDING_DISTRICT else f"{district}/"
    return f"intake.merge:{scope}{code}:{category.value}"


def _columns(pairs: Sequence[tuple[str, str]]) -> tuple[list[str], list[str]]:
    return [a for a, _ in pairs], [b for _, b in pairs]


RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)
