"""The queues a unit works from, read from routing's case read model: its own cases; for the centre also
the triage queue (cases intake could not place), the cases waiting for their callback, and every case."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from district.directory import Directory
from eventcore.database import DbConnection, checked_schema
from schemas.reference import CATEGORY_LABELS_ZH, Category
from services.routing.adapters.case_view import COLUMNS, RUNNING_DUE_AT
from services.routing.adapters.learnt_store import LEARNT_COLUMNS, LEARNT_JOINS
from services.routing.domain.access import Actor
from services.routing.domain.lifecycle import CaseState
from services.routing.domain.routing import CENTRE_TRIAGE_UNIT
from webui.i18n import CATEGORY_LABELS_EN

WITH_A_UNIT = ("routed", "accepted", "in_progress")
NOT_CLOSED = (*WITH_A_UNIT, "escalated", "resolved")
LIMIT = 200


class View(StrEnum):
    MINE = "mine"
    TRIAGE = "triage"
    CALLBACKS = "callbacks"
    ALL = "all"


def views_for(actor: Actor) -> list[View]:
    return [View.TRIAGE, View.CALLBACKS, View.MINE, View.ALL] if actor.is_centre else [View.MINE]


@dataclass(frozen=True)
class QueueFilter:
    view: View
    state: CaseState | None = None
    category: Category | None = None
    query: str = ""
    overdue: bool = False

    @staticmethod
    def parse(actor: Actor, params: dict[str, str]) -> QueueFilter:
        """From the query string; anything unknown is ignored rather than refused (a stale bookmark)."""
        views = views_for(actor)
        view = next((v for v in views if v.value == params.get("view")), views[0])
        state = next((s for s in CaseState if s.value == params.get("state")), None)
        category = next((c for c in Category if c.value == params.get("category")), None)
        query = clean_query(params.get("q", ""))
        return QueueFilter(view, state, category, query, params.get("overdue") in ("1", "on", "true"))


def clean_query(text: str) -> str:
    """What a search box may send: printable, at most 100 characters."""
    return "".join(ch for ch in text if ch.isprintable())[:100].strip()


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _matching_categories(query: str) -> list[str]:
    q = query.lower()
    return [
        c.value
        for c in Category
        if q in CATEGORY_LABELS_ZH[c] or q in CATEGORY_LABELS_EN[c].lower() or q == c.value
    ]


def _matching_compounds(directory: Directory | None, query: str) -> list[str]:
    if directory is None or len(query) < 2:
        return []
    return [c.code for c in directory.compounds if query in c.name_zh][:200]


def _where(actor: Actor, chosen: QueueFilter, directory: Directory | None) -> tuple[list[str], list[object]]:
    where: list[str] = ["v.district = $1"]
    args: list[object] = [actor.district]

    def arg(value: object) -> str:
        args.append(value)
        return f"${len(args)}"

    units = {View.MINE: actor.unit_code, View.TRIAGE: CENTRE_TRIAGE_UNIT}.get(chosen.view)
    if units is not None:
        where.append(f"v.unit_code = {arg(units)}")
    default_states = {View.CALLBACKS: ("resolved",), View.ALL: NOT_CLOSED}.get(chosen.view, WITH_A_UNIT)
    if chosen.state is not None:
        where.append(f"v.state = {arg(chosen.state.value)}")
    else:
        where.append(f"v.state = ANY({arg(list(default_states))}::text[])")
    if chosen.category is not None:
        where.append(f"v.category = {arg(chosen.category.value)}")
    if chosen.overdue:
        where.append(f"{RUNNING_DUE_AT} < now() AND v.state = ANY({arg(list(NOT_CLOSED[:-1]))}::text[])")
    if chosen.query:
        like = arg(_like(chosen.query))
        where.append(
            f"(v.case_id ILIKE {like} OR v.unit_name ILIKE {like} OR v.compound_code ILIKE {like} "
            f"OR v.street_code ILIKE {like} OR v.category = ANY({arg(_matching_categories(chosen.query))}::text[]) "
            f"OR v.compound_code = ANY({arg(_matching_compounds(directory, chosen.query))}::text[]))"
        )
    return where, args


async def queue_rows(
    conn: DbConnection, schema: str, actor: Actor, chosen: QueueFilter, directory: Directory | None
) -> tuple[list[dict[str, Any]], bool]:
    """The rows of the queue (at most LIMIT) and whether there were more."""
    where, args = _where(actor, chosen, directory)
    records = await conn.fetch(
        f"{_select(schema)} WHERE {' AND '.join(where)} "
        f"ORDER BY {RUNNING_DUE_AT} NULLS LAST, v.received_at, v.case_id LIMIT {LIMIT + 1}",
        *args,
    )
    rows = [dict(r) for r in records]
    return rows[:LIMIT], len(rows) > LIMIT


async def badge_counts(conn: DbConnection, schema: str, actor: Actor) -> dict[View, int]:
    """How many cases wait in each of the actor's queues (the navigation's badges)."""
    counts: dict[View, int] = {}
    for view in views_for(actor):
        if view is View.ALL:
            continue
        where, args = _where(actor, QueueFilter(view), None)
        counts[view] = int(
            await conn.fetchval(
                f"SELECT count(*) FROM {_from(schema)} WHERE {' AND '.join(where)}", *args
            )
        )
    return counts


def _from(schema: str) -> str:
    """The case view with what routing learnt of each case (its clock's deadline, the decided lead)."""
    schema = checked_schema(schema)
    return f"{schema}.case_view v {LEARNT_JOINS.format(s=schema)}"


def _select(schema: str) -> str:
    # due_at: the deadline the case is shown with (its current resolve clock's, running), as everywhere.
    columns = ", ".join(f"v.{c}" for c in COLUMNS)
    return f"SELECT {columns}, {LEARNT_COLUMNS}, {RUNNING_DUE_AT} AS due_at FROM {_from(schema)}"
