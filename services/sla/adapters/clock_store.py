"""Reading the watch's own events back as case clocks (one query for many cases)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventcore.database import DbConnection, checked_schema
from eventcore.store import PendingEvent
from schemas.base import DomainEvent, EventMetadata
from services.sla.domain.clocks import CaseClocks, parse_event

NOTIFY_CHANNEL = "sla_clocks"  # payload: a case id whose clocks changed (delivered at commit)
_PAGE = 5000


def alert_event_id(stream_id: str) -> UUID:
    """Deterministic, so even a store rebuilt from scratch republishes an alert under the same id."""
    return uuid5(NAMESPACE_URL, f"caseline:{stream_id}")


def alert_pending(stream_id: str, event: DomainEvent, metadata: EventMetadata) -> PendingEvent:
    return PendingEvent(event, metadata, event_id=alert_event_id(stream_id))


def _fold_rows(
    rows: Iterable[object], into: dict[str, CaseClocks], last_recorded: dict[str, datetime] | None = None
) -> None:
    for row in rows:
        data = row["data"]  # type: ignore[index]
        event = parse_event(row["event_type"], data)  # type: ignore[index]
        if event is None:
            continue
        case = into.setdefault(event.case_id, CaseClocks(event.case_id))
        case.apply(row["stream_id"], event)  # type: ignore[index]
        if last_recorded is not None:
            last_recorded[event.case_id] = row["recorded_at"]  # type: ignore[index]


CaseHistory = list[tuple[datetime, str, DomainEvent]]  # recorded at, stream, event: in store order


async def load_histories(conn: DbConnection, schema: str, case_ids: Iterable[str]) -> dict[str, CaseHistory]:
    """The cases' clock facts with the time each was recorded (the watch tells a pause from a gap by it)."""
    rows = await conn.fetch(
        f"SELECT stream_id, event_type, data, recorded_at FROM {checked_schema(schema)}.events "
        "WHERE data->>'case_id' = ANY($1::text[]) ORDER BY global_position",
        list(dict.fromkeys(case_ids)),
    )
    histories: dict[str, CaseHistory] = {}
    for row in rows:
        event = parse_event(row["event_type"], row["data"])
        if event is not None:
            histories.setdefault(event.case_id, []).append((row["recorded_at"], row["stream_id"], event))
    return histories


async def load_cases(conn: DbConnection, schema: str, case_ids: Iterable[str]) -> dict[str, CaseClocks]:
    ids = list(dict.fromkeys(case_ids))
    rows = await conn.fetch(
        f"SELECT stream_id, event_type, data FROM {checked_schema(schema)}.events "
        "WHERE data->>'case_id' = ANY($1::text[]) ORDER BY global_position",
        ids,
    )
    cases: dict[str, CaseClocks] = {}
    _fold_rows(rows, cases)
    return cases


async def load_all(
    conn: DbConnection, schema: str, last_recorded: dict[str, datetime] | None = None
) -> dict[str, CaseClocks]:
    """Every case's clocks, folded from the whole store in pages (start-up, reports); with `last_recorded`,
    also when each case last changed."""
    cases: dict[str, CaseClocks] = {}
    position = 0
    while True:
        rows = await conn.fetch(
            "SELECT global_position, stream_id, event_type, data, recorded_at "
            f"FROM {checked_schema(schema)}.events "
            "WHERE global_position > $1 ORDER BY global_position LIMIT $2",
            position,
            _PAGE,
        )
        if not rows:
            return cases
        _fold_rows(rows, cases, last_recorded)
        position = rows[-1]["global_position"]


async def notify_changed(conn: DbConnection, case_ids: Iterable[str]) -> None:
    for case_id in dict.fromkeys(case_ids):
        await conn.execute("SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, case_id)
