"""Each case's clocks and their time left, for the queues and the case page, behind one small interface.

Today the SLA service keeps the clocks and knows the working calendar, so `SlaServiceClocks` asks it
(`GET /v1/clocks`, several cases per request) and gets each clock's time left in its own measure (working
time for working-time clocks). Should it not answer, `CaseDeadlineClocks` shows the case's deadline as
routing learnt it from the SLA's resolve clock (the same deadline; time left in calendar time), and the page
says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from eventcore.logging import get_logger
from services.routing.adapters.learnt_store import deadline_of
from services.routing.domain.learnt import shown_deadline

log = get_logger(__name__)
OPEN_STATES = frozenset({"routed", "accepted", "in_progress", "escalated"})
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
    degraded: bool = False  # the SLA service did not answer: deadlines are routing's own

    def of(self, case_id: str) -> list[ClockLeft]:
        return self.by_case.get(case_id, [])

    def worst(self, case_id: str) -> str:
        statuses = {c.status for c in self.of(case_id) if c.running}
        return "late" if "breached" in statuses else "risk" if "at_risk" in statuses else ""


class ClockSource(Protocol):
    async def clocks(self, cases: Sequence[Mapping[str, Any]]) -> Clocks: ...


class CaseDeadlineClocks:
    """The case's deadline as routing learnt it from its SLA resolve clock (caseline.sla.v1); time left in
    calendar time, since only the SLA service holds the working calendar."""

    async def clocks(self, cases: Sequence[Mapping[str, Any]]) -> Clocks:
        now = datetime.now(UTC)
        by_case = {}
        for row in cases:
            due = shown_deadline(deadline_of(dict(row)), int(row.get("reopen_count") or 0)).due_at
            if due is None or row.get("state") not in OPEN_STATES:
                continue
            left = (due - now).total_seconds()
            status = "breached" if left < 0 else "on_track"
            by_case[str(row["case_id"])] = [ClockLeft("resolve", status, due, left, working=False)]
        return Clocks(by_case, degraded=True)


class SlaServiceClocks:
    """The SLA service's clocks over HTTP; its own deadline fallback when the service does not answer."""

    def __init__(self, base_url: str, timeout: float = 2.0, fallback: ClockSource | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.fallback = fallback or CaseDeadlineClocks()

    async def clocks(self, cases: Sequence[Mapping[str, Any]]) -> Clocks:
        ids = [str(row["case_id"]) for row in cases]
        if not ids:
            return Clocks()
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                answer = await client.get(f"{self.base_url}/v1/clocks", params=[("case_id", i) for i in ids])
            answer.raise_for_status()
            body = answer.json()
            return Clocks({case_id: _parsed(raw) for case_id, raw in body["cases"].items()})
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as error:
            log.warning("sla_clocks_unavailable", error=str(error), url=self.base_url)
            return await self.fallback.clocks(cases)


def _parsed(raw: Sequence[Mapping[str, Any]]) -> list[ClockLeft]:
    clocks = [
        ClockLeft(
            kind=str(c["kind"]),
            status=str(c["status"]),
            deadline=datetime.fromisoformat(c["deadline"]) if c.get("deadline") else None,
            seconds_left=float(c["seconds_left"]) if c.get("seconds_left") is not None else None,
            working=c.get("measure") == "working",
            on_time=c.get("on_time"),
        )
        for c in raw
    ]
    return sorted(
        clocks, key=lambda c: (_KIND_ORDER.get(c.kind, 9), c.deadline or datetime.max.replace(tzinfo=UTC))
    )
