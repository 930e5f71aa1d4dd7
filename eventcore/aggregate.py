"""One idiom for every event-sourced aggregate: load (fold its stream) → decide (a pure function of the
state that returns new events) → save (append through the unit of work at the version it was loaded at).

    files = Repository(evolve, publish_to=JOINT_MEETING)
    async with stores.unit_of_work() as uow:
        loaded = await files.load(uow, file_stream(file_id))
        files.save(uow, loaded, decide(loaded.state), metadata)

States are immutable; `evolve(state, event)` returns the next one, so what a command saw cannot change
under it and nothing needs copying. A unit of work remembers what it loaded and saved, so a batch that
touches one aggregate twice sees its own unflushed events without a round trip, and two writers that
loaded the same version cannot both append (the store's unique version decides; ConcurrencyError).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Generic, TypeVar
from uuid import UUID

from eventcore.mapper import EventMapper, default_mapper
from eventcore.store import PendingEvent, RecordedEvent
from eventcore.unit_of_work import UnitOfWork
from schemas.base import DomainEvent, EventMetadata

S = TypeVar("S")
Evolve = Callable[[S | None, DomainEvent], S]


@dataclass(frozen=True)
class Loaded(Generic[S]):
    """An aggregate as its stream says it is, and the version a save must follow."""

    stream_id: str
    version: int  # 0: the stream does not exist yet
    state: S | None
    correlation_id: str | None = None  # the journey the stream's first event belongs to

    @property
    def exists(self) -> bool:
        return self.version > 0


class Repository(Generic[S]):
    """Loads and saves one kind of aggregate; `publish_to` is the topic its events are announced on."""

    def __init__(
        self, evolve: Evolve[S], *, publish_to: str | None, mapper: EventMapper | None = None
    ) -> None:
        self.evolve = evolve
        self.publish_to = publish_to
        self.mapper = mapper or default_mapper()

    def fold(self, events: Sequence[DomainEvent], state: S | None = None) -> S | None:
        for event in events:
            state = self.evolve(state, event)
        return state

    async def load(self, uow: UnitOfWork, stream_id: str) -> Loaded[S]:
        seen: Loaded[S] | None = uow.seen.get((id(self), stream_id))
        if seen is not None:
            return seen
        recorded = await uow.store.read_stream(uow.conn, stream_id)
        return self._remember(uow, self._folded(stream_id, recorded))

    async def load_many(self, uow: UnitOfWork, stream_ids: Iterable[str]) -> dict[str, Loaded[S]]:
        """Each aggregate as its stream says (one query for those this unit of work has not seen yet): a
        consumer's Preload, so that each handler's `load` then finds its aggregate in the unit of work."""
        wanted = list(dict.fromkeys(stream_ids))
        found = {s: seen for s in wanted if (seen := uow.seen.get((id(self), s))) is not None}
        unseen = [s for s in wanted if s not in found]
        if unseen:
            by_stream: dict[str, list[RecordedEvent]] = {s: [] for s in unseen}
            for recorded in await uow.store.read_streams(uow.conn, unseen):
                by_stream[recorded.stream_id].append(recorded)
            for stream_id, recorded_events in by_stream.items():
                found[stream_id] = self._remember(uow, self._folded(stream_id, recorded_events))
        return found

    def _folded(self, stream_id: str, recorded: Sequence[RecordedEvent]) -> Loaded[S]:
        state = self.fold(self.mapper.all_recorded(recorded))
        correlation = recorded[0].metadata.get("correlation_id") if recorded else None
        version = recorded[-1].stream_version if recorded else 0
        return Loaded(stream_id, version, state, correlation)

    def save(
        self,
        uow: UnitOfWork,
        loaded: Loaded[S],
        events: Sequence[DomainEvent],
        metadata: EventMetadata,
        *,
        event_ids: Sequence[UUID] | None = None,
    ) -> Loaded[S]:
        """Buffer the events for the unit of work's flush, at the version `loaded` was read at; returns
        the aggregate as it is after them (what a later load in the same unit of work sees)."""
        if not events:
            return loaded
        ids = list(event_ids) if event_ids is not None else [None] * len(events)
        pending = [
            PendingEvent(e, metadata) if i is None else PendingEvent(e, metadata, event_id=i)
            for e, i in zip(events, ids, strict=True)
        ]
        uow.append(loaded.stream_id, loaded.version, pending, publish_to=self.publish_to)
        after = replace(
            loaded,
            version=loaded.version + len(events),
            state=self.fold(events, loaded.state),
            correlation_id=loaded.correlation_id or metadata.correlation_id,
        )
        return self._remember(uow, after)

    def start(
        self, uow: UnitOfWork, stream_id: str, events: Sequence[DomainEvent], metadata: EventMetadata
    ) -> Loaded[S]:
        """Start a new aggregate unless its stream exists already, without reading it first: the flush
        creates the streams of a whole batch in one statement and skips those that exist (a complaint
        published twice opens its case once). Should it exist after all, a later save in this unit of
        work fails with ConcurrencyError, and the batch is redone with fresh reads."""
        seen: Loaded[S] | None = uow.seen.get((id(self), stream_id))
        if seen is not None and seen.exists:
            return seen  # started (or loaded) earlier in this unit of work: a repeat adds nothing
        uow.start_stream(stream_id, [PendingEvent(e, metadata) for e in events], publish_to=self.publish_to)
        started = Loaded(stream_id, len(events), self.fold(events), metadata.correlation_id)
        return self._remember(uow, started)

    def _remember(self, uow: UnitOfWork, loaded: Loaded[S]) -> Loaded[S]:
        uow.seen[(id(self), loaded.stream_id)] = loaded
        return loaded


# -- an aggregate made of every stream about one subject ------------------------------------------------


@dataclass(frozen=True)
class LoadedSubject(Generic[S]):
    """An aggregate folded from every stream about one subject (the store's `subject` column, the case),
    and the version each of those streams is at: a save appends to each stream after its own version."""

    subject: str
    versions: Mapping[str, int]  # stream → version; a stream not in it does not exist yet
    state: S | None

    def version(self, stream_id: str) -> int:
        return self.versions.get(stream_id, 0)


class SubjectRepository(Generic[S]):
    """Loads and saves an aggregate whose events lie in several streams about one subject: streams that move
    independently (so two writers of different streams never conflict) but one state decides on all of them.

        clocks = SubjectRepository(evolve, publish_to=SLA)
        async with stores.unit_of_work() as uow:
            loaded = await clocks.load(uow, case_id)
            clocks.save(uow, loaded, [(stream_of(e), e) for e in decide(loaded.state)], metadata)

    Like `Repository`, the unit of work remembers what was loaded and saved, so a batch that touches one
    subject twice sees its own unflushed events without a round trip and without a flush.
    """

    def __init__(
        self, evolve: Evolve[S], *, publish_to: str | None, mapper: EventMapper | None = None
    ) -> None:
        self.evolve = evolve
        self.publish_to = publish_to
        self.mapper = mapper or default_mapper()

    def fold(self, events: Iterable[DomainEvent], state: S | None = None) -> S | None:
        for event in events:
            state = self.evolve(state, event)
        return state

    async def load(self, uow: UnitOfWork, subject: str) -> LoadedSubject[S]:
        return (await self.load_many(uow, [subject]))[subject]

    async def load_many(self, uow: UnitOfWork, subjects: Iterable[str]) -> dict[str, LoadedSubject[S]]:
        """Each subject as its streams say (one query for those this unit of work has not seen yet)."""
        wanted = list(dict.fromkeys(subjects))
        found: dict[str, LoadedSubject[S]] = {}
        for subject in wanted:
            seen: LoadedSubject[S] | None = uow.seen.get((id(self), subject))
            if seen is not None:
                found[subject] = seen
        unseen = [s for s in wanted if s not in found]
        if unseen:
            by_subject: dict[str, list[RecordedEvent]] = {s: [] for s in unseen}
            for recorded in await uow.store.read_subjects(uow.conn, unseen):
                by_subject[recorded.subject].append(recorded)
            for subject, recorded_events in by_subject.items():
                found[subject] = self._remember(uow, self._folded(subject, recorded_events))
        return found

    def save(
        self,
        uow: UnitOfWork,
        loaded: LoadedSubject[S],
        events: Sequence[tuple[str, DomainEvent]],
        metadata: EventMetadata,
    ) -> LoadedSubject[S]:
        """Buffer (stream, event) pairs for the unit of work's flush, each stream's after the version
        `loaded` read it at; returns the subject as it is after them. They are folded stream by stream, in
        the order the flush stores them, so a later load in this unit of work sees what a reload would."""
        if not events:
            return loaded
        by_stream: dict[str, list[DomainEvent]] = {}
        for stream_id, event in events:
            by_stream.setdefault(stream_id, []).append(event)
        versions = dict(loaded.versions)
        for stream_id, stream_events in by_stream.items():
            pending = [PendingEvent(event, metadata) for event in stream_events]
            uow.append(stream_id, loaded.version(stream_id), pending, publish_to=self.publish_to)
            versions[stream_id] = loaded.version(stream_id) + len(pending)
        state = self.fold(
            [event for stream_events in by_stream.values() for event in stream_events], loaded.state
        )
        return self._remember(uow, replace(loaded, versions=MappingProxyType(versions), state=state))

    def start(
        self,
        uow: UnitOfWork,
        loaded: LoadedSubject[S],
        stream_id: str,
        events: Sequence[PendingEvent],
    ) -> LoadedSubject[S]:
        """Start a stream about the subject unless it exists (the unit of work's idempotent `start_stream`):
        for streams whose first events are the same whoever writes them (ids derived from the stream), so
        that whichever writer wins, the store holds what is folded here. A stream the subject already has
        is left alone. The flush writes new streams before appends: a state that depends on the order of a
        started stream's events against this unit of work's appends must not rely on it."""
        if not events or stream_id in loaded.versions:
            return loaded
        uow.start_stream(stream_id, events, publish_to=self.publish_to)
        versions = {**loaded.versions, stream_id: len(events)}
        state = self.fold((p.event for p in events), loaded.state)
        return self._remember(uow, replace(loaded, versions=MappingProxyType(versions), state=state))

    def _folded(self, subject: str, own: Sequence[RecordedEvent]) -> LoadedSubject[S]:
        versions: dict[str, int] = {}
        for r in own:
            versions[r.stream_id] = max(versions.get(r.stream_id, 0), r.stream_version)
        state = self.fold(self.mapper.all_recorded(own))
        return LoadedSubject(subject, MappingProxyType(versions), state)

    def _remember(self, uow: UnitOfWork, loaded: LoadedSubject[S]) -> LoadedSubject[S]:
        uow.seen[(id(self), loaded.subject)] = loaded
        return loaded
