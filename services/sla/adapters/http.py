"""HTTP: the ops page, its JSON feeds, /metrics, and the pause/resume commands."""

from __future__ import annotations

import asyncio
import html
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from district.directory import Directory
from district.registry import Districts, UnknownDistrict
from eventcore.service import ServiceRuntime
from eventcore.store import ConcurrencyError
from schemas.sla import PauseSlaClocks, ResumeSlaClocks
from services.sla.adapters.watch import Watch
from services.sla.domain.calendar import BEIJING
from services.sla.domain.clocks import Clock, ClockConflict, ClockState, Timing, time_left
from services.sla.domain.rates import Dimension, Period, RateRow, rates
from services.sla.handlers import pause_clocks, resume_clocks
from webui.live import HEARTBEAT_SECONDS, event_stream, retry_hint

PAGE = Path(__file__).resolve().parent.parent / "static" / "ops.html"


@dataclass(frozen=True)
class OpsView:
    watch: Watch
    timing: Timing
    districts: Districts

    def directory(self, district: str) -> Directory | None:
        try:
            return self.districts.directory(district)
        except UnknownDistrict:
            return None

    def district_name(self, district: str) -> str:
        try:
            return self.districts.get(district).name_zh
        except UnknownDistrict:
            return district

    def street_name(self, district: str, code: str | None) -> str:
        directory = self.directory(district)
        street = directory.street(code) if code and directory else None
        return street.name_zh if street else (code or "—")

    def unit_name(self, district: str, dimension: Dimension, code: str) -> str:
        """Names come from the district's own directory: its codes mean nothing in another one."""
        directory = self.directory(district)
        if directory is None:
            return code
        if dimension is Dimension.STREET:
            return self.street_name(district, code)
        found: Any = {
            Dimension.COMMUNITY: directory.community,
            Dimension.COMPANY: directory.company,
        }.get(dimension, lambda _: None)(code)
        return str(found.name_zh) if found is not None else code

    def alerts(
        self, street: str | None, level: str | None, district: str | None = None
    ) -> list[dict[str, Any]]:
        now = self.watch.now()
        rows = []
        for clock in list(self.watch.clocks()):
            status = _status(clock, now)
            if status is None:
                continue
            if district and clock.scope.district != district:
                continue
            if street and clock.scope.street_code != street:
                continue
            if level and clock.scope.level != level:
                continue
            assert clock.deadline is not None
            rows.append(
                {
                    "case_id": clock.case_id,
                    "clock_id": clock.clock_id,
                    "kind": clock.kind.value,
                    "status": status,
                    "deadline": clock.deadline.isoformat(),
                    "seconds_left": round((clock.deadline - now).total_seconds()),
                    "district": clock.scope.district,
                    "district_name": self.district_name(clock.scope.district),
                    "street_code": clock.scope.street_code,
                    "street": self.street_name(clock.scope.district, clock.scope.street_code),
                    "level": clock.scope.level,
                    "unit_code": clock.scope.unit_code,
                    "category": clock.scope.category.value if clock.scope.category else None,
                }
            )
        return sorted(rows, key=lambda r: (r["seconds_left"], r["clock_id"]))

    def rate_rows(
        self, period: Period, dimension: Dimension, district: str | None = None
    ) -> list[dict[str, Any]]:
        rows = rates(
            list(self.watch.cases.values()),
            period,
            self.watch.now(),
            [dimension],
            districts=[district] if district else None,
        )
        return [self._rate_json(row) for row in rows]

    def _rate_json(self, row: RateRow) -> dict[str, Any]:
        return {
            "district": row.district,
            "district_name": self.district_name(row.district),
            "dimension": row.dimension.value,
            "unit_code": row.unit_code,
            "unit": self.unit_name(row.district, row.dimension, row.unit_code),
            "cases": row.tally.cases,
            "response_rate": row.response_rate,
            "resolution_rate": row.resolution_rate,
            "satisfaction_rate": row.satisfaction_rate,
            "on_time_rate": row.on_time_rate,
            "breached": row.tally.breached,
        }


def _status(clock: Clock, now: datetime) -> str | None:
    if clock.state is not ClockState.RUNNING or clock.deadline is None:
        return None
    if clock.breached or now >= clock.deadline:
        return "breached"
    if clock.at_risk_alerted or (clock.at_risk_at is not None and now >= clock.at_risk_at):
        return "at_risk"
    return None


def _current_month(now: datetime) -> str:
    return now.astimezone(BEIJING).strftime("%Y-%m")  # months are Beijing months, like the reports


def ops_router(view: OpsView) -> APIRouter:
    router = APIRouter()

    @router.get("/ops", response_class=HTMLResponse, summary="Live operations page")
    async def ops_page(
        street: str | None = None, level: str | None = None, district: DistrictQuery = None
    ) -> HTMLResponse:
        return HTMLResponse(render_page(view, street, level, _district(view, district)))

    @router.get("/v1/ops/alerts", summary="Open clocks at risk or breached, least time left first")
    async def alerts(
        street: str | None = None, level: str | None = None, district: DistrictQuery = None
    ) -> dict[str, Any]:
        chosen = _district(view, district)
        return {"now": view.watch.now().isoformat(), "alerts": view.alerts(street, level, chosen)}

    @router.get("/v1/ops/rates", summary="The three rates and the on-time rate per unit (and district)")
    async def unit_rates(
        period: str | None = Query(default=None, description="YYYY-MM; default: this month"),
        dimension: Dimension = Dimension.STREET,
        district: DistrictQuery = None,
    ) -> dict[str, Any]:
        chosen = _period(period or _current_month(view.watch.now()))
        return {"period": chosen.label, "rows": view.rate_rows(chosen, dimension, _district(view, district))}

    @router.get(
        "/v1/ops/stream",
        summary="The ops page's live feed (server-sent events): `alerts` on every change, `rates` at most "
        "every 5 s; the same filters as /v1/ops/alerts and /v1/ops/rates",
        response_class=EventSourceResponse,
        responses={
            200: {"description": "text/event-stream of `alerts` and `rates` events (JSON data)"},
            422: {"description": "an unknown district or dimension"},
        },
    )
    async def ops_stream(
        street: str | None = None,
        level: str | None = None,
        district: DistrictQuery = None,
        dimension: Dimension = Dimension.STREET,
    ) -> EventSourceResponse:
        chosen = _district(view, district)
        return event_stream(_ops_events(view, street, level, chosen, dimension))

    @router.get(
        "/v1/clocks",
        summary="The clocks of several cases, each with its time left in its own measure (working time for "
        "working-time clocks); read by routing's workbench for its queues",
        responses={422: {"description": "no case_id, or more than 200"}},
    )
    async def clocks_of_cases(
        case_id: Annotated[list[str], Query(min_length=1, max_length=200, description="repeat per case")],
    ) -> dict[str, Any]:
        now = view.watch.now()
        cases = {c: view.watch.cases.get(c) for c in dict.fromkeys(case_id)}
        return {
            "now": now.isoformat(),
            "cases": {
                cid: [_clock_left_json(view.timing, clock, now) for clock in case.clocks.values()]
                for cid, case in cases.items()
                if case is not None
            },
        }

    @router.get("/v1/cases/{case_id}/clocks", summary="A case's SLA clocks")
    async def case_clocks(case_id: str) -> dict[str, Any]:
        case = view.watch.cases.get(case_id)
        if case is None:
            raise HTTPException(404, {"error": "unknown_case", "detail": f"no clocks for case {case_id!r}"})
        return {"case_id": case_id, "clocks": [_clock_json(c) for c in case.clocks.values()]}

    @router.post("/v1/cases/{case_id}/clocks/pause", summary="Pause the case's clocks, with a reason")
    async def pause(case_id: str, command: PauseSlaClocks, request: Request) -> JSONResponse:
        return await _command(request, lambda uow, now: pause_clocks(view.timing, uow, case_id, command, now))

    @router.post("/v1/cases/{case_id}/clocks/resume", summary="Resume the case's paused clocks")
    async def resume(case_id: str, command: ResumeSlaClocks, request: Request) -> JSONResponse:
        return await _command(
            request, lambda uow, now: resume_clocks(view.timing, uow, case_id, command, now)
        )

    return router


async def _command(request: Request, act: Any) -> JSONResponse:
    runtime: ServiceRuntime = request.app.state.runtime
    stores = runtime.stores
    try:
        async with stores.pool.acquire() as conn, conn.transaction():
            clock_ids = await act(stores.unit_of_work(conn), datetime.now(UTC))
    except LookupError as error:
        return JSONResponse({"error": "unknown_case", "detail": str(error)}, status_code=404)
    except (ClockConflict, ConcurrencyError, asyncpg.UniqueViolationError) as error:
        return JSONResponse({"error": "conflict", "detail": str(error)}, status_code=409)
    return JSONResponse({"clocks": clock_ids})


DistrictQuery = Annotated[
    str | None,
    Query(description="a district's code or name (上党区); default: every district, each row naming its own"),
]


def _district(view: OpsView, given: str | None) -> str | None:
    """The district code a filter names; an unknown one is a 422 naming the districts served."""
    if not given:
        return None
    try:
        return view.districts.find(given).code
    except UnknownDistrict as error:
        raise HTTPException(422, {"error": "unknown_district", "detail": str(error)}) from error


def _period(text: str) -> Period:
    try:
        return Period.month(text)
    except ValueError as error:
        raise HTTPException(422, {"error": "bad_period", "detail": str(error)}) from error


_RATES_EVERY_SECONDS = 5.0
_COALESCE_SECONDS = 0.5


async def _ops_events(
    view: OpsView, street: str | None, level: str | None, district: str | None, dimension: Dimension
) -> AsyncIterator[ServerSentEvent]:
    """Alerts whenever the watch's clocks change (a burst coalesced), rates at most every 5 s."""
    yield retry_hint()
    revision, rates_sent, rates_stale = -1, 0.0, True
    while True:
        wait = _RATES_EVERY_SECONDS if rates_stale else HEARTBEAT_SECONDS
        latest = await view.watch.changed_since(revision, timeout=wait)
        if latest != revision:
            revision, rates_stale = latest, True
            body = {"now": view.watch.now().isoformat(), "alerts": view.alerts(street, level, district)}
            yield ServerSentEvent(json.dumps(body, ensure_ascii=False), event="alerts")
        if rates_stale and time.monotonic() - rates_sent >= _RATES_EVERY_SECONDS:
            period = _period(_current_month(view.watch.now()))
            body = {"period": period.label, "rows": view.rate_rows(period, dimension, district)}
            yield ServerSentEvent(json.dumps(body, ensure_ascii=False), event="rates")
            rates_sent, rates_stale = time.monotonic(), False
        await asyncio.sleep(_COALESCE_SECONDS)


def _clock_left_json(timing: Timing, clock: Clock, now: datetime) -> dict[str, Any]:
    left = time_left(timing, clock, now)  # the calendar is every district's
    status = _status(clock, now) or ("on_track" if clock.state is ClockState.RUNNING else clock.state.value)
    return {
        "clock_id": clock.clock_id,
        "kind": clock.kind.value,
        "state": clock.state.value,
        "status": status,
        "measure": clock.measure.value,
        "deadline": clock.deadline.isoformat() if clock.deadline else None,
        "seconds_left": round(left) if left is not None else None,
        "on_time": clock.on_time,
        "policy_rule": clock.policy_rule,
    }


def _clock_json(clock: Clock) -> dict[str, Any]:
    return {
        "clock_id": clock.clock_id,
        "kind": clock.kind.value,
        "state": clock.state.value,
        "measure": clock.measure.value,
        "budget_seconds": clock.budget_seconds,
        "started_at": clock.started_at.isoformat(),
        "deadline": clock.deadline.isoformat() if clock.deadline else None,
        "stopped_at": clock.stopped_at.isoformat() if clock.stopped_at else None,
        "on_time": clock.on_time,
        "policy_rule": clock.policy_rule,
        "at_risk_alerted": clock.at_risk_alerted,
        "breached": clock.breached,
        "calendar_warning": clock.calendar_warning,
        "scope": clock.scope.model_dump(mode="json"),
    }


def render_page(view: OpsView, street: str | None, level: str | None, district: str | None = None) -> str:
    """The page with its first rows already in it; the script keeps them fresh."""
    rows = "".join(_alert_row(a) for a in view.alerts(street, level, district)) or _EMPTY_ROW
    districts = "".join(
        f'<option value="{html.escape(d.code)}"{" selected" if d.code == district else ""}>'
        f"{html.escape(d.name_zh)}</option>"
        for d in view.districts
    )
    levels = "".join(
        f'<option value="{v}"{" selected" if v == level else ""}>{v}</option>'
        for v in ("centre", "street", "community", "joint_meeting")
    )
    return (
        PAGE.read_text(encoding="utf-8")
        .replace("{{alert_rows}}", rows)
        .replace("{{district_options}}", districts)
        .replace("{{street_options}}", _street_options(view, street, district))
        .replace("{{level_options}}", levels)
    )


def _street_options(view: OpsView, street: str | None, district: str | None) -> str:
    """Each district's streets in a group of their own: street codes are district-local (ST01 is in
    every district), so an option also names its district and the page sends both. The groups of the
    districts not chosen are hidden, not left out, so the page can switch district without a reload."""
    chosen = view.districts.get(district) if district else view.districts.founding
    groups = []
    for d in view.districts:
        options = "".join(
            f'<option value="{html.escape(s.code)}" data-district="{html.escape(d.code)}"'
            f"{' selected' if s.code == street and d is chosen else ''}>{html.escape(s.name_zh)}</option>"
            for s in d.directory.streets
        )
        hidden = " hidden" if district and d.code != district else ""
        groups.append(
            f'<optgroup label="{html.escape(d.name_zh)}" data-district="{html.escape(d.code)}"{hidden}>'
            f"{options}</optgroup>"
        )
    return "".join(groups)


_EMPTY_ROW = '<tr class="empty"><td colspan="8">No case at risk or breached.</td></tr>'


def _alert_row(alert: dict[str, Any]) -> str:
    cells = [
        alert["district_name"],
        alert["case_id"],
        alert["kind"],
        alert["status"],
        _left(alert["seconds_left"]),
        alert["street"],
        alert["level"] or "—",
        alert["unit_code"] or "—",
    ]
    tds = "".join(
        f"<td{' class=left' if i == 4 else ''}>{html.escape(str(c))}</td>" for i, c in enumerate(cells)
    )
    return (
        f'<tr class="{alert["status"]}" data-clock="{html.escape(alert["clock_id"])}" '
        f'data-deadline="{html.escape(alert["deadline"])}">{tds}</tr>'
    )


def _left(seconds: int) -> str:
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    return f"{sign}{s // 3600}h {s % 3600 // 60:02d}m {s % 60:02d}s"
