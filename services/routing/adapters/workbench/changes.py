""" "This case changed": a NOTIFY from the read-model projection, read by every replica's event streams.

The payload names the case, its district and the units it was with before and after the change, so a
street's queue hears of a case that left it (returned, escalated) as well as of one that arrived.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eventcore.database import DbConnection, checked_schema
from eventcore.store import StreamAppend
from eventcore.unit_of_work import Projector
from webui.live import notify

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

    async def project(conn: DbConnection, appends: Sequence[StreamAppend]) -> None:
        case_ids = [
            a.stream_id.removeprefix(CASE_STREAM_PREFIX)
            for a in appends
            if a.stream_id.startswith(CASE_STREAM_PREFIX)
        ]
        before = {
            r["case_id"]: r["unit_code"]
            for r in await conn.fetch(
                f"SELECT case_id, unit_code FROM {s}.case_view WHERE case_id = ANY($1::text[])", case_ids
            )
        }
        await projector(conn, appends)
        await announce(conn, s, case_ids, before)

    return project


async def announce(
    conn: DbConnection, schema: str, case_ids: Sequence[str], before: dict[str, str | None] | None = None
) -> None:
    """NOTIFY every listed case as it stands now (with the unit it had before, when known)."""
    if not case_ids:
        return
    rows = await conn.fetch(
        f"SELECT case_id, district, unit_code FROM {schema}.case_view WHERE case_id = ANY($1::text[])",
        list(case_ids),
    )
    earlier = before or {}
    changes = [
        CaseChange(
            r["case_id"],
            r["district"],
            frozenset(u for u in (earlier.get(r["case_id"]), r["unit_code"]) if u),
        )
        for r in rows
    ]
    await notify(conn, CHANNEL, [c.payload() for c in changes])
