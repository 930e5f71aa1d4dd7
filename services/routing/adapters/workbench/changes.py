""" "This case changed": a NOTIFY from the read-model projection, read by every replica's event streams.

The payload names the case, its district and the units it was with before and after the change, so a
street's queue hears of a case that left it (returned, escalated) as well as of one that arrived.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventcore.database import DbConnection, checked_schema, row_per_key, shifted
from eventcore.store import StreamAppend
from eventcore.unit_of_work import Projector

CHANNEL = "routing_cases"
CASE_STREAM_PREFIX = "case-"


@dataclass(frozen=True)
class CaseChange:
    case_id: str
    district: str
    units: frozenset[str]  # who had it before and who has it now (empty: nobody, e.g. the joint meeting)

    def payload(self) -> str:
        return "\t".join([self.case_id, self.district, *sorted(self.units)])

    @staticmethod
    def parse(payload: str) -> CaseChange | None:
        parts = payload.split("\t")
        if len(parts) < 2 or not parts[0]:
            return None
        return CaseChange(parts[0], parts[1], frozenset(p for p in parts[2:] if p))


def notifying(projector: Projector, schema: str) -> Projector:
    """The case view's projector, announcing each case it changed (delivered when the transaction commits)."""
    s = checked_schema(schema)
    views = row_per_key(f"{s}.case_view", "v", case_id="$1::text[]")
    units_before = f"SELECT v.case_id, v.unit_code FROM {views}"  # built once: the same for every batch

    async def project(conn: DbConnection, appends: Sequence[StreamAppend]) -> None:
        case_ids = [
            a.stream_id.removeprefix(CASE_STREAM_PREFIX)
            for a in appends
            if a.stream_id.startswith(CASE_STREAM_PREFIX)
        ]
        before = {r["case_id"]: r["unit_code"] for r in await conn.fetch(units_before, case_ids)}
        await projector(conn, appends)
        await announce(conn, s, case_ids, before)

    return project


async def announce(
    conn: DbConnection, schema: str, case_ids: Sequence[str], before: dict[str, str | None] | None = None
) -> None:
    """NOTIFY every listed case as it stands now (with the unit it had before, when known): one statement."""
    if announcement := Announcement.of(schema, case_ids, before):
        await conn.execute(announcement.sql, *announcement.args)


@dataclass(frozen=True)
class Announcement:
    """The NOTIFY of changed cases as one statement: one pg_notify per case (those listed and those of the
    files), with `CaseChange.payload`'s payload, built by PostgreSQL from the case view: no round trip to read
    the view first. The view is read by its primary key, one probe per case (`row_per_key`); the
    units they had before are one JSON object, looked up by case, not joined (sent as text: no connection's
    jsonb codec encodes it again).
    `after(n)` numbers its placeholders after a statement's first n, so a write can go in front of it as a
    CTE (`Timeline.write`).

    Units before and after are distinct, in code point order (COLLATE "C", as Python's sorted). Identical
    notifications of one transaction are delivered once (PostgreSQL folds them)."""

    sql: str
    args: tuple[Any, ...]

    @classmethod
    def of(
        cls,
        schema: str,
        case_ids: Sequence[str],
        before: dict[str, str | None] | None = None,
        files: Sequence[str] = (),
    ) -> Announcement | None:
        if not case_ids and not files:
            return None
        s = checked_schema(schema)
        earlier = {case_id: unit for case_id, unit in (before or {}).items() if unit}
        # The listed cases and those of the files, each once.
        cases = (
            "ARRAY(SELECT DISTINCT unnest($2::text[] || "
            f"ARRAY(SELECT case_id FROM {s}.case_timeline WHERE file_id = ANY($4::text[]))))"
        )
        return cls(
            "SELECT pg_notify($1, concat_ws(E'\\t', VARIADIC ARRAY[v.case_id, v.district] || ARRAY("
            "SELECT DISTINCT u COLLATE \"C\" FROM unnest(ARRAY[$3::text::jsonb ->> v.case_id, v.unit_code]) "
            "AS u WHERE u <> '' ORDER BY 1))) "
            f"FROM {row_per_key(f'{s}.case_view', 'v', case_id=cases)}",
            (CHANNEL, list(case_ids), json.dumps(earlier), list(files)),
        )

    def after(self, by: int) -> Announcement:
        return Announcement(shifted(self.sql, by), self.args)
