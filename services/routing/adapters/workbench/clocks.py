"""Each case's clocks and their time left, for the queues and the case page.

Routing keeps every SLA clock of each case as the SLA announced it on caseline.sla.v1 (learnt_store's
`case_clock`), so the workbench reads them from its own schema and counts each clock's time left in the
clock's own measure (working time for working-time clocks) with the same calendar code the SLA counts
with (deadlines/). No call to the SLA service: it need not be up, and routing needs no credential for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from deadlines.calendar import WorkingCalendar
from eventcore.database import DbConnection
from schemas.sla import ClockMeasure
from services.routing.adapters.learnt_store import clocks_of_cases
from services.routing.domain.learnt import LearntClock

_KIND_ORDER = {"dispatch": 0, "contact": 1, "resolve": 2, "task": 3}


@dataclass(frozen=True)
class ClockLeft:
    kind: str  # dispatch, contact, resolve, task
    status: str  # on_track, at_risk, breached, paused, stopped
    deadline: datetime | None
    seconds_left: float | None  # in the clock's own measure; negative: late by that much
    working: bool  # measured in working time (working days of the Chinese calendar)
    on_time: bool | None = None

    @property
    def running(self) -> bool:
        return self.status in ("on_track", "at_risk", "breached")


@dataclass(frozen=True)
class Clocks:
    by_case: dict[str, list[ClockLeft]] = field(default_factory=dict)

    def of(self, case_id: str) -> list[ClockLeft]:
        return self.by_case.get(case_id, [])

    def worst(self, case_id: str) -> str:
        statuses = {c.status for c in self.of(case_id) if c.running}
        return "late" if "breached" in statuses else "risk" if "at_risk" in statuses else ""


@dataclass(frozen=True)
class CaseClocks:
    """The clocks of the cases a page shows, with their time left now."""

    calendar: WorkingCalendar

    async def of(self, conn: DbConnection, schema: str, cases: Sequence[Mapping[str, Any]]) -> Clocks:
        ids = [str(row["case_id"]) for row in cases]
        if not ids:
            return Clocks()
        now = datetime.now(UTC)
        learnt = await clocks_of_cases(conn, schema, ids)
        return Clocks(
            {case_id: _ordered(self.left(c, now) for c in found) for case_id, found in learnt.items()}
        )

    def left(self, clock: LearntClock, now: datetime) -> ClockLeft:
        seconds = clock.time_left(self.calendar, now)
        return ClockLeft(
            kind=clock.kind.value,
            status=clock.standing(now),
            deadline=clock.deadline,
            seconds_left=round(seconds) if seconds is not None else None,
            working=clock.measure is ClockMeasure.WORKING,
            on_time=clock.on_time,
        )


def _ordered(clocks: Iterable[ClockLeft]) -> list[ClockLeft]:
    return sorted(
        clocks, key=lambda c: (_KIND_ORDER.get(c.kind, 9), c.deadline or datetime.max.replace(tzinfo=UTC))
    )
