"""`caseline case show`: one case's events from every service's store, in the order they were recorded."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from deadlines.calendar import BEIJING
from eventcore.database import create_pool
from eventcore.mapper import default_mapper
from eventcore.store import EventStore, RecordedEvent
from schemas.base import DomainEvent
from schemas.reference import FOUNDING_DISTRICT
from services import SERVICE_NAMES
from services.sla.adapters.clock_store import CLOCKS
from services.sla.domain.clocks import CaseClocks

_HIDDEN = {"case_id"}


async def case_history(dsn: str, case_id: str) -> list[tuple[str, RecordedEvent]]:
    pool = await create_pool(dsn, max_size=2)
    try:
        async with pool.acquire() as conn:
            existing = {r["nspname"] for r in await conn.fetch("SELECT nspname FROM pg_namespace")}
            history = [
                (service, event)
                for service in SERVICE_NAMES
                if service in existing
                for event in await EventStore(service).read_subject(conn, case_id)
            ]
    finally:
        await pool.close()
    return sorted(history, key=lambda item: item[1].recorded_at)


def history_district(history: list[tuple[str, RecordedEvent]]) -> str:
    """The case's district as its first event's envelope says; events from before tenancy name none and
    belong to the founding district."""
    for _, event in history:
        named = event.metadata.get("district") or event.data.get("district")
        if named:
            return str(named)
    return FOUNDING_DISTRICT


def case_clocks(case_id: str, history: list[tuple[str, RecordedEvent]]) -> CaseClocks:
    """The case's SLA clocks folded from the SLA's own events as the SLA folds them: the only deadlines the
    case has."""
    facts = [stored_fact(event) for service, event in history if service == "sla"]
    return CLOCKS.fold(facts) or CaseClocks(case_id)


def stored_fact(event: RecordedEvent) -> DomainEvent:
    """A stored event as its contract, read the way every service reads its store (older versions upcast)."""
    return default_mapper().recorded(event)


def print_deadlines(case_id: str, history: list[tuple[str, RecordedEvent]], console: Console) -> None:
    clocks = case_clocks(case_id, history)
    if not clocks.clocks:
        console.print("deadline pending: the SLA has started no clock for this case yet")
        return
    table = Table(title="deadlines (the SLA's clocks; every view shows these)")
    for column in ("clock", "state", "deadline (Beijing)", "policy rule", "on time"):
        table.add_column(column, overflow="fold")
    for clock in clocks.clocks.values():
        due = clock.deadline.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if clock.deadline else "-"
        on_time = "-" if clock.on_time is None else ("yes" if clock.on_time else "no")
        table.add_row(clock.clock_id, clock.state.value, due, clock.policy_rule, on_time)
    console.print(table)
    if clocks.lead_bureau is not None:
        console.print(f"lead bureau (the joint meeting's decision): {clocks.lead_bureau.value}")


async def print_case_history(dsn: str, case_id: str, console: Console) -> bool:
    history = await case_history(dsn, case_id)
    if not history:
        return False
    print_deadlines(case_id, history, console)
    table = Table(title=f"case {case_id} · district {history_district(history)}", show_lines=True)
    for column in ("recorded (UTC)", "service", "event", "facts", "caused by / actor"):
        table.add_column(column, overflow="fold")
    for service, event in history:
        facts = stored_fact(event).model_dump(mode="json", exclude=_HIDDEN)
        table.add_row(
            event.recorded_at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            service,
            f"{event.event_type} v{event.schema_version}\n{event.stream_id}#{event.stream_version}",
            json.dumps(facts, ensure_ascii=False, indent=1),
            f"{event.metadata.get('causation_id') or '-'}\n{event.metadata.get('actor')}",
        )
    console.print(table)
    return True
