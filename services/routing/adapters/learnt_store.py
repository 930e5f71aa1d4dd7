"""What routing learnt from the other services: every SLA clock of each case, and the joint meeting's
decision on who leads.

These rows are not folded from routing's own events: they are written from caseline.sla.v1 and
caseline.jointmeeting.v1 in the same transaction as the inbox claim, so each fact is learnt exactly once,
and the SLA's and the joint meeting's stores remain their source (`caseline replay routing` learns them
again from there). A case's deadline is the row of its current resolve clock (`<case>/resolve/<reopen
count>`), joined in by LEARNT_JOINS. Handlers and the operator's tools (`caseline replay routing`,
`caseline routing explain`) read and write these rows in a unit of work (learnt_clock, keep_clock,
learnt_decision, keep_decision): what is read or kept is remembered there, so a later message of the batch
reads what an earlier one learnt, and what is kept is written at the flush, a batch's rows in one
statement; a consumer batch's preload reads the rows its messages touch in one query (learnt_clocks,
learnt_decisions). The workbench reads many cases' clocks on a connection (clocks_of_cases).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Generic, TypeVar

from eventcore.database import DbConnection, checked_schema, copy_rows, row_per_key
from eventcore.unit_of_work import RowWriter, UnitOfWork
from schemas.reference import Bureau, Category
from schemas.sla import ClockKind, ClockMeasure
from services.routing.domain.learnt import DeadlineStatus, JointDecision, LearntClock

# routing.case_deadline (one row per case, its resolve clock) came first; case_clock replaced it and holds
# every clock. The old table is left alone (a replica not yet upgraded may still write it) and no longer
# read; `caseline replay routing` fills case_clock from the SLA's store.
LEARNT_DDL = """
CREATE TABLE IF NOT EXISTS {s}.case_clock (
    case_id text NOT NULL,
    clock_id text NOT NULL,
    kind text NOT NULL,
    generation integer NOT NULL,
    measure text NOT NULL,
    status text NOT NULL,
    deadline timestamptz,
    at_risk_at timestamptz,
    budget_seconds double precision NOT NULL,
    consumed_seconds double precision NOT NULL,
    policy_rule text NOT NULL,
    on_time boolean,
    at_risk_alerted boolean NOT NULL,
    breached boolean NOT NULL,
    PRIMARY KEY (case_id, clock_id)
);
CREATE TABLE IF NOT EXISTS {s}.case_joint_decision (
    case_id text PRIMARY KEY,
    file_id text NOT NULL,
    category text NOT NULL,
    lead_bureau text NOT NULL,
    member_bureaus text[] NOT NULL,
    overrode_proposal boolean NOT NULL,
    reason text NOT NULL
);
"""

_CLOCK_FIELDS = (
    "clock_id",
    "kind",
    "generation",
    "measure",
    "status",
    "deadline",
    "at_risk_at",
    "budget_seconds",
    "consumed_seconds",
    "policy_rule",
    "on_time",
    "at_risk_alerted",
    "breached",
)
# The current resolve clock's columns, as the case view's queries join them in (see deadline_of).
_DEADLINE_ALIASES = {field: f"resolve_{field}" for field in _CLOCK_FIELDS}
LEARNT_COLUMNS = ", ".join(f"d.{field} AS {alias}" for field, alias in _DEADLINE_ALIASES.items()) + (
    ", j.file_id AS joint_meeting_file_id, j.category AS decided_category, j.lead_bureau AS decided_lead, "
    "j.member_bureaus AS decided_bureaus, j.overrode_proposal, j.reason AS lead_decision_reason"
)
K = TypeVar("K")
V = TypeVar("V")
ReadRows = Callable[[DbConnection, str, Sequence[K]], Awaitable[dict[K, V]]]  # (conn, schema, keys)
WriteRows = Callable[[DbConnection, str, Sequence[tuple[K, V]]], Awaitable[None]]
LEARNT_JOINS = (
    "LEFT JOIN {s}.case_clock d ON d.case_id = v.case_id AND d.kind = 'resolve' "
    "AND d.generation = v.reopen_count "
    "LEFT JOIN {s}.case_joint_decision j ON j.case_id = v.case_id"
)


class LearntRows(Generic[K, V]):
    """One table of learnt rows as a unit of work sees them: read for many keys in one query (a consumer
    batch's preload) or for one when nothing was preloaded, remembered in the unit of work, and kept
    there, so a later message of the batch reads what an earlier one learnt, all of a batch's rows written
    at its flush in one statement (`uow.add_rows`)."""

    def __init__(self, read: ReadRows[K, V], write: WriteRows[K, V]) -> None:
        self._read = read
        self._write = write
        self._writers: dict[str, RowWriter] = {}

    async def get(self, uow: UnitOfWork, key: K) -> V | None:
        known = self._known(uow)
        if key in known:  # a handler's read after the batch's preload: no query, no list
            return known[key]
        return (await self.get_many(uow, [key]))[key]

    async def get_many(self, uow: UnitOfWork, keys: Iterable[K]) -> dict[K, V | None]:
        """Each key's row (None: not learnt), read in one query for those this unit of work has not seen."""
        known = self._known(uow)
        wanted = list(dict.fromkeys(keys))
        unseen = [key for key in wanted if key not in known]
        if unseen:
            found = await self._read(uow.conn, checked_schema(uow.store.schema), unseen)
            known.update((key, found.get(key)) for key in unseen)
        return {key: known[key] for key in wanted}

    def keep(self, uow: UnitOfWork, key: K, value: V) -> None:
        self._known(uow)[key] = value
        uow.add_rows(self._writer(uow.store.schema), [(key, value)])

    def _known(self, uow: UnitOfWork) -> dict[K, V | None]:
        known: dict[K, V | None] = uow.seen.setdefault((id(self), uow.store.schema), {})
        return known

    def _writer(self, schema: str) -> RowWriter:
        # One writer per schema, the same each time: the unit of work gathers rows by writer.
        writer = self._writers.get(schema)
        if writer is None:
            s = checked_schema(schema)

            async def writer(conn: DbConnection, rows: Sequence[tuple[K, V]]) -> None:
                # The last value of each key: a batch may move one clock several times.
                await self._write(conn, s, list(dict(rows).items()))

            self._writers[schema] = writer
        return writer


ClockKey = tuple[str, str]  # (case id, clock id)


async def _read_clocks(
    conn: DbConnection, s: str, keys: Sequence[ClockKey]
) -> dict[ClockKey, LearntClock]:
    clocks = row_per_key(f"{s}.case_clock", "c", case_id="$1::text[]", clock_id="$2::text[]")
    rows = await conn.fetch(
        f"SELECT c.case_id, {', '.join(f'c.{field}' for field in _CLOCK_FIELDS)} FROM {clocks}",
        [case_id for case_id, _ in keys],
        [clock_id for _, clock_id in keys],
    )
    return {(row["case_id"], row["clock_id"]): _clock(dict(row)) for row in rows}


def _clock_row(case_id: str, learnt: LearntClock) -> tuple[Any, ...]:
    """A clock as case_clock's columns: case_id, then _CLOCK_FIELDS in order."""
    return (
        case_id,
        learnt.clock_id,
        learnt.kind.value,
        learnt.generation,
        learnt.measure.value,
        learnt.status.value,
        learnt.deadline,
        learnt.at_risk_at,
        learnt.budget_seconds,
        learnt.consumed_seconds,
        learnt.policy_rule,
        learnt.on_time,
        learnt.at_risk_alerted,
        learnt.breached,
    )


async def _write_clocks(conn: DbConnection, s: str, rows: Sequence[tuple[ClockKey, LearntClock]]) -> None:
    if not rows:
        return
    updates = ", ".join(f"{field} = EXCLUDED.{field}" for field in _CLOCK_FIELDS[1:])
    columns = zip(*(_clock_row(case_id, learnt) for (case_id, _), learnt in rows), strict=True)
    await conn.execute(
        f"INSERT INTO {s}.case_clock (case_id, {', '.join(_CLOCK_FIELDS)}) "
        f"SELECT * FROM unnest({_CLOCK_ARRAY_TYPES}) "
        f"ON CONFLICT (case_id, clock_id) DO UPDATE SET {updates}",
        *map(list, columns),
    )


_CLOCK_ARRAY_TYPES = ", ".join(
    f"${i}::{kind}[]"
    for i, kind in enumerate(
        (
            "text",  # case_id
            "text",  # clock_id
            "text",  # kind
            "integer",  # generation
            "text",  # measure
            "text",  # status
            "timestamptz",  # deadline
            "timestamptz",  # at_risk_at
            "double precision",  # budget_seconds
            "double precision",  # consumed_seconds
            "text",  # policy_rule
            "boolean",  # on_time
            "boolean",  # at_risk_alerted
            "boolean",  # breached
        ),
        start=1,
    )
)


async def _read_decisions(conn: DbConnection, s: str, case_ids: Sequence[str]) -> dict[str, JointDecision]:
    decisions = row_per_key(f"{s}.case_joint_decision", "d", case_id="$1::text[]")
    rows = await conn.fetch(
        "SELECT d.case_id, d.file_id AS joint_meeting_file_id, d.category AS decided_category, "
        "d.lead_bureau AS decided_lead, d.member_bureaus AS decided_bureaus, d.overrode_proposal, "
        f"d.reason AS lead_decision_reason FROM {decisions}",
        list(case_ids),
    )
    return {row["case_id"]: decided for row in rows if (decided := decision_of_row(dict(row))) is not None}


def _decision_row(case_id: str, decided: JointDecision) -> tuple[Any, ...]:
    """A decision as case_joint_decision's columns, in _DECISION_COLUMNS order."""
    return (
        case_id,
        decided.file_id,
        decided.category.value,
        decided.lead.value,
        [b.value for b in decided.bureaus],
        decided.overrode_proposal,
        decided.reason,
    )


_DECISION_COLUMNS = (
    "case_id",
    "file_id",
    "category",
    "lead_bureau",
    "member_bureaus",
    "overrode_proposal",
    "reason",
)


async def _write_decisions(conn: DbConnection, s: str, rows: Sequence[tuple[str, JointDecision]]) -> None:
    # executemany, not unnest: member_bureaus is an array per row.
    updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in _DECISION_COLUMNS[1:])
    await conn.executemany(
        f"INSERT INTO {s}.case_joint_decision ({', '.join(_DECISION_COLUMNS)}) "
        f"VALUES ({', '.join(f'${i}' for i in range(1, len(_DECISION_COLUMNS) + 1))}) "
        f"ON CONFLICT (case_id) DO UPDATE SET {updates}",
        [_decision_row(case_id, decided) for case_id, decided in rows],
    )


async def replace_clocks(conn: DbConnection, schema: str, clocks: Iterable[tuple[str, LearntClock]]) -> int:
    """Every learnt clock replaced by these, folded again from the SLA's store (a replay): one TRUNCATE,
    which holds the table until the caller's transaction commits, and one COPY. Returns the rows."""
    rows = [_clock_row(case_id, learnt) for case_id, learnt in clocks]
    return await _replace(conn, schema, "case_clock", ("case_id", *_CLOCK_FIELDS), rows)


async def replace_decisions(
    conn: DbConnection, schema: str, decisions: Iterable[tuple[str, JointDecision]]
) -> int:
    """Every decided lead replaced by these, folded again from the joint meeting's store (a replay)."""
    rows = [_decision_row(case_id, decided) for case_id, decided in decisions]
    return await _replace(conn, schema, "case_joint_decision", _DECISION_COLUMNS, rows)


async def _replace(
    conn: DbConnection, schema: str, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> int:
    await conn.execute(f"TRUNCATE {checked_schema(schema)}.{table}")
    return await copy_rows(conn, schema, table, columns, rows)


LEARNT_CLOCKS: LearntRows[ClockKey, LearntClock] = LearntRows(_read_clocks, _write_clocks)
LEARNT_DECISIONS: LearntRows[str, JointDecision] = LearntRows(_read_decisions, _write_decisions)


async def learnt_clock(uow: UnitOfWork, case_id: str, clock_id: str) -> LearntClock | None:
    return await LEARNT_CLOCKS.get(uow, (case_id, clock_id))


async def learnt_clocks(uow: UnitOfWork, keys: Iterable[ClockKey]) -> None:
    """Read these clocks into the unit of work in one query (a batch's preload)."""
    await LEARNT_CLOCKS.get_many(uow, keys)


async def keep_clock(uow: UnitOfWork, case_id: str, learnt: LearntClock) -> None:
    """Kept in the unit of work (a later learnt_clock in it reads it) and written at its flush."""
    LEARNT_CLOCKS.keep(uow, (case_id, learnt.clock_id), learnt)


async def clocks_of_cases(
    conn: DbConnection, schema: str, case_ids: Sequence[str]
) -> dict[str, list[LearntClock]]:
    """Every clock routing learnt for these cases, in the order they started."""
    rows = await conn.fetch(
        f"SELECT case_id, {', '.join(_CLOCK_FIELDS)} FROM {checked_schema(schema)}.case_clock "
        "WHERE case_id = ANY($1::text[]) ORDER BY case_id, clock_id",
        list(case_ids),
    )
    found: dict[str, list[LearntClock]] = {}
    for row in rows:
        found.setdefault(row["case_id"], []).append(_clock(dict(row)))
    return found


async def learnt_decision(uow: UnitOfWork, case_id: str) -> JointDecision | None:
    return await LEARNT_DECISIONS.get(uow, case_id)


async def learnt_decisions(uow: UnitOfWork, case_ids: Iterable[str]) -> dict[str, JointDecision | None]:
    """These cases' decisions, read into the unit of work in one query for those it has not seen."""
    return await LEARNT_DECISIONS.get_many(uow, case_ids)


async def keep_decision(uow: UnitOfWork, case_id: str, decided: JointDecision) -> None:
    """Kept in the unit of work (a later load of the case in it knows it) and written at its flush."""
    LEARNT_DECISIONS.keep(uow, case_id, decided)


def deadline_of(row: dict[str, Any]) -> LearntClock | None:
    """The current resolve clock in a row carrying LEARNT_COLUMNS (None when it has not started)."""
    if row.get("resolve_clock_id") is None:
        return None
    return _clock({field: row[alias] for field, alias in _DEADLINE_ALIASES.items()})


def _clock(row: dict[str, Any]) -> LearntClock:
    return LearntClock(
        clock_id=row["clock_id"],
        kind=ClockKind(row["kind"]),
        generation=row["generation"],
        measure=ClockMeasure(row["measure"]),
        status=DeadlineStatus(row["status"]),
        deadline=row["deadline"],
        at_risk_at=row["at_risk_at"],
        budget_seconds=row["budget_seconds"],
        consumed_seconds=row["consumed_seconds"],
        policy_rule=row["policy_rule"],
        on_time=row["on_time"],
        at_risk_alerted=row["at_risk_alerted"],
        breached=row["breached"],
    )


def decision_of_row(row: dict[str, Any]) -> JointDecision | None:
    if row.get("joint_meeting_file_id") is None:
        return None
    return JointDecision(
        file_id=row["joint_meeting_file_id"],
        category=Category(row["decided_category"]),
        lead=Bureau(row["decided_lead"]),
        bureaus=tuple(Bureau(b) for b in row["decided_bureaus"]),
        overrode_proposal=row["overrode_proposal"],
        reason=row["lead_decision_reason"],
    )
