"""The watch's own events as case clocks, through eventcore: a case is every stream about it (its case
clocks, its task clocks, its alerts), loaded by subject and typed by the shared event mapper."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple
from uuid import NAMESPACE_URL, UUID, uuid5

from eventcore.aggregate import LoadedSubject, SubjectRepository
from eventcore.database import DbConnection
from eventcore.mapper import EventMapper, default_mapper
from eventcore.store import EventStore, PendingEvent, RecordedEvent
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
CaseHistory = list["StoredFact"]  # in store order


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


async def load_cases(uow: UnitOfWork, case_ids: Iterable[str]) -> None:
    """Load these cases into the unit of work in one query (a consumer batch's Preload): each handler's
    `load_case` then finds its case there."""
    await CLOCKS.load_many(uow, case_ids)


class StoredFact(NamedTuple):
    """One of the watch's events as the store holds it."""

    recorded_at: datetime  # the watch tells a pause from a gap by it
    stream_id: str
    version: int
    position: int  # global position: store order
    event: DomainEvent


@dataclass(slots=True)
class FoldedUpTo:
    """How much of a case's store the watch has folded: each stream's version and the highest global
    position among the folded events.

    A stream's committed events always form a prefix of it (an append names the version it follows, so a
    version commits with or after those before it), so the events a holder of `versions` lacks are exactly
    those after them (`read_subjects_after`). Global positions, though, are taken before commit: another
    stream of the case (a task clock written by another replica, an alert written by a watch) may commit an
    event with a lower position than one already folded. Folding the lacking events after the folded ones
    equals a full fold in store order only if each of them comes after everything folded (`continued_by`);
    otherwise the case is folded again from the start. So the watch's memory of a case is always the full
    fold of what it has read, whatever `evolve` makes of the order of a case's streams.
    """

    versions: dict[str, int] = field(default_factory=dict)
    position: int = 0

    def continued_by(self, facts: Sequence[StoredFact]) -> bool:
        """Whether folding `facts` (in store order) after what was folded gives the full fold."""
        versions = dict(self.versions)
        for fact in facts:
            if fact.position <= self.position or fact.version != versions.get(fact.stream_id, 0) + 1:
                return False
            versions[fact.stream_id] = fact.version
        return True

    def add(self, stream_id: str, version: int, position: int) -> None:
        self.versions[stream_id] = version
        self.position = max(self.position, position)


def _stored(recorded: RecordedEvent, mapper: EventMapper) -> StoredFact:
    event = mapper.recorded(recorded)
    return StoredFact(
        recorded.recorded_at, recorded.stream_id, recorded.stream_version, recorded.global_position, event
    )


async def load_histories(
    uow: UnitOfWork, case_ids: Iterable[str], held: Mapping[str, Mapping[str, int]] | None = None
) -> dict[str, CaseHistory]:
    """The cases' clock facts in store order; with `held` (case → stream → version), only the facts after
    those versions (what a reader holding them lacks), every fact of a case not in it."""
    mapper = default_mapper()
    versions = {stream: v for streams in (held or {}).values() for stream, v in streams.items()}
    histories: dict[str, CaseHistory] = {}
    for recorded in await uow.store.read_subjects_after(uow.conn, list(case_ids), versions):
        fact = _stored(recorded, mapper)
        histories.setdefault(fact.event.case_id, []).append(fact)
    return histories


async def load_all(
    conn: DbConnection,
    schema: str,
    last_recorded: dict[str, datetime] | None = None,
    folded: dict[str, FoldedUpTo] | None = None,
) -> dict[str, CaseClocks]:
    """Every case's clocks, folded from the whole store in pages (start-up, reports); with `last_recorded`,
    also when each case last changed, with `folded` how far each was folded. For the pages to add up to the
    store as one moment saw it (each stream a prefix of itself), call it in a REPEATABLE READ transaction."""
    store, mapper = EventStore(schema), default_mapper()
    cases: dict[str, CaseClocks] = {}
    position = 0
    while page := await store.read_all(conn, position, _PAGE):
        for recorded in page:
            event = mapper.recorded(recorded)
            cases[event.case_id] = evolve(cases.get(event.case_id), event)
            if last_recorded is not None:
                last_recorded[event.case_id] = recorded.recorded_at
            if folded is not None:
                folded.setdefault(event.case_id, FoldedUpTo()).add(
                    recorded.stream_id, recorded.stream_version, recorded.global_position
                )
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
