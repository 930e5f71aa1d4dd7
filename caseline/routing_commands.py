"""`caseline routing explain CASE_ID` and `caseline replay routing`: why a case went where it went, and the
case read model rebuilt from routing's events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from caseline.commandline import app, database_address, replay_app
from district.registry import UnknownDistrict, load_districts
from eventcore.collector import collector_paused
from eventcore.consumer import ServiceStores
from eventcore.database import DbConnection, checked_schema, create_pool, migrate
from eventcore.mapper import default_mapper
from eventcore.settings import get_settings
from eventcore.store import EventStore, RecordedEvent
from schemas.base import DomainEvent
from schemas.cases import (
    CaseClosed,
    CaseEscalated,
    CaseRecategorised,
    CaseReopened,
    CaseResolved,
    CaseReturned,
    CaseRouted,
)
from schemas.reference import FOUNDING_DISTRICT, Category
from services.routing.adapters.case_store import load
from services.routing.adapters.case_view import CaseView
from services.routing.adapters.learnt_store import learnt_decision, replace_clocks, replace_decisions
from services.routing.app import EXTRA_DDL, SCHEMA
from services.routing.domain.access import Actor
from services.routing.domain.case import case_stream
from services.routing.domain.learnt import (
    CLOCK_FACTS,
    LEAD_FACTS,
    JointDecision,
    LearntClock,
    decision_of,
    learn_clock,
)
from services.routing.domain.lifecycle import CaseCommandError
from services.routing.domain.routing import CENTRE_UNIT
from services.routing.domain.rules import RoutingRules, load_rules, rules_file_for
from services.routing.handlers import (
    CaseNotFound,
    CommandResult,
    RoutingContext,
    StaleCase,
    recategorise_case,
)

routing_app = typer.Typer(help="Routing: explain decisions.", no_args_is_help=True)
app.add_typer(routing_app, name="routing")
console = Console()
REPLAY_PAGE = 10_000  # stored facts per round trip when relearning

_DECISIONS = {
    event.event_type
    for event in (
        CaseRecategorised,
        CaseRouted,
        CaseEscalated,
        CaseReturned,
        CaseReopened,
        CaseResolved,
        CaseClosed,
    )
}


@routing_app.command("explain")
def explain(
    case_id: Annotated[str, typer.Argument(help="the case id, e.g. case-0a1b2c3d4e5f6a7b")],
    district: Annotated[
        str | None,
        typer.Option(
            "--district",
            help="the district whose case it is; default: the case's own (founding when unrecorded)",
        ),
    ] = None,
) -> None:
    """Why the case went where it went: every routing decision with its rule, rules version and reason."""
    try:
        chosen = load_districts(get_settings().districts_file).get(district).code if district else None
    except UnknownDistrict as unknown:
        console.print(f"[red]{unknown}[/red]")
        raise typer.Exit(2) from unknown
    events, decided = asyncio.run(_case_events(database_address(), case_id))
    owner = case_district(events)
    if not events or (chosen is not None and chosen != owner):
        where = f" in district {chosen}" if chosen else ""
        console.print(f"[red]routing has no case {case_id!r}{where}[/red]")
        raise typer.Exit(1)
    print_explanation(console, case_id, events, load_rules(rules_file_for(owner)), decided)


def case_district(events: list[RecordedEvent]) -> str:
    """The district recorded when the case opened; cases opened before tenancy belong to the founding one."""
    if not events:
        return FOUNDING_DISTRICT
    return str(events[0].data.get("district") or FOUNDING_DISTRICT)


async def _case_events(dsn: str, case_id: str) -> tuple[list[RecordedEvent], JointDecision | None]:
    pool = await create_pool(dsn, max_size=1)
    try:
        await migrate(pool, SCHEMA, EXTRA_DDL)
        async with pool.acquire() as conn:
            events = await EventStore(SCHEMA).read_stream(conn, case_stream(case_id))
            return events, await learnt_decision(_routing_stores(pool).bind(conn), case_id)
    finally:
        await pool.close()


def print_explanation(
    console: Console,
    case_id: str,
    events: list[RecordedEvent],
    rules: RoutingRules,
    decided: JointDecision | None = None,
) -> None:
    opened = events[0].data
    console.print(
        f"case {case_id} (district {case_district(events)}): {opened.get('category')} ({opened.get('urgency')}), "
        f"compound {opened.get('compound_code') or 'unknown'}, street {opened.get('street_code') or 'unknown'}"
    )
    table = Table(title="routing decisions", show_lines=True)
    for column in ("#", "event", "to", "rule", "why", "actor"):
        table.add_column(column, overflow="fold")
    for event in events:
        if event.event_type in _DECISIONS:
            table.add_row(
                str(event.stream_version),
                event.event_type,
                _target(event.data),
                _rule(event.data, rules),
                str(
                    event.data.get("reason")
                    or event.data.get("resolution")
                    or event.data.get("outcome")
                    or ""
                ),
                str(event.metadata.get("actor")),
            )
    console.print(table)
    if decided is not None:
        console.print(
            f"the joint meeting decided (file {decided.file_id}): {decided.lead.value} leads with "
            f"{', '.join(b.value for b in decided.bureaus)}; {decided.reason}"
        )


def _target(data: dict[str, Any]) -> str:
    if "lead_bureau" in data:
        return (
            f"joint meeting ({data.get('trigger')}): proposes {data['lead_bureau']} to lead, with "
            f"{', '.join(data.get('bureaus', []))}"
        )
    if "level" in data and "unit_code" in data:
        return f"{data['level']} {data['unit_code']} {data.get('unit_name', '')}".strip()
    return str(data.get("unit_code") or "")


def _rule(data: dict[str, Any], rules: RoutingRules) -> str:
    rule_id = data.get("rule_id")
    if not rule_id:
        return ""
    text = f"{rule_id} (rules {data.get('rules_version')})"
    base = str(rule_id).split("/")[0]
    current = next((r for r in rules.rules if r.id == base), None)
    if current is None:
        return text
    when = [f"categories {', '.join(c.value for c in current.categories)}"]
    if current.management:
        when.append(f"management {', '.join(m.value for m in current.management)}")
    if current.urgency:
        when.append(f"urgency {current.urgency.value}")
    note = "" if data.get("rules_version") == rules.version else f"; now at rules {rules.version}"
    return f"{text}\nwhen {'; '.join(when)}{note}"


@replay_app.command("routing")
def replay_routing() -> None:
    """Rebuild routing's case read model from its event store, and what routing learnt from the SLA's and
    the joint meeting's stores (every case's clocks, so its deadline, and the decided leads)."""
    started = time.perf_counter()
    with collector_paused():
        cases, (clocks, leads) = asyncio.run(_replay(database_address()))
    console.print(
        f"routing: case_view rebuilt from the events, {cases} cases; {clocks} clocks and {leads} "
        f"decided leads learnt again from the sla and jointmeeting stores, in {time.perf_counter() - started:.1f}s"
    )


async def _replay(dsn: str) -> tuple[int, tuple[int, int]]:
    """The case view rebuilt and what routing learnt relearnt, at once on two connections: each in its own
    transaction as when one ran after the other (they share no table), so one's decoding overlaps the
    other's waits for PostgreSQL. Should either fail, the other is cancelled and rolled back unless done."""
    pool = await create_pool(dsn, max_size=2)
    try:
        await migrate(pool, SCHEMA, EXTRA_DDL)
        async with asyncio.TaskGroup() as replays:
            cases = replays.create_task(_rebuild_case_view(pool))
            learnt = replays.create_task(_relearn(pool))
        return cases.result(), learnt.result()
    finally:
        await pool.close()


async def rebuild_case_view(dsn: str) -> int:
    pool = await create_pool(dsn, max_size=1)
    try:
        await migrate(pool, SCHEMA, EXTRA_DDL)
        return await _rebuild_case_view(pool)
    finally:
        await pool.close()


async def _rebuild_case_view(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return await CaseView(SCHEMA).rebuild(conn)


async def relearn(dsn: str) -> tuple[int, int]:
    """Learn every case's clocks and decided lead again from the stores that are their source, folded by
    the same functions as routing's consumers, and replace what routing held with them; returns (clocks,
    decisions). This is how an installation from before routing learnt them (its consumer had skipped those
    facts) fills `routing.case_clock` and `routing.case_joint_decision`; an operator's tool, since the
    routing service itself never reads another service's schema."""
    pool = await create_pool(dsn, max_size=1)
    try:
        await migrate(pool, SCHEMA, EXTRA_DDL)
        return await _relearn(pool)
    finally:
        await pool.close()


async def _relearn(pool: asyncpg.Pool) -> tuple[int, int]:
    """One transaction: every clock and decided lead folded again from its source store, then each table
    replaced by what was folded. A source schema not in this database (that service runs on another)
    leaves what routing learnt from it as it is."""
    async with pool.acquire() as conn, conn.transaction():
        clocks = await _folded_clocks(conn)
        decisions = await _folded_decisions(conn)
        learnt = 0 if clocks is None else await replace_clocks(conn, SCHEMA, clocks)
        decided = 0 if decisions is None else await replace_decisions(conn, SCHEMA, decisions)
    return learnt, decided


async def _folded_clocks(conn: DbConnection) -> list[tuple[str, LearntClock]] | None:
    """Every clock as routing learns it from the SLA's facts, with its case; None without the SLA's store."""
    if not await _has_schema(conn, "sla"):
        return None
    clocks: dict[tuple[str, str], LearntClock | None] = {}
    async for fact in _stored(conn, "sla", CLOCK_FACTS):
        key = (fact.case_id, str(getattr(fact, "clock_id", "")))
        clocks[key] = learn_clock(clocks.get(key), fact)
    return [(case_id, learnt) for (case_id, _), learnt in clocks.items() if learnt is not None]


async def _folded_decisions(conn: DbConnection) -> list[tuple[str, JointDecision]] | None:
    """Every case's decided lead, the latest the joint meeting recorded; None without its store."""
    if not await _has_schema(conn, "jointmeeting"):
        return None
    decisions = {}
    async for fact in _stored(conn, "jointmeeting", LEAD_FACTS):
        if (decided := decision_of(fact)) is not None:
            decisions[fact.case_id] = decided
    return list(decisions.items())


async def _has_schema(conn: DbConnection, schema: str) -> bool:
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema))


async def _stored(
    conn: DbConnection, schema: str, types: tuple[type[DomainEvent], ...]
) -> AsyncIterator[DomainEvent]:
    """A service's stored facts of these types in the order they were recorded, read in pages and each
    decoded once. Yielded one at a time to be folded and dropped: holding every decoded fact at once made
    the garbage collector's passes over them cost more than the decoding."""
    mapper = default_mapper()
    async for r in conn.cursor(
        f"SELECT event_type, schema_version, data::text AS data FROM {checked_schema(schema)}.events "
        "WHERE event_type = ANY($1::text[]) ORDER BY global_position",
        [t.event_type for t in types],
        prefetch=REPLAY_PAGE,
    ):
        yield mapper.from_json(r["event_type"], r["schema_version"], r["data"])


def _routing_stores(pool: asyncpg.Pool) -> ServiceStores:
    """Routing's stores as its service composes them, for the operator's commands."""
    return ServiceStores(pool, SCHEMA, source=f"/caseline/{SCHEMA}", projector=CaseView(SCHEMA).project)


@routing_app.command("recategorise")
def recategorise(
    case_id: Annotated[str, typer.Argument(help="the case id")],
    category: Annotated[Category, typer.Argument(help="the category the case really is, e.g. fire_hazard")],
    reason: Annotated[str, typer.Option(help="why: what the description really says")],
    staff_id: Annotated[str, typer.Option(help="who corrects it (recorded as centre/<staff id>)")],
    expected_version: Annotated[
        int | None, typer.Option(help="the case version you looked at; default: the current one")
    ] = None,
) -> None:
    """The centre corrects a case's category (what `POST /cases/{id}/recategorise` does): the case is routed
    again, or escalated, when the new category needs another unit or the joint meeting."""
    try:
        result = asyncio.run(
            _recategorise(database_address(), case_id, category, reason, staff_id, expected_version)
        )
    except (CaseNotFound, StaleCase, CaseCommandError) as refused:
        console.print(f"[red]{type(refused).__name__}: {refused}[/red]")
        raise typer.Exit(1) from refused
    console.print(
        f"case {case_id}: {', '.join(e.event_type for e in result.events)}; now version {result.case.version}, "
        f"{result.case.state.value} with {result.case.unit_code or 'the joint meeting'}"
    )


async def _recategorise(
    dsn: str, case_id: str, category: Category, reason: str, staff_id: str, expected_version: int | None
) -> CommandResult:
    pool = await create_pool(dsn, max_size=1)
    try:
        await migrate(pool, SCHEMA, EXTRA_DDL)
        stores = _routing_stores(pool)
        async with stores.unit_of_work() as uow:
            case = (await load(uow, case_id)).state
        if case is None:
            raise CaseNotFound(case_id)
        routing = RoutingContext(load_districts(get_settings().districts_file))
        actor = Actor(CENTRE_UNIT, staff_id, case.district)
        version = case.version if expected_version is None else expected_version
        return await recategorise_case(routing, stores, case_id, actor, version, category, reason)
    finally:
        await pool.close()
