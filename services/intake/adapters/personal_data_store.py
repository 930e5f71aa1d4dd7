"""Intake's own store of complainants' personal data: the only place names and numbers are kept."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from eventcore.database import DbConnection, checked_schema

DDL = """
CREATE TABLE IF NOT EXISTS {s}.complainants (
    complainant_id text PRIMARY KEY,
    caller_name text NOT NULL,
    caller_phone text NOT NULL,
    first_seen_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
"""


class PersonalDataStore:
    def __init__(self, schema: str) -> None:
        self.schema = checked_schema(schema)

    async def remember(
        self, conn: DbConnection, people: Sequence[tuple[str, str, str]], seen_at: datetime
    ) -> None:
        """Upsert (complainant_id, name, phone); the latest name given for a number wins."""
        by_id = {pid: (name, phone) for pid, name, phone in people}
        if not by_id:
            return
        # In key order, so two writers upserting the same callers cannot deadlock.
        latest = dict(sorted(by_id.items()))
        await conn.execute(
            f"INSERT INTO {self.schema}.complainants AS c "
            "(complainant_id, caller_name, caller_phone, first_seen_at, last_seen_at) "
            "SELECT i, n, p, $4, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS x(i, n, p) "
            "ON CONFLICT (complainant_id) DO UPDATE SET caller_name = EXCLUDED.caller_name, "
            "last_seen_at = EXCLUDED.last_seen_at",
            list(latest),
            [name for name, _ in latest.values()],
            [phone for _, phone in latest.values()],
            seen_at,
        )
