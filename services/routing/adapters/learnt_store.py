"""What routing learnt from the other services: every SLA clock of each case, and the joint meeting's
decision on who leads.

These rows are not folded from routing's own events: they are written from caseline.sla.v1 and
caseline.jointmeeting.v1 in the same transaction as the inbox claim, so each fact is learnt exactly once,
and the SLA's and the joint meeting's stores remain their source (`caseline replay routing` learns them
again from there). A case's deadline is the row of its current resolve clock (`<case>/resolve/<reopen
count>`), joined in by LEARNT_JOINS. Handlers and the operator's tools (`caseline replay routing`,
`caseline routing explain`) read and write these rows in a unit of work (learnt_clock, keep_clock,
learnt_decision, keep_decision), written at once so a later message of the batch reads them; the
workbench reads many cases' clocks on a connection (clocks_of_cases).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventcore.database import DbConnection, checked_schema
from eventcore.unit_of_work import UnitOfWork
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
LEARNT_JOINS = (
    "LEFT JOIN {s}.case_clock d ON d.case_id = v.case_id AND d.kind = 'resolve' "
    "AND d.generation = v.reopen_count "
    "LEFT JOIN {s}.case_joint_decision j ON j.case_id = v.case_id"
)


async def learnt_clock(uow: UnitOfWork, case_id: str, clock_id: str) -> LearntClock | None:
    row = await uow.conn.fetchrow(
        f"SELECT {', '.join(_CLOCK_FIELDS)} FROM {checked_schema(uow.store.schema)}.case_clock "
        "WHERE case_id = $1 AND clock_id = $2",
        case_id,
        clock_id,
    )
    return _clock(dict(row)) if row else None


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


async def keep_clock(uow: UnitOfWork, case_id: str, learnt: LearntClock) -> None:
    updates = ", ".join(f"{field} = EXCLUDED.{field}" for field in _CLOCK_FIELDS[1:])
    await uow.conn.execute(
        f"INSERT INTO {checked_schema(uow.store.schema)}.case_clock (case_id, {', '.join(_CLOCK_FIELDS)}) "
        f"VALUES ({', '.join(f'${i}' for i in range(1, len(_CLOCK_FIELDS) + 2))}) "
        f"ON CONFLICT (case_id, clock_id) DO UPDATE SET {updates}",
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


async def learnt_decision(uow: UnitOfWork, case_id: str) -> JointDecision | None:
    row = await uow.conn.fetchrow(
        f"SELECT file_id AS joint_meeting_file_id, category AS decided_category, lead_bureau AS decided_lead, "
        f"member_bureaus AS decided_bureaus, overrode_proposal, reason AS lead_decision_reason "
        f"FROM {checked_schema(uow.store.schema)}.case_joint_decision WHERE case_id = $1",
        case_id,
    )
    return decision_of_row(dict(row)) if row else None


async def keep_decision(uow: UnitOfWork, case_id: str, decided: JointDecision) -> None:
    await uow.conn.execute(
        f"INSERT INTO {checked_schema(uow.store.schema)}.case_joint_decision "
        "(case_id, file_id, category, lead_bureau, member_bureaus, overrode_proposal, reason) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (case_id) DO UPDATE SET "
        "file_id = EXCLUDED.file_id, category = EXCLUDED.category, lead_bureau = EXCLUDED.lead_bureau, "
        "member_bureaus = EXCLUDED.member_bureaus, overrode_proposal = EXCLUDED.overrode_proposal, "
        "reason = EXCLUDED.reason",
        case_id,
        decided.file_id,
        decided.category.value,
        decided.lead.value,
        [b.value for b in decided.bureaus],
        decided.overrode_proposal,
        decided.reason,
    )


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
