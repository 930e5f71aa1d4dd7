"""Loading a case aggregate from routing's event store."""

from __future__ import annotations

from collections.abc import Iterable

from eventcore.database import DbConnection
from eventcore.store import EventStore, RecordedEvent
from schemas.base import DomainEvent
from schemas.topics import event_class
from services.routing.adapters.learnt_store import load_decision
from services.routing.domain.case import case_stream
from services.routing.domain.lifecycle import Case


def typed(event_type: str, schema_version: int, data: dict[str, object]) -> DomainEvent:
    """A stored event as its contract; routing only ever stores contracts it knows."""
    contract = event_class(f"caseline.{event_type}.v{schema_version}")
    if contract is None:
        raise ValueError(f"routing's store holds an unknown event type {event_type} v{schema_version}")
    return contract.model_validate(data)


def typed_events(recorded: Iterable[RecordedEvent]) -> list[DomainEvent]:
    return [typed(r.event_type, r.schema_version, r.data) for r in recorded]


async def load_case(conn: DbConnection, store: EventStore, case_id: str) -> Case | None:
    """The case as its events say it is now (None when routing never opened it), knowing the joint
    meeting's decision on who leads it once routing has learnt that."""
    case = Case.rebuild(typed_events(await store.read_stream(conn, case_stream(case_id))))
    if case is None:
        return None
    return case.knowing(await load_decision(conn, store.schema, case_id))
