"""The watch's own events as case clocks, through eventcore: a case is every stream about it (its case
clocks, its task clocks, its alerts), loaded by subject and typed by the shared event mapper."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventcore.aggregate import LoadedSubject, SubjectRepository
from eventcore.database import DbConnection
from eventcore.mapper import default_mapper
from eventcore.store import EventStore, PendingEvent
from eventcore.unit_of_work import UnitOfWork
from schemas.base import DomainEvent, EventMetadata
from schemas.topics import SLA
from services.sla.domain.clocks import (
    AlertKind,
    CaseClocks,
    Clock,
    alert_stream,
    breach_alert,
    evolve,
    placed,
)

NOTIFY_CHANNEL = "sla_clocks"  # payload: a case id whose clocks changed (delivered at commit)
_PAGE = 5000

CLOCKS = SubjectRepository(evolve, publish_to=SLA)
LoadedCase = LoadedSubject[CaseClocks]
CaseHistory = list[tuple[datetime, str, DomainEvent]]  # recorded at, stream, event: in store order


def alert_event_id(stream_id: str) -> UUID:
    """Deterministic, so even a store rebuilt from scratch republishes an alert under the same id."""
    return uuid5(NAMESPACE_URL, f"caseline:{stream_id}")


def alert_pending(stream_id: str, event: DomainEvent, metadata: EventMetadata) -> PendingEvent:
    return PendingEvent(event, metadata, event_id=alert_event_id(stream_id))


def clocks_of(loaded: LoadedCase) -> CaseClocks:
    """The case's clocks (none yet for a case the watch has not heard of)."""
    return loaded.state if loaded.state is not None else CaseClocks(loaded.subject)


async def load_case(uow: UnitOfWork, case_id: str) -> LoadedCase:
    return await CLOCKS.load(uow, case_id)


async def record(
    uow: UnitOfWork,
    loaded: LoadedCase,
    events: Sequence[DomainEvent],
    metadata: EventMetadata,
    *,
    late: Sequence[Clock] = (),
) -> LoadedCase:
    """Append each of the case's streams' new events after the version it had when the decision was
    taken; a clock that stopped late gets its breach alert (started once, whoever tries again)."""
    if not events and not late:
        return loaded
    saved = CLOCKS.save(uow, loaded, placed(clocks_of(loaded), events), metadata)
    for clock in late:
        stream = alert_stream(clock.clock_id, AlertKind.BREACHED)
        saved = CLOCKS.start(uow, saved, stream, [alert_pending(stream, breach_alert(clock), metadata)])
    notify_changed(uow, [loaded.subject])
    return saved


async def load_histories(uow: UnitOfWork, case_ids: Iterable[str]) -> dict[str, CaseHistory]:
    """The cases' clock facts with the time each was recorded (the watch tells a pause from a gap by it)."""
    mapper = default_mapper()
    histories: dict[str, CaseHistory] = {}
    for recorded in await uow.store.read_subjects(uow.conn, list(case_ids)):
        event = mapper.recorded(recorded)
        histories.setdefault(event.case_id, []).append((recorded.recorded_at, recorded.stream_id, event))
    return histories


async def load_all(
    conn: DbConnection, schema: str, last_recorded: dict[str, datetime] | None = None
) -> dict[str, CaseClocks]:
    """Every case's clocks, folded from the whole store in pages (start-up, reports); with `last_recorded`,
    also when each case last changed."""
    store, mapper = EventStore(schema), default_mapper()
    cases: dict[str, CaseClocks] = {}
    position = 0
    while page := await store.read_all(conn, position, _PAGE):
        for recorded in page:
            event = mapper.recorded(recorded)
            cases[event.case_id] = evolve(cases.get(event.case_id), event)
            if last_recorded is not None:
                last_recorded[event.case_id] = recorded.recorded_at
        position = page[-1].global_position
    return cases


def notify_changed(uow: UnitOfWork, case_ids: Iterable[str]) -> None:
    """Tell the watch (every replica's) to read these cases again once the unit of work commits: queued, and
    sent for a whole batch in one statement at the flush, inside the transaction (delivered at its commit,
    so no replica's memory misses a change)."""
    uow.add_rows(_send_changed, list(case_ids))


async def _send_changed(conn: DbConnection, case_ids: Sequence[str]) -> None:
    await conn.execute(
        "SELECT pg_notify($1, c) FROM unnest($2::text[]) AS c", NOTIFY_CHANNEL, list(dict.fromkeys(case_ids))
    )
