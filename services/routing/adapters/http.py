"""The staff API: units list their cases, act on them and read their history (OpenAPI at /docs).

A token speaks for one unit of one district, and a unit only ever sees its own district's cases: another
district's case answers 404 exactly like a case that does not exist.

Every request carries its unit's bearer token; every command names the staff member acting and the case
version they saw, so a command decided on a stale view fails with 409 instead of overwriting.
Errors are JSON: {"detail": {"error": <code>, "message": <text>, ...}}.
"""

# No `from __future__ import annotations`: FastAPI must see the closures' dependency types at runtime.

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from district.unit_tokens import UNIT, StaffUnit
from eventcore.auth import Authenticator, Principal
from eventcore.consumer import ServiceStores
from eventcore.http import Refusal, Refusals, error_responses
from eventcore.service import ServiceRuntime
from eventcore.store import RecordedEvent
from schemas.cases import CallbackOutcome, EscalationTrigger
from schemas.reference import Category
from services.routing import handlers
from services.routing.adapters.case_store import load_case
from services.routing.adapters.case_view import CaseView
from services.routing.adapters.learnt_store import deadline_of, decision_of_row
from services.routing.domain.access import Actor
from services.routing.domain.case import case_stream
from services.routing.domain.learnt import DeadlineStatus, shown_deadline
from services.routing.domain.lifecycle import CaseCommandError, CaseState, NotPermitted, UnknownUnit
from services.routing.handlers import CaseNotFound, CommandResult, RoutingContext, StaleCase

# Deep offsets are refused rather than scanned: a unit that needs more pages narrows its filter.
MAX_OFFSET = 100_000


class Unit(BaseModel):
    unit_code: str
    district: str

    def as_actor(self, staff_id: str = "-") -> Actor:
        return Actor(self.unit_code, staff_id, self.district)


class CaseSummary(BaseModel):
    """A row of the case read model."""

    case_id: str
    district: str = Field(description="The district the case belongs to")
    version: int = Field(description="Send it back as expected_version when acting on the case")
    state: CaseState
    category: str
    urgency: str
    channel: str
    received_at: datetime
    compound_code: str | None
    street_code: str | None
    level: str | None
    unit_code: str | None = Field(description="Who has the case; null while the joint meeting has it")
    unit_name: str | None
    rule_id: str
    rules_version: str
    due_at: datetime | None = Field(
        description="The deadline of the case's SLA resolve clock (the only deadline there is); "
        "null while it is pending or paused, see deadline_status"
    )
    deadline_status: DeadlineStatus = Field(
        description="pending: the SLA has not started the clock of the case's current round yet (just "
        "opened, in the centre's triage queue, or just reopened); running; paused; stopped (resolved)"
    )
    deadline_clock: str | None = Field(default=None, description="The SLA clock the deadline is from")
    deadline_rule: str | None = Field(default=None, description="The SLA policy rule that set it")
    overdue: bool
    return_count: int
    reopen_count: int
    complainant_count: int
    escalations: list[str]
    callback_outcome: str | None
    lead_bureau: str | None = Field(
        default=None,
        description="Who leads at the joint meeting: its decision once made, else routing's proposal",
    )
    lead_decided: bool = Field(
        default=False, description="True when lead_bureau is the joint meeting's decision"
    )
    member_bureaus: list[str] = Field(
        default_factory=list, description="The decided member bureaus, lead first"
    )
    joint_meeting_file_id: str | None = None
    lead_decision_reason: str | None = Field(
        default=None, description="Why the joint meeting decided so, and which proposal it overrode"
    )


class HistoryEntry(BaseModel):
    version: int
    event_type: str
    recorded_at: datetime
    actor: str
    data: dict[str, Any]


class Acted(BaseModel):
    case_id: str
    version: int
    state: CaseState
    unit_code: str | None
    events: list[str] = Field(description="The events the command recorded, in order")


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expected_version: int = Field(ge=1, description="The case version the staff member acted on")
    staff_id: str = Field(min_length=1, max_length=64, description="Who acts, recorded on every event")


class NoteProgress(Command):
    note: str = Field(min_length=1, max_length=4000)
    photo_refs: list[str] = Field(default_factory=list, description="References to stored photos, not bytes")


class Resolve(Command):
    resolution: str = Field(min_length=1, max_length=4000, description="How the problem was resolved")
    evidence_refs: list[str] = Field(
        default_factory=list, max_length=50, description="References to photos or documents showing it"
    )


class Return(Command):
    reason: str = Field(min_length=1, max_length=2000, description="Why it is not this unit's responsibility")


class Route(Command):
    unit_code: str = Field(min_length=1, description="Centre, street or community code")


class Escalate(Command):
    trigger: Literal["unit_request", "sla_watch"] = "unit_request"
    reason: str = Field(min_length=1, max_length=2000)


class Callback(Command):
    outcome: CallbackOutcome
    note: str = Field(default="", max_length=2000)


class Recategorise(Command):
    category: Category = Field(description="The Caseline category the case really is")
    reason: str = Field(min_length=1, max_length=2000, description="Why: what the description really says")


class Reopen(Command):
    detail: str = Field(min_length=1, max_length=2000, description="What the repeat complaint says")


def _versions(stale: Exception) -> Mapping[str, object]:
    assert isinstance(stale, StaleCase)
    return {"current_version": stale.current, "expected_version": stale.expected}


REFUSALS = Refusals(
    {
        CaseNotFound: Refusal(404, "not_found", message=lambda missing: f"no case {missing} for this unit"),
        StaleCase: Refusal(409, "stale_version", extra=_versions),
        NotPermitted: Refusal(403),
        UnknownUnit: Refusal(422),
        CaseCommandError: Refusal(409),
    }
)
READ = error_responses(401, 403, 404, 422)
COMMAND = error_responses(401, 403, 404, 409, 422)
AnyDependency = Callable[..., Any]


def _stores(request: Request) -> ServiceStores:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime.stores


StoresDep = Annotated[ServiceStores, Depends(_stores)]


def staff_router(ctx: RoutingContext, auth: Authenticator) -> APIRouter:
    router = APIRouter(prefix="/cases", tags=["cases"])
    calling_unit = auth.requiring(UNIT)

    def acting_unit(principal: Annotated[Principal, Depends(calling_unit)]) -> Unit:
        unit = StaffUnit.of(principal)
        return Unit(unit_code=unit.unit_code, district=unit.district)

    _read_routes(router, CaseView("routing"), acting_unit)
    _command_routes(router, ctx, acting_unit)
    return router


def _not_found(case_id: str, unit: Unit) -> HTTPException:
    return REFUSALS.error(404, "not_found", f"no case {case_id!r} for unit {unit.unit_code}")


def _read_routes(router: APIRouter, view: CaseView, acting_unit: AnyDependency) -> None:
    UnitDep = Annotated[Unit, Depends(acting_unit)]

    @router.get(
        "",
        response_model=list[CaseSummary],
        summary="My unit's cases (the centre: every case of its district)",
        responses=error_responses(401, 403, 422),
    )
    async def list_cases(
        unit: UnitDep,
        db: StoresDep,
        state: CaseState | None = None,
        category: Category | None = None,
        overdue: bool | None = Query(default=None, description="Only late (true) or only on-time (false)"),
        limit: int = Query(default=100, ge=1, le=1000),
        offset: int = Query(default=0, ge=0, le=MAX_OFFSET),
    ) -> list[CaseSummary]:
        units = None if unit.unit_code == "centre" else [unit.unit_code]
        async with db.pool.acquire() as conn:
            rows = await view.search(
                conn,
                district=unit.district,
                units=units,
                state=state.value if state else None,
                category=category.value if category else None,
                overdue=overdue,
                limit=limit,
                offset=offset,
            )
        return [_summary(row) for row in rows]

    @router.get("/{case_id}", response_model=CaseSummary, summary="One case as it stands", responses=READ)
    async def get_case(case_id: str, unit: UnitDep, db: StoresDep) -> CaseSummary:
        async with db.pool.acquire() as conn:
            row = await view.get(conn, case_id)
            case = await load_case(conn, db.store, case_id) if row else None
        if row is None or case is None or not case.visible_to(unit.as_actor()):
            raise _not_found(case_id, unit)
        return _summary(row)

    @router.get(
        "/{case_id}/history",
        response_model=list[HistoryEntry],
        summary="Every event of the case",
        responses=READ,
    )
    async def history(case_id: str, unit: UnitDep, db: StoresDep) -> list[HistoryEntry]:
        async with db.pool.acquire() as conn:
            case = await load_case(conn, db.store, case_id)
            if case is None or not case.visible_to(unit.as_actor()):
                raise _not_found(case_id, unit)
            recorded = await db.store.read_stream(conn, case_stream(case_id))
        return [_history_entry(r) for r in recorded]


def _history_entry(recorded: RecordedEvent) -> HistoryEntry:
    return HistoryEntry(
        version=recorded.stream_version,
        event_type=recorded.event_type,
        recorded_at=recorded.recorded_at,
        actor=str(recorded.metadata.get("actor")),
        data={k: v for k, v in recorded.data.items() if k != "case_id"},
    )


def _actor(unit: Unit, body: Command) -> Actor:
    return unit.as_actor(body.staff_id)


async def _acted(command: Awaitable[CommandResult]) -> Acted:
    """Runs a command handler; what it refuses answers as REFUSALS say."""
    with REFUSALS.as_http():
        result = await command
    case = result.case
    return Acted(
        case_id=case.case_id,
        version=case.version,
        state=case.state,
        unit_code=case.unit_code,
        events=[e.event_type for e in result.events],
    )


def _command_routes(router: APIRouter, ctx: RoutingContext, acting_unit: AnyDependency) -> None:
    """Every command names the staff member acting and the version they saw (`Command`)."""
    UnitDep = Annotated[Unit, Depends(acting_unit)]

    @router.post(
        "/{case_id}/accept", response_model=Acted, summary="The unit takes the case on", responses=COMMAND
    )
    async def accept(case_id: str, body: Command, unit: UnitDep, db: StoresDep) -> Acted:
        return await _acted(handlers.accept_case(db, case_id, _actor(unit, body), body.expected_version))

    @router.post(
        "/{case_id}/progress",
        response_model=Acted,
        summary="Record progress (notes, photo references)",
        responses=COMMAND,
    )
    async def progress(case_id: str, body: NoteProgress, unit: UnitDep, db: StoresDep) -> Acted:
        by, seen = _actor(unit, body), body.expected_version
        return await _acted(handlers.note_progress(db, case_id, by, seen, body.note, body.photo_refs))

    @router.post(
        "/{case_id}/resolve",
        response_model=Acted,
        summary="Record how the problem was resolved",
        responses=COMMAND,
    )
    async def resolve(case_id: str, body: Resolve, unit: UnitDep, db: StoresDep) -> Acted:
        by, seen = _actor(unit, body), body.expected_version
        return await _acted(handlers.resolve_case(db, case_id, by, seen, body.resolution, body.evidence_refs))

    @router.post(
        "/{case_id}/return",
        response_model=Acted,
        summary="Return a case that is not ours (退单)",
        responses=COMMAND,
    )
    async def return_(case_id: str, body: Return, unit: UnitDep, db: StoresDep) -> Acted:
        by, seen = _actor(unit, body), body.expected_version
        return await _acted(handlers.return_case(ctx, db, case_id, by, seen, body.reason))

    @router.post(
        "/{case_id}/route",
        response_model=Acted,
        summary="The centre routes a case by hand",
        responses=COMMAND,
    )
    async def route(case_id: str, body: Route, unit: UnitDep, db: StoresDep) -> Acted:
        by, seen = _actor(unit, body), body.expected_version
        return await _acted(handlers.route_case(ctx, db, case_id, by, seen, body.unit_code))

    _follow_up_routes(router, ctx, acting_unit)


def _follow_up_routes(router: APIRouter, ctx: RoutingContext, acting_unit: AnyDependency) -> None:
    """Escalation, callback, recategorisation and reopening: what happens to a case after its unit acted."""
    UnitDep = Annotated[Unit, Depends(acting_unit)]

    @router.post(
        "/{case_id}/escalate", response_model=Acted, summary="Ask for the joint meeting", responses=COMMAND
    )
    async def escalate(case_id: str, body: Escalate, unit: UnitDep, db: StoresDep) -> Acted:
        by, seen, trigger = _actor(unit, body), body.expected_version, EscalationTrigger(body.trigger)
        return await _acted(handlers.escalate_case(ctx, db, case_id, by, seen, trigger, body.reason))

    @router.post(
        "/{case_id}/callback", response_model=Acted, summary="Record the callback (回访)", responses=COMMAND
    )
    async def callback(case_id: str, body: Callback, unit: UnitDep, db: StoresDep) -> Acted:
        by, seen = _actor(unit, body), body.expected_version
        return await _acted(handlers.record_callback(ctx, db, case_id, by, seen, body.outcome, body.note))

    @router.post(
        "/{case_id}/recategorise",
        response_model=Acted,
        summary="The centre corrects the category; the case is routed again when the new one needs it",
        responses=COMMAND,
    )
    async def recategorise(case_id: str, body: Recategorise, unit: UnitDep, db: StoresDep) -> Acted:
        by, seen, category = _actor(unit, body), body.expected_version, body.category
        return await _acted(handlers.recategorise_case(ctx, db, case_id, by, seen, category, body.reason))

    @router.post(
        "/{case_id}/reopen",
        response_model=Acted,
        summary="Reopen a closed case (repeat complaint)",
        responses=COMMAND,
    )
    async def reopen(case_id: str, body: Reopen, unit: UnitDep, db: StoresDep) -> Acted:
        by, seen = _actor(unit, body), body.expected_version
        return await _acted(handlers.reopen_case(ctx, db, case_id, by, seen, body.detail))


# The row's own columns; the deadline and the lead are what routing learnt, shown by the rules in learnt.py.
_LEARNT_FIELDS = {
    "due_at",
    "deadline_status",
    "deadline_clock",
    "deadline_rule",
    "overdue",
    "lead_bureau",
    "lead_decided",
    "member_bureaus",
    "joint_meeting_file_id",
    "lead_decision_reason",
}
_CASE_FACTS = set(CaseSummary.model_fields) - _LEARNT_FIELDS


def _summary(row: dict[str, Any]) -> CaseSummary:
    shown = shown_deadline(deadline_of(row), row["reopen_count"])
    open_case = row["state"] in ("routed", "accepted", "in_progress", "escalated")
    decided = decision_of_row(row)
    facts = {k: v for k, v in row.items() if k in _CASE_FACTS}
    return CaseSummary(
        **facts,
        due_at=shown.due_at,
        deadline_status=shown.status,
        deadline_clock=shown.clock_id,
        deadline_rule=shown.policy_rule,
        overdue=open_case and shown.overdue(datetime.now(UTC)),
        lead_bureau=decided.lead.value if decided else row.get("proposed_lead_bureau"),
        lead_decided=decided is not None,
        member_bureaus=[b.value for b in decided.bureaus] if decided else [],
        joint_meeting_file_id=decided.file_id if decided else None,
        lead_decision_reason=decided.reason if decided else None,
    )
