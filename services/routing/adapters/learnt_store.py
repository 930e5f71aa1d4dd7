"""What routing learnt from the other services, one row per case: its SLA resolve clock and the joint
meeting's decision on who leads.

These rows are not folded from routing's own events (`caseline replay routing` leaves them alone): they are
written from caseline.sla.v1 and caseline.jointmeeting.v1 in the same transaction as the inbox claim, so
each fact is learnt exactly once, and the SLA's and the joint meeting's stores remain their source.
"""

from __future__ import annotations

from typing import Any

from eventcore.database import DbConnection, checked_schema
from schemas.reference import Bureau, Category
from services.routing.domain.learnt import CaseDeadline, DeadlineStatus, JointDecision

LEARNT_DDL = """
CREATE TABLE IF NOT EXISTS {s}.case_deadline (
    case_id text PRIMARY KEY,
    clock_id text NOT NULL,
    generation integer NOT NULL,
    status text NOT NULL,
    deadline timestamptz,
    policy_rule text NOT NULL,
    on_time boolean
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

# What the case view's queries join in, under names of their own (see deadline_of / decision_of_row).
LEARNT_COLUMNS = (
    "d.clock_id AS deadline_clock, d.generation AS deadline_generation, d.status AS deadline_state, "
    "d.deadline AS clock_deadline, d.policy_rule AS deadline_rule, d.on_time AS deadline_on_time, "
    "j.file_id AS joint_meeting_file_id, j.category AS decided_category, j.lead_bureau AS decided_lead, "
    "j.member_bureaus AS decided_bureaus, j.overrode_proposal, j.reason AS lead_decision_reason"
)
LEARNT_JOINS = (
    "LEFT JOIN {s}.case_deadline d USING (case_id) LEFT JOIN {s}.case_joint_decision j USING (case_id)"
)


async def load_deadline(conn: DbConnection, schema: str, case_id: str) -> CaseDeadline | None:
    row = await conn.fetchrow(
        f"SELECT clock_id AS deadline_clock, generation AS deadline_generation, status AS deadline_state, "
        f"deadline AS clock_deadline, policy_rule AS deadline_rule, on_time AS deadline_on_time "
        f"FROM {checked_schema(schema)}.case_deadline WHERE case_id = $1",
        case_id,
    )
    return deadline_of(dict(row)) if row else None


async def save_deadline(conn: DbConnection, schema: str, case_id: str, learnt: CaseDeadline) -> None:
    await conn.execute(
        f"INSERT INTO {checked_schema(schema)}.case_deadline "
        "(case_id, clock_id, generation, status, deadline, policy_rule, on_time) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (case_id) DO UPDATE SET "
        "clock_id = EXCLUDED.clock_id, generation = EXCLUDED.generation, status = EXCLUDED.status, "
        "deadline = EXCLUDED.deadline, policy_rule = EXCLUDED.policy_rule, on_time = EXCLUDED.on_time",
        case_id,
        learnt.clock_id,
        learnt.generation,
        learnt.status.value,
        learnt.deadline,
        learnt.policy_rule,
        learnt.on_time,
    )


async def load_decision(conn: DbConnection, schema: str, case_id: str) -> JointDecision | None:
    row = await conn.fetchrow(
        f"SELECT file_id AS joint_meeting_file_id, category AS decided_category, lead_bureau AS decided_lead, "
        f"member_bureaus AS decided_bureaus, overrode_proposal, reason AS lead_decision_reason "
        f"FROM {checked_schema(schema)}.case_joint_decision WHERE case_id = $1",
        case_id,
    )
    return decision_of_row(dict(row)) if row else None


async def save_decision(conn: DbConnection, schema: str, case_id: str, decided: JointDecision) -> None:
    await conn.execute(
        f"INSERT INTO {checked_schema(schema)}.case_joint_decision "
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


def deadline_of(row: dict[str, Any]) -> CaseDeadline | None:
    """The learnt resolve clock in a row carrying LEARNT_COLUMNS (None when nothing was learnt yet)."""
    if row.get("deadline_clock") is None:
        return None
    return CaseDeadline(
        clock_id=row["deadline_clock"],
        generation=row["deadline_generation"],
        status=DeadlineStatus(row["deadline_state"]),
        deadline=row["clock_deadline"],
        policy_rule=row["deadline_rule"],
        on_time=row["deadline_on_time"],
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
