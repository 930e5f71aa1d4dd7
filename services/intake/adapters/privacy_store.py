"""Retention, erasure and access records for the personal data intake keeps (docs/privacy.md).

- **Purge** (`caseline privacy purge`): a complainant whose every case closed more than the retention period ago
  loses name and number (the `complainants` row) and the raw bytes of their complaints; dead letters older
  than the period lose their payload. The events keep what they always had: a pseudonym, a masked number.
- **Erase** (`caseline privacy erase --phone …`): the same for one person at once, whatever the state of their
  cases; their pseudonym is recorded as erased, so a later complaint from the same number gets a new pseudonym
  (`generation` + 1) that nothing links to the erased history.
- **Access log**: every read of a full number (the callback endpoint) is recorded with who, when, which case
  and why; `caseline privacy access-log` prints it. Purges and erasures are recorded too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from eventcore.database import DbConnection, checked_schema

DDL = """
CREATE TABLE IF NOT EXISTS {s}.erased_pseudonyms (
    complainant_id text PRIMARY KEY,
    generation integer NOT NULL,
    erased_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE IF NOT EXISTS {s}.contact_access_log (
    id bigserial PRIMARY KEY,
    accessed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    principal text NOT NULL,
    staff_id text,
    district text NOT NULL,
    case_id text NOT NULL,
    complainant_id text NOT NULL,
    purpose text NOT NULL,
    client text
);
CREATE INDEX IF NOT EXISTS contact_access_log_case ON {s}.contact_access_log (case_id, accessed_at);
CREATE TABLE IF NOT EXISTS {s}.privacy_actions (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    action text NOT NULL,
    details jsonb NOT NULL DEFAULT '{{}}'
);
ALTER TABLE {s}.complaints ADD COLUMN IF NOT EXISTS purged_at timestamptz;
"""

# The complainant of each complaint, from its first event (ComplaintReceived or ComplaintMerged).
_COMPLAINANT_OF = (
    "SELECT c.complaint_id, c.case_id, c.district, c.channel, c.received_at, "
    "e.data->>'complainant_id' AS complainant_id FROM {s}.complaints c "
    "JOIN {s}.events e ON e.stream_id = 'complaint-' || c.complaint_id AND e.stream_version = 1"
)


@dataclass(frozen=True)
class Contact:
    complainant_id: str
    complaint_id: str
    channel: str
    received_at: datetime
    name: str
    phone: str


@dataclass(frozen=True)
class Removed:
    people: int
    raw_records: int
    dead_letters: int

    def as_dict(self) -> dict[str, int]:
        return {"people": self.people, "raw_records": self.raw_records, "dead_letters": self.dead_letters}


class PrivacyStore:
    def __init__(self, schema: str) -> None:
        self.s = checked_schema(schema)

    # -- pseudonyms after an erasure ---------------------------------------------------------------------

    async def erased_generations(self, conn: DbConnection, ids: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        rows = await conn.fetch(
            f"SELECT complainant_id, generation FROM {self.s}.erased_pseudonyms "
            "WHERE complainant_id = ANY($1::text[])",
            wanted,
        )
        return {row["complainant_id"]: row["generation"] for row in rows}

    # -- the callback staff's read ---------------------------------------------------------------------

    async def contacts_of_case(self, conn: DbConnection, case_id: str, district: str) -> list[Contact]:
        rows = await conn.fetch(
            f"SELECT x.*, p.caller_name, p.caller_phone FROM ({_COMPLAINANT_OF.format(s=self.s)}) x "
            f"JOIN {self.s}.complainants p ON p.complainant_id = x.complainant_id "
            "WHERE x.case_id = $1 AND x.district = $2 ORDER BY x.received_at, x.complaint_id",
            case_id,
            district,
        )
        return [
            Contact(
                r["complainant_id"], r["complaint_id"], r["channel"], r["received_at"], r["caller_name"],
                r["caller_phone"],
            )
            for r in rows
        ]

    async def case_in_district(self, conn: DbConnection, case_id: str, district: str) -> bool:
        found = await conn.fetchval(
            f"SELECT 1 FROM {self.s}.complaints WHERE case_id = $1 AND district = $2 LIMIT 1", case_id, district
        )
        return found is not None

    async def log_access(
        self,
        conn: DbConnection,
        *,
        principal: str,
        staff_id: str | None,
        district: str,
        case_id: str,
        complainant_ids: Sequence[str],
        purpose: str,
        client: str | None,
    ) -> None:
        await conn.executemany(
            f"INSERT INTO {self.s}.contact_access_log "
            "(principal, staff_id, district, case_id, complainant_id, purpose, client) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [(principal, staff_id, district, case_id, cid, purpose, client) for cid in complainant_ids],
        )

    async def access_log(
        self, conn: DbConnection, *, case_id: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        rows = await conn.fetch(
            f"SELECT * FROM {self.s}.contact_access_log WHERE ($1::text IS NULL OR case_id = $1) "
            "ORDER BY accessed_at DESC, id DESC LIMIT $2",
            case_id,
            limit,
        )
        return [dict(row) for row in rows]

    # -- retention and erasure ---------------------------------------------------------------------------

    async def purge_closed(self, conn: DbConnection, now: datetime, retention: timedelta) -> Removed:
        """People whose every case closed before `now - retention`; dead letters older than that."""
        cutoff = now - retention
        people = [
            row["complainant_id"]
            for row in await conn.fetch(
                f"SELECT x.complainant_id FROM ({_COMPLAINANT_OF.format(s=self.s)}) x "
                f"JOIN {self.s}.complainants p ON p.complainant_id = x.complainant_id "
                f"LEFT JOIN {self.s}.cases k ON k.case_id = x.case_id "
                "GROUP BY x.complainant_id "
                "HAVING bool_and(k.status = 'closed' AND k.updated_at < $1)",
                cutoff,
            )
        ]
        removed = await self._remove(conn, people)
        letters = await conn.execute(
            f"UPDATE {self.s}.dead_letters SET payload = ''::bytea, details = details || "
            "jsonb_build_object('purged_at', clock_timestamp()) "
            "WHERE created_at < $1 AND octet_length(payload) > 0",
            cutoff,
        )
        result = Removed(removed.people, removed.raw_records, _count(letters))
        await self._record(conn, "purge", {"cutoff": cutoff.isoformat(), **result.as_dict()})
        return result

    async def erase(self, conn: DbConnection, pseudonyms: dict[str, int], needles: Sequence[bytes]) -> Removed:
        """Erase one person: `pseudonyms` maps each of their current pseudonyms (one per district) to the
        generation it belongs to; `needles` are the byte forms of their number or address in raw input."""
        removed = await self._remove(conn, list(pseudonyms))
        await conn.executemany(
            f"INSERT INTO {self.s}.erased_pseudonyms (complainant_id, generation) VALUES ($1, $2) "
            "ON CONFLICT (complainant_id) DO NOTHING",
            list(pseudonyms.items()),
        )
        letters = 0
        for needle in needles:
            letters += _count(
                await conn.execute(
                    f"UPDATE {self.s}.dead_letters SET payload = ''::bytea, details = details || "
                    "jsonb_build_object('erased_at', clock_timestamp()) WHERE position($1::bytea in payload) > 0",
                    needle,
                )
            )
        result = Removed(removed.people, removed.raw_records, letters)
        await self._record(conn, "erase", {"pseudonyms": sorted(pseudonyms), **result.as_dict()})
        return result

    async def _remove(self, conn: DbConnection, people: Sequence[str]) -> Removed:
        if not people:
            return Removed(0, 0, 0)
        raw = await conn.execute(
            f"UPDATE {self.s}.complaints c SET raw = ''::bytea, purged_at = clock_timestamp() "
            f"FROM ({_COMPLAINANT_OF.format(s=self.s)}) x WHERE x.complaint_id = c.complaint_id "
            "AND x.complainant_id = ANY($1::text[]) AND c.purged_at IS NULL",
            list(people),
        )
        gone = await conn.execute(
            f"DELETE FROM {self.s}.complainants WHERE complainant_id = ANY($1::text[])", list(people)
        )
        return Removed(_count(gone), _count(raw), 0)

    async def _record(self, conn: DbConnection, action: str, details: dict[str, Any]) -> None:
        await conn.execute(
            f"INSERT INTO {self.s}.privacy_actions (action, details) VALUES ($1, $2::jsonb)", action, details
        )


def _count(status: str) -> int:
    """Rows touched, from asyncpg's command status ('UPDATE 3', 'DELETE 1')."""
    return int(str(status).rsplit(" ", 1)[-1])
