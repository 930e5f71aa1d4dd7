"""Intake's own store of complainants' personal data: the only place names and numbers are kept.

Each row belongs to one district: pseudonyms are district-local (services.intake.domain.complaints.
pseudonym_key), so a caller who complains in two districts has a row, and a pseudonym, in each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from eventcore.database import Write, checked_schema

DDL = """
CREATE TABLE IF NOT EXISTS {s}.complainants (
    complainant_id text PRIMARY KEY,
    caller_name text NOT NULL,
    caller_phone text NOT NULL,
    first_seen_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
ALTER TABLE {s}.complainants ADD COLUMN IF NOT EXISTS district text NOT NULL DEFAULT 'luzhou';
"""


@dataclass(frozen=True)
class Person:
    complainant_id: str
    name: str
    phone: str
    district: str


class PersonalDataStore:
    def __init__(self, schema: str) -> None:
        self.schema = checked_schema(schema)

    def remembering(self, people: Sequence[Person], seen_at: datetime) -> Write | None:
        """Each person upserted; the latest name given for a number wins."""
        by_id = {p.complainant_id: (p.name, p.phone, p.district) for p in people}
        if not by_id:
            return None
        # In key order, so two writers upserting the same callers cannot deadlock.
        latest = dict(sorted(by_id.items()))
        return Write(
            f"INSERT INTO {self.schema}.complainants AS c "
            "(complainant_id, caller_name, caller_phone, first_seen_at, last_seen_at, district) "
            "SELECT i, n, p, $4::timestamptz, $4::timestamptz, d "
            "FROM unnest($1::text[], $2::text[], $3::text[], $5::text[]) AS x(i, n, p, d) "
            "ON CONFLICT (complainant_id) DO UPDATE SET caller_name = EXCLUDED.caller_name, "
            "last_seen_at = EXCLUDED.last_seen_at",
            (
                list(latest),
                [name for name, _, _ in latest.values()],
                [phone for _, phone, _ in latest.values()],
                seen_at,
                [district for _, _, district in latest.values()],
            ),
        )