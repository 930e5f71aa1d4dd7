"""The case read model: one row per case in routing's schema, kept in step with the events.

The row is the aggregate's own state, so a live row and a row rebuilt from the events cannot disagree
unless an event was lost. It is written in the same transaction as the events (a UnitOfWork projector)
and rebuilt from scratch by `caseline replay routing`. What the staff see joins in what routing learnt
from the other services (learnt_store): the deadline of the case's SLA clock and the joint meeting's
decision on who leads; neither is routing's to decide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventcore.database import DbConnection, copy_rows
from eventcore.mapper import default_mapper
from eventcore.store import EventStore, StreamAppend
from schemas.base import DomainEvent
from services.routing.adapters.learnt_store import LEARNT_COLUMNS, LEARNT_JOINS
from services.routing.domain.lifecycle import Case

CASE_VIEW_DDL = """
CREATE TABLE IF NOT EXISTS {s}.case_view (
    case_id text PRIMARY KEY,
    version integer NOT NULL,
    state text NOT NULL,
    category text NOT NULL,
    urgency text NOT NULL,
    channel text NOT NULL,
    received_at timestamptz NOT NULL,
    compound_code text,
    street_code text,
    level text,
    unit_code text,
    unit_name text,
    rule_id text NOT NULL,
    rules_version text NOT NULL,
    return_count integer NOT NULL,
    reopen_count integer NOT NULL,
    complainant_count integer NOT NULL,
    escalations text[] NOT NULL,
    callback_outcome text
);
-- Multi-district tenancy: rows from before it belong to the founding district. Added, not declared above,
-- so that an existing installation upgrades in place and every installation has the same column order.
ALTER TABLE {s}.case_view ADD COLUMN IF NOT EXISTS district text NOT NULL DEFAULT 'luzhou';
DROP INDEX IF EXISTS {s}.case_view_unit_state;
CREATE INDEX IF NOT EXISTS case_view_district_unit_state ON {s}.case_view (district, unit_code, state);
-- One deadline (issue 17): the deadline is the SLA clock's (case_clock); installations from before keep
-- their due_at column, which is no longer written, so that a replica not yet upgraded can still write rows.
ALTER TABLE {s}.case_view ADD COLUMN IF NOT EXISTS proposed_lead_bureau text;
"""

COLUMNS = (
    "case_id",
    "version",
    "state",
    "category",
    "urgency",
    "channel",
    "received_at",
    "compound_code",
    "street_code",
    "level",
    "unit_code",
    "unit_name",
    "rule_id",
    "rules_version",
    "return_count",
    "reopen_count",
    "complainant_count",
    "escalations",
    "callback_outcome",
    "district",
    "proposed_lead_bureau",
)
CASE_PREFIX = "case-"
OPEN_STATES = ("routed", "accepted", "in_progress", "escalated")


def row_of(case: Case) -> tuple[Any, ...]:
    return (
        case.case_id,
        case.version,
        case.state.value,
        case.category.value,
        case.urgency.value,
        case.channel.value,
        case.received_at,
        case.compound_code,
        case.street_code,
        case.level.value if case.level else None,
        case.unit_code,
        case.unit_name,
        case.rule_id,
        case.rules_version,
        case.return_count,
        case.reopen_count,
        case.complainant_count,
        [t.value for t in case.escalations],
        case.callback_outcome.value if case.callback_outcome else None,
        case.district,
        case.proposed_lead.value if case.proposed_lead else None,
    )


@dataclass(frozen=True)
class CaseView:
    schema: str

    async def project(self, conn: DbConnection, appends: Sequence[StreamAppend]) -> None:
        """A UnitOfWork projector: new streams fold from memory, continued ones re-read (this transaction's rows
        included). One flush may carry several appends to a case (a batch opened it, then changed it): they
        come in the order they were saved, so a new case folds all of them."""
        by_stream: dict[str, list[StreamAppend]] = {}
        for append in appends:
            if append.stream_id.startswith(CASE_PREFIX):
                by_stream.setdefault(append.stream_id, []).append(append)
        fresh = {
            stream_id: [p.event for a in saved for p in a.events]
            for stream_id, saved in by_stream.items()
            if saved[0].expected_version == 0
        }
        continued = sorted(set(by_stream) - set(fresh))
        streams = dict(fresh) | await self._read_streams(conn, continued)
        rows = [row_of(case) for events in streams.values() if (case := Case.rebuild(events)) is not None]
        await self.upsert(conn, rows)

    async def _read_streams(
        self, conn: DbConnection, stream_ids: Sequence[str]
    ) -> dict[str, list[DomainEvent]]:
        if not stream_ids:
            return {}
        records = await conn.fetch(
            f"SELECT stream_id, {_EVENT_AS_JSON} FROM {self.schema}.events "
            "WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version",
            list(stream_ids),
        )
        streams: dict[str, list[DomainEvent]] = {}
        for r in records:
            streams.setdefault(r["stream_id"], []).append(_event(r))
        return streams

    async def upsert(self, conn: DbConnection, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        placeholders = ", ".join(f"${i}" for i in range(1, len(COLUMNS) + 1))
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[1:])
        await conn.executemany(
            f"INSERT INTO {self.schema}.case_view ({', '.join(COLUMNS)}) VALUES ({placeholders}) "
            f"ON CONFLICT (case_id) DO UPDATE SET {updates}",
            rows,
        )

    async def rebuild(self, conn: DbConnection, chunk: int = 10_000) -> int:
        """Throw the read model away and fold every case stream again; returns the number of cases.

        One transaction: the TRUNCATE locks the table until the commit, so the live projectors (and readers)
        wait for the rebuilt rows rather than write beside them. The events come in pages of `chunk`, only
        the columns the fold needs, each decoded once; the rows are loaded `chunk` at a time with COPY.
        """
        async with conn.transaction():
            await conn.execute(f"TRUNCATE {self.schema}.case_view")
            rows: list[tuple[Any, ...]] = []
            total = 0
            store, decode = EventStore(self.schema), default_mapper().from_json
            async for _, events in store.each_stream(conn, CASE_PREFIX, decode, chunk):
                rows.append(_folded(events))
                if len(rows) >= chunk:
                    total += await self._load(conn, rows)
                    rows = []
            total += await self._load(conn, rows)
        return total

    async def _load(self, conn: DbConnection, rows: Sequence[tuple[Any, ...]]) -> int:
        return await copy_rows(conn, self.schema, "case_view", COLUMNS, rows)

    async def all_rows(self, conn: DbConnection) -> list[dict[str, Any]]:
        """The aggregate's rows as stored (what a replay must reproduce)."""
        records = await conn.fetch(
            f"SELECT {', '.join(COLUMNS)} FROM {self.schema}.case_view ORDER BY case_id"
        )
        return [dict(r) for r in records]

    def _select(self) -> str:
        columns = ", ".join(f"v.{c}" for c in COLUMNS)
        joins = LEARNT_JOINS.format(s=self.schema)
        return f"SELECT {columns}, {LEARNT_COLUMNS} FROM {self.schema}.case_view v {joins}"

    async def get(self, conn: DbConnection, case_id: str) -> dict[str, Any] | None:
        """The case's row with what routing learnt about it (its clock's deadline, the decided lead)."""
        record = await conn.fetchrow(f"{self._select()} WHERE v.case_id = $1", case_id)
        return dict(record) if record else None

    async def search(
        self,
        conn: DbConnection,
        *,
        district: str,
        units: Sequence[str] | None,
        state: str | None,
        category: str | None,
        overdue: bool | None,
        limit: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        """A district's cases by filter; `units` None means every unit's (the district's centre).

        Late and the order are judged by the deadline shown (learnt.shown_deadline): the running resolve
        clock of the case's current round; pending and paused cases are not late and sort last.
        """
        where: list[str] = ["v.district = $1"]
        args: list[object] = [district]
        for column, value in (("state", state), ("category", category)):
            if value is not None:
                args.append(value)
                where.append(f"v.{column} = ${len(args)}")
        if units is not None:
            args.append(list(units))
            where.append(f"v.unit_code = ANY(${len(args)}::text[])")
        if overdue is not None:
            args.append(list(OPEN_STATES))
            late = f"({RUNNING_DUE_AT} < now() AND v.state = ANY(${len(args)}::text[]))"
            where.append(late if overdue else f"NOT coalesce({late}, false)")
        args += [limit, offset]
        records = await conn.fetch(
            f"{self._select()} WHERE {' AND '.join(where)} "
            f"ORDER BY {RUNNING_DUE_AT} NULLS LAST, v.case_id LIMIT ${len(args) - 1} OFFSET ${len(args)}",
            *args,
        )
        return [dict(r) for r in records]


# The deadline a late case is judged by and cases are sorted by, as learnt.shown_deadline and
# ShownDeadline.overdue judge it: the running resolve clock of the case's current round (LEARNT_JOINS
# joins only that one).
RUNNING_DUE_AT = "(CASE WHEN d.status = 'running' THEN d.deadline END)"


# The data as JSON text, so the mapper parses it once into the contract (no dict in between).
_EVENT_AS_JSON = "event_type, schema_version, data::text AS data"


def _event(row: Any) -> DomainEvent:
    return default_mapper().from_json(row["event_type"], row["schema_version"], row["data"])


def _folded(events: list[DomainEvent]) -> tuple[Any, ...]:
    case = Case.rebuild(events)
    assert case is not None
    return row_of(case)
