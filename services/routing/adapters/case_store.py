"""Loading and saving the case aggregate through routing's event store: one repository, the shared idiom
(eventcore.aggregate), every stored event read through the shared mapper."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from eventcore.aggregate import Loaded, Repository
from eventcore.database import DbConnection
from eventcore.outbox import Outbox
from eventcore.store import EventStore
from eventcore.unit_of_work import UnitOfWork
from schemas.base import DomainEvent, EventMetadata
from schemas.topics import CASES
from services.routing.adapters.learnt_store import learnt_decision, learnt_decisions
from services.routing.domain.case import case_stream
from services.routing.domain.lifecycle import Case, evolve

CASE_REPOSITORY: Repository[Case] = Repository(evolve, publish_to=CASES)


async def load(uow: UnitOfWork, case_id: str) -> Loaded[Case]:
    """The case as its events say it is now (no state, version 0, when routing never opened it), knowing
    the joint meeting's decision on who leads it once routing has learnt that. Within one unit of work a
    case saved earlier comes from memory, its unflushed events included."""
    loaded = await CASE_REPOSITORY.load(uow, case_stream(case_id))
    if loaded.state is None:
        return loaded
    # Learnt, not folded: asked every time (the unit of work remembers what it read or kept), so a decision
    # learnt earlier in the same batch is known.
    return replace(loaded, state=loaded.state.knowing(await learnt_decision(uow, case_id)))


async def load_many(uow: UnitOfWork, case_ids: Iterable[str]) -> None:
    """Read these cases and their learnt decisions into the unit of work in two queries (a consumer
    batch's preload), so that each handler's `load` finds them there."""
    wanted = list(dict.fromkeys(case_ids))
    if not wanted:
        return
    await CASE_REPOSITORY.load_many(uow, [case_stream(case_id) for case_id in wanted])
    # Those not opened yet too: a complaint earlier in the batch may open the case another message changes.
    await learnt_decisions(uow, wanted)


def save(
    uow: UnitOfWork, loaded: Loaded[Case], events: Sequence[DomainEvent], metadata: EventMetadata
) -> Loaded[Case]:
    """Buffer the case's new events at the version it was loaded at; returns the case after them."""
    return CASE_REPOSITORY.save(uow, loaded, events, metadata)


def open_case(
    uow: UnitOfWork, case_id: str, events: Sequence[DomainEvent], metadata: EventMetadata
) -> Loaded[Case]:
    """Open the case unless it is open already (a complaint published twice), without reading first."""
    return CASE_REPOSITORY.start(uow, case_stream(case_id), events, metadata)


async def load_case(conn: DbConnection, store: EventStore, case_id: str) -> Case | None:
    """A read-only look-up on a connection (the staff API, the workbench, the operator's CLI): the case as
    `load` sees it, None when routing never opened it. Nothing is ever appended or flushed here."""
    looking = UnitOfWork(conn=conn, store=store, outbox=Outbox(store.schema), source="routing/look-up")
    return (await load(looking, case_id)).state
