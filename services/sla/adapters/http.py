"""HTTP: the ops page, its JSON feeds, /metrics, and the pause/resume commands.

Who may do what (docs/security.md): pausing and resuming clocks needs a unit token (centre, street or
community) and is confined to that unit's district and, below the centre, to the cases the unit handles; the
actor on the event is the unit with the staff id the body names (`<unit>/<staff id>`). The ops page's feeds
and a case's clocks are open in development; in production they answer a unit token only, confined the
same way (the page asks for the token and keeps it in the browser's session storage).
"""

# No `from __future__ import annotations`: FastAPI must see the closures' dependency types at runtime.

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
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from deadlines.calendar import BEIJING
from deadlines.timing import Timing
from district.directory import Directory
from district.registry import Districts, UnknownDistrict
from district.unit_tokens import CENTRE, UNIT
from eventcore.auth import Authenticator, Principal
from eventcore.http import Refusal, Refusals, error_responses
from eventcore.service import ServiceRuntime
from eventcore.store import ConcurrencyError
from schemas.sla import PauseSlaClocks, ResumeSlaClocks
from services.sla.adapters.clock_store import load_case
from services.sla.adapters.watch import Watch
from services.sla.domain.clocks import Clock, ClockConflict, status
from services.sla.domain.rates import Dimension, Period, RateRow, rates
from services.sla.handlers import pause_clocks, resume_clocks
from webui.live import HEARTBEAT_SECONDS, event_stream, retry_hint

PAGE = Path(__file__).resolve().parent.parent / "static" / "ops.html"


@dataclass(frozen=True)
class OpsView:
    watch: Watch
    timing: Timing
    districts: Districts
    auth: Authenticator | None = None  # None: no credential can act (the view alone, e.g. in tests)
    open_reads: bool = True  # development: the ops feeds answer without a token

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
        self,
        street: str | None,
        level: str | None,
        district: str | None = None,
        reader: Principal | None = None,
    ) -> list[dict[str, Any]]:
        now = self.watch.now()
        rows = []
        for clock in list(self.watch.clocks()):
            status = _status(clock, now)
            if status is None:
                continue
            if reader is not None and not _sees(reader, clock.scope):
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
        districts = [district] if district else None
        rows = rates(
            list(self.watch.cases.values()), period, self.watch.now(), [dimension], districts=districts
        )
        # Cases closed long ago are no longer in memory: their part is in the watch's archive.
        rows = self.watch.archive.with_rates(rows, period, dimension, districts)
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


def _sees(unit: Principal, scope: Any) -> bool:
    """A unit sees its own district's clocks; below the centre, only those of the cases it handles (a street
    also those in its street)."""
    if scope is None or scope.district != unit.district:
        return False
    if unit.name == CENTRE:
        return True
    return bool(scope.unit_code == unit.name or scope.street_code == unit.name)


def _status(clock: Clock, now: datetime) -> str | None:
    """at_risk or breached: what the ops page lists (a clock on track is not an alert)."""
    found = status(clock, now)
    return found if found != "on_track" else None


def _current_month(now: datetime) -> str:
    return now.astimezone(BEIJING).strftime("%Y-%m")  # months are Beijing months, like the reports


REFUSALS = Refusals(
    {
        LookupError: Refusal(404, "unknown_case"),
        ClockConflict: Refusal(409, "conflict"),
        ConcurrencyError: Refusal(409, "conflict"),
        asyncpg.UniqueViolationError: Refusal(409, "conflict"),
    }
)
_error = REFUSALS.error


def ops_router(view: OpsView) -> APIRouter:
    router = APIRouter()
    acting = view.auth.requiring(UNIT) if view.auth else _nobody

    async def reading(request: Request) -> Principal | None:
        """The reader of the ops feeds: nobody needed in development, a unit token in production."""
        if view.open_reads and not request.headers.get("authorization"):
            return None
        return await acting(request, None)

    Reader = Annotated[Principal | None, Depends(reading)]
    reads = error_responses(401, 403, 422) if not view.open_reads else error_responses(401, 422)

    @router.get("/ops", response_class=HTMLResponse, summary="Live operations page")
    async def ops_page(
        street: str | None = None, level: str | None = None, district: DistrictQuery = None
    ) -> HTMLResponse:
        # In production the page is a shell: its rows come from the feeds, with the reader's token.
        if not view.open_reads:
            return HTMLResponse(render_page(view, None, None, None, rows=False))
        # A page answers with a page: a district it does not know shows every district.
        known = district if district and _known_district(view, district) else None
        return HTMLResponse(render_page(view, street, level, _district(view, known)))

    @router.get(
        "/v1/ops/alerts", summary="Open clocks at risk or breached, least time left first", responses=reads
    )
    async def alerts(
        reader: Reader, street: str | None = None, level: str | None = None, district: DistrictQuery = None
    ) -> dict[str, Any]:
        chosen = _district(view, district)
        return {"now": view.watch.now().isoformat(), "alerts": view.alerts(street, level, chosen, reader)}

    @router.get(
        "/v1/ops/rates",
        summary="The three rates and the on-time rate per unit (and district)",
        responses=reads,
    )
    async def unit_rates(
        reader: Reader,
        period: str | None = Query(default=None, description="YYYY-MM; default: this month"),
        dimension: Dimension = Dimension.STREET,
        district: DistrictQuery = None,
    ) -> dict[str, Any]:
        chosen = _period(period or _current_month(view.watch.now()))
        wanted = reader.district if reader is not None else _district(view, district)
        return {"period": chosen.label, "rows": view.rate_rows(chosen, dimension, wanted)}

    _live_routes(router, view, reading, reads)
    _command_routes(router, view, acting)
    return router


def _live_routes(router: APIRouter, view: OpsView, reading: Any, reads: dict[int | str, dict[str, Any]]) -> None:
    """The ops page's live feed and one case's clocks, for the same readers as the alerts and rates."""
    Reader = Annotated[Principal | None, Depends(reading)]

    @router.get(
        "/v1/ops/stream",
        summary="The ops page's live feed (server-sent events): `alerts` on every change, `rates` at most "
        "every 5 s; the same filters as /v1/ops/alerts and /v1/ops/rates",
        response_class=EventSourceResponse,
        responses={
            200: {
                "description": "text/event-stream of `alerts` and `rates` events (JSON data)",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            **reads,
        },
    )
    async def ops_stream(
        reader: Reader,
        street: str | None = None,
        level: str | None = None,
        district: DistrictQuery = None,
        dimension: Dimension = Dimension.STREET,
    ) -> EventSourceResponse:
        chosen = _district(view, district)
        wanted = reader.district if reader is not None else chosen
        return event_stream(_ops_events(view, street, level, chosen, dimension, reader, wanted))

    @router.get(
        "/v1/cases/{case_id}/clocks",
        summary="A case's SLA clocks",
        responses={**reads, **error_responses(404)},
    )
    async def case_clocks(case_id: str, reader: Reader, request: Request) -> dict[str, Any]:
        case = view.watch.cases.get(case_id)
        if case is None:  # a case closed long ago has left the watch's memory, not the store
            stores = request.app.state.runtime.stores
            async with stores.pool.acquire() as conn:
                case = (await load_case(stores.bind(conn), case_id)).state
        if case is None or (reader is not None and not _sees(reader, case.scope)):
            raise _error(404, "unknown_case", f"no clocks for case {case_id!r}")
        return {"case_id": case_id, "clocks": [_clock_json(c) for c in case.clocks.values()]}


def _command_routes(router: APIRouter, view: OpsView, acting: Any) -> None:
    """Pause and resume: a unit of the case's district that may see the case; the actor is `<unit>/<staff>`."""
    Acting = Annotated[Principal, Depends(acting)]
    command_statuses = error_responses(401, 403, 404, 409, 422)

    @router.post(
        "/v1/cases/{case_id}/clocks/pause",
        summary="Pause the case's clocks, with a reason (a unit token of the case's district and unit)",
        responses=command_statuses,
    )
    async def pause(case_id: str, command: PauseSlaClocks, unit: Acting, request: Request) -> JSONResponse:
        _may_act(view, unit, case_id)
        stamped = command.model_copy(update={"actor": f"{unit.name}/{command.actor}"})
        return await _command(request, lambda uow, now: pause_clocks(view.timing, uow, case_id, stamped, now))

    @router.post(
        "/v1/cases/{case_id}/clocks/resume",
        summary="Resume the case's paused clocks (a unit token of the case's district and unit)",
        responses=command_statuses,
    )
    async def resume(case_id: str, command: ResumeSlaClocks, unit: Acting, request: Request) -> JSONResponse:
        _may_act(view, unit, case_id)
        stamped = command.model_copy(update={"actor": f"{unit.name}/{command.actor}"})
        return await _command(
            request, lambda uow, now: resume_clocks(view.timing, uow, case_id, stamped, now)
        )


async def _nobody(request: Request, credentials: Any = None) -> Principal:
    raise _error(401, "unauthorized", "this service accepts no credential")


def _may_act(view: OpsView, unit: Principal, case_id: str) -> None:
    """Another district's case, or a case another unit handles, is unknown to this unit (404)."""
    case = view.watch.cases.get(case_id)
    if case is None or not _sees(unit, case.scope):
        raise _error(404, "unknown_case", f"no clocks for case {case_id!r} that unit {unit.name} handles")


async def _command(request: Request, act: Any) -> JSONResponse:
    runtime: ServiceRuntime = request.app.state.runtime
    stores = runtime.stores
    with REFUSALS.as_http():
        async with stores.unit_of_work() as uow:
            clock_ids = await act(uow, datetime.now(UTC))
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


def _known_district(view: OpsView, given: str) -> bool:
    try:
        view.districts.find(given)
    except UnknownDistrict:
        return False
    return True


def _period(text: str) -> Period:
    try:
        return Period.month(text)
    except ValueError as error:
        raise HTTPException(422, {"error": "bad_period", "detail": str(error)}) from error


_RATES_EVERY_SECONDS = 5.0
_COALESCE_SECONDS = 0.5


async def _ops_events(
    view: OpsView,
    street: str | None,
    level: str | None,
    district: str | None,
    dimension: Dimension,
    reader: Principal | None,
    rates_district: str | None,
) -> AsyncIterator[ServerSentEvent]:
    """Alerts whenever the watch's clocks change (a burst coalesced), rates at most every 5 s."""
    yield retry_hint()
    revision, rates_sent, rates_stale = -1, 0.0, True
    while True:
        wait = _RATES_EVERY_SECONDS if rates_stale else HEARTBEAT_SECONDS
        latest = await view.watch.changed_since(revision, timeout=wait)
        if latest != revision:
            revision, rates_stale = latest, True
            alerts = view.alerts(street, level, district, reader)
            body = {"now": view.watch.now().isoformat(), "alerts": alerts}
            yield ServerSentEvent(json.dumps(body, ensure_ascii=False), event="alerts")
        if rates_stale and time.monotonic() - rates_sent >= _RATES_EVERY_SECONDS:
            period = _period(_current_month(view.watch.now()))
            body = {"period": period.label, "rows": view.rate_rows(period, dimension, rates_district)}
            yield ServerSentEvent(json.dumps(body, ensure_ascii=False), event="rates")
            rates_sent, rates_stale = time.monotonic(), False
        await asyncio.sleep(_COALESCE_SECONDS)


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


def render_page(
    view: OpsView, street: str | None, level: str | None, district: str | None = None, *, rows: bool = True
) -> str:
    """The page with its first rows already in it (development); the script keeps them fresh."""
    first = "".join(_alert_row(a) for a in view.alerts(street, level, district)) if rows else ""
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
        .replace("{{alert_rows}}", first or _EMPTY_ROW)
        .replace("{{auth_required}}", "false" if view.open_reads else "true")
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
