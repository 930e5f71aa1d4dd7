"""The unit workbench's routes (HTML for people, so not in the JSON OpenAPI: docs/workbench.md lists each
route, who may call it and what it answers).

Who: a unit signed in with its credential — a community or street sees the cases it has, the centre every
case of its district, its triage queue and the cases waiting for their callback. Every action is the staff
API's command through the same handlers, so the same rules and authorization decide; the actor is the
session's unit and staff id. A case another unit has answers 404, as in the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from district.directory import Directory
from district.registry import UnknownDistrict
from eventcore.consumer import ServiceStores
from schemas.cases import CaseRouted
from schemas.complaints import ComplaintReceived
from schemas.reference import Category
from services.routing.adapters.case_store import load_case
from services.routing.adapters.case_view import CaseView
from services.routing.adapters.learnt_store import deadline_of
from services.routing.adapters.workbench.changes import CHANNEL, CaseChange
from services.routing.adapters.workbench.clocks import CaseClocks
from services.routing.adapters.workbench.commands import (
    RETURN_GROUNDS,
    FormProblem,
    Submitted,
    run_command,
)
from services.routing.adapters.workbench.history import case_history, fact_value
from services.routing.adapters.workbench.queue import QueueFilter, View, badge_counts, queue_rows, views_for
from services.routing.adapters.workbench.timeline import Timeline
from services.routing.domain.access import CENTRE, Actor
from services.routing.domain.case import case_stream
from services.routing.domain.learnt import shown_deadline
from services.routing.domain.lifecycle import Case, CaseCommandError, CaseState, NotPermitted, UnknownUnit
from services.routing.domain.permissions import StaffCommand, permitted_commands
from services.routing.domain.routing import CENTRE_TRIAGE_UNIT
from services.routing.handlers import CaseNotFound, RoutingContext, StaleCase
from webui.i18n import Translator, language_of
from webui.principals import CredentialBooks, PrincipalKind
from webui.sessions import Session
from webui.settings import WorkbenchSettings
from webui.workbench import BASE, WorkbenchCore

TEMPLATES = Path(__file__).resolve().parent / "templates"


def usable_id(case_id: str) -> bool:
    """A case id a person could have typed or followed: printable and not absurdly long (else 404)."""
    return 0 < len(case_id) <= 200 and case_id.isprintable()


@dataclass
class RoutingWorkbench:
    ctx: RoutingContext
    books: CredentialBooks
    clocks: CaseClocks  # each case's SLA clocks, as routing learnt them, with their time left
    settings: WorkbenchSettings = field(default_factory=WorkbenchSettings)
    development_credentials: list[str] = field(default_factory=list)
    schema: str = "routing"

    def __post_init__(self) -> None:
        self.core = WorkbenchCore(
            "routing",
            TEMPLATES,
            "app.unit_workbench",
            self.books,
            frozenset({PrincipalKind.UNIT}),
            CHANNEL,
            self.settings,
            self.development_credentials,
            ask_staff_id=True,
        )
        self.core.context = self._context
        self.view = CaseView(self.schema)
        self.timeline = Timeline(self.schema)

    def _context(self, request: Request, session: Session | None) -> dict[str, Any]:
        return {
            "who": self.who(request, session) if session else "",
            "unit_name": self.unit_name,
            "compound_name": self.compound_name,
            "fact_value": fact_value,
        }

    def session(self, request: Request) -> Session | None:
        return self.core.session(request)

    @staticmethod
    def actor(session: Session) -> Actor:
        return Actor(session.principal.code, session.staff_id, session.principal.district)

    def directory(self, district: str) -> Directory | None:
        try:
            return self.ctx.of(district).directory
        except UnknownDistrict:
            return None

    def unit_name(self, t: Translator, district: str, unit: str | None) -> str:
        if unit is None:
            return t("unit.joint_meeting")
        if unit in (CENTRE, CENTRE_TRIAGE_UNIT):
            return t(f"unit.{unit}")
        directory = self.directory(district)
        found = (directory.street(unit) or directory.community(unit)) if directory else None
        return found.name_zh if found else unit

    def compound_name(self, district: str, code: str | None) -> str:
        directory = self.directory(district)
        compound = directory.compound(code) if directory and code else None
        return compound.name_zh if compound else (code or "—")

    def who(self, request: Request, session: Session) -> str:
        t = Translator(language_of(request))
        return f"{self.unit_name(t, session.principal.district, session.principal.code)} · {session.staff_id}"

    def render(
        self, request: Request, template: str, session: Session | None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        return self.core.render(request, template, session, status, **context)

    async def nav(self, stores: ServiceStores, actor: Actor, current: str) -> list[dict[str, Any]]:
        async with stores.pool.acquire() as conn:
            counts = await badge_counts(conn, stores.schema, actor)
        keys = {View.MINE: "nav.queue", View.TRIAGE: "nav.triage", View.CALLBACKS: "nav.callbacks"}
        return [
            {
                "href": f"{BASE}/cases?view={v.value}",
                "key": keys.get(v, "nav.all"),
                "current": v.value == current,
                "count": counts.get(v),
            }
            for v in views_for(actor)
        ]

    def router(self) -> APIRouter:
        router = APIRouter(prefix=BASE, include_in_schema=False)
        self.core.routes(router, landing=lambda session: f"{BASE}/cases")
        _queue_routes(self, router)
        _case_routes(self, router)
        return router


def _stores(request: Request) -> ServiceStores:
    stores: ServiceStores = request.app.state.runtime.stores
    return stores


# -- the queues ----------------------------------------------------------------------------------------


async def _queue_context(wb: RoutingWorkbench, request: Request, actor: Actor) -> dict[str, Any]:
    chosen = QueueFilter.parse(actor, dict(request.query_params))
    stores = _stores(request)
    directory = wb.directory(actor.district)
    async with stores.pool.acquire() as conn:
        rows, more = await queue_rows(conn, stores.schema, actor, chosen, directory)
        clocks = await wb.clocks.of(conn, stores.schema, rows)
    return {"rows": rows, "more": more, "clocks": clocks, "chosen": chosen, "actor": actor}


def _queue_routes(wb: RoutingWorkbench, router: APIRouter) -> None:
    @router.get("/cases")
    async def queue(request: Request) -> Response:
        session = wb.session(request)
        if session is None:
            return wb.core.to_sign_in(request)
        actor = wb.actor(session)
        context = await _queue_context(wb, request, actor)
        t = Translator(language_of(request))
        return wb.render(
            request,
            "queue.html",
            session,
            notice=t("done.saved") if request.query_params.get("done") else None,
            nav=await wb.nav(_stores(request), actor, context["chosen"].view.value),
            states=list(CaseState),
            categories=list(Category),
            **context,
        )

    @router.get("/cases/rows")
    async def rows(request: Request) -> Response:
        session = wb.session(request)
        if session is None:
            return wb.core.to_sign_in(request)
        context = await _queue_context(wb, request, wb.actor(session))
        return wb.render(request, "rows.html", session, **context)

    @router.get("/events")
    async def queue_events(request: Request) -> Response:
        session = wb.session(request)
        if session is None:
            return wb.core.to_sign_in(request)
        actor = wb.actor(session)

        def concerns(payload: str) -> bool:
            change = CaseChange.parse(payload)
            return (
                change is not None
                and change.district == actor.district
                and (actor.is_centre or actor.unit_code in change.units)
            )

        return wb.core.stream(request, session, "queue", concerns)


# -- the case page and its actions ----------------------------------------------------------------------


async def _case_context(
    wb: RoutingWorkbench, request: Request, actor: Actor, case_id: str
) -> dict[str, Any] | None:
    """Everything the case page shows, or None when the case is not this unit's to see."""
    if not usable_id(case_id):
        return None
    stores = _stores(request)
    async with stores.pool.acquire() as conn:
        case = await load_case(conn, stores.store, case_id)
        if case is None or not case.visible_to(actor):
            return None
        row = await wb.view.get(conn, case_id)
        own = await stores.store.read_stream(conn, case_stream(case_id))
        others = await wb.timeline.of_case(conn, case_id)
        clocks = await wb.clocks.of(conn, stores.schema, [row] if row else [])
    try:
        routing = wb.ctx.of_case(case)
        permitted = permitted_commands(case, actor, routing.policy)
        if case.unit_code == CENTRE_TRIAGE_UNIT:  # the triage queue is there to be decided: that comes first
            first = StaffCommand.RECATEGORISE if _category_in_triage(case) else StaffCommand.ROUTE
            permitted.sort(key=lambda command: command is not first)
        units = [
            routing.policy.unit(CENTRE),
            *(routing.policy.unit(s.code) for s in routing.directory.streets),
        ]
        units += [routing.policy.unit(c.code) for c in routing.directory.communities]
    except CaseCommandError:  # a district no longer served: the case can be read, not worked
        permitted, units = [], []
    complaint = next((o.data for o in others if o.event_type == ComplaintReceived.event_type), None)
    routed = next((e.data for e in reversed(own) if e.event_type == CaseRouted.event_type), None)
    return {
        "case": case,
        "row": row,
        # The deadline every view shows: the SLA's resolve clock of the case's current round.
        "deadline": shown_deadline(deadline_of(row) if row else None, case.reopen_count),
        "complaint": complaint,
        "routed": routed,
        "history": case_history(own, others),
        "clocks": clocks,
        "permitted": permitted,
        "commands": StaffCommand,
        "units": [u for u in units if u is not None],
        "grounds": RETURN_GROUNDS,
        "categories": categories_for_correction(case),
        "candidates": case.category_decision.candidates if case.category_decision else [],
        "actor": actor,
    }


def _category_in_triage(case: Case) -> bool:
    return case.category_decision is not None and case.category_decision.needs_triage


def categories_for_correction(case: Case) -> list[Category]:
    """Intake's candidates first (the likeliest corrections), then every other category."""
    candidates = [c.category for c in case.category_decision.candidates] if case.category_decision else []
    return [*dict.fromkeys(candidates), *(c for c in Category if c not in candidates)]


def _case_routes(wb: RoutingWorkbench, router: APIRouter) -> None:
    @router.get("/cases/{case_id}")
    async def case_page(request: Request, case_id: str, done: str | None = None) -> Response:
        session = wb.session(request)
        if session is None:
            return wb.core.to_sign_in(request)
        return await _case_answer(wb, request, session, case_id, notice_done=done)

    @router.get("/cases/{case_id}/live")
    async def case_live(request: Request, case_id: str, seen: int = 0) -> Response:
        session = wb.session(request)
        if session is None:
            return wb.core.to_sign_in(request)
        context = await _case_context(wb, request, wb.actor(session), case_id)
        if context is None:
            return Response(status_code=404)
        return wb.render(request, "case_live.html", session, seen=seen, live=True, **context)

    @router.get("/cases/{case_id}/events")
    async def case_events(request: Request, case_id: str) -> Response:
        session = wb.session(request)
        if session is None:
            return wb.core.to_sign_in(request)
        if await _case_context(wb, request, wb.actor(session), case_id) is None:
            return Response(status_code=404)
        return wb.core.stream(request, session, "case", lambda p: p.split("\t", 1)[0] == case_id)

    @router.post("/cases/{case_id}/{command}")
    async def act(request: Request, case_id: str, command: str) -> Response:
        session = wb.session(request)
        if session is None:
            return wb.core.to_sign_in(request)
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if not session.csrf_matches(wb.core.csrf_given(request, fields)):
            return wb.core.refuse_csrf(
                request, session, nav=await wb.nav(_stores(request), wb.actor(session), "")
            )
        chosen = next((c for c in StaffCommand if c.value == command), None)
        if chosen is None or not usable_id(case_id):
            return await _case_answer(wb, request, session, "", status=404)
        return await _act(wb, request, session, case_id, chosen, Submitted(fields))


async def _act(
    wb: RoutingWorkbench,
    request: Request,
    session: Session,
    case_id: str,
    command: StaffCommand,
    form: Submitted,
) -> Response:
    t = Translator(language_of(request))
    actor = wb.actor(session)
    try:
        version = int(form.fields.get("version", ""))
    except ValueError:
        return await _case_answer(wb, request, session, case_id, 422, t("error.invalid", reason="version"))
    try:
        result = await run_command(command, form, t, wb.ctx, _stores(request), case_id, actor, version)
    except FormProblem as problem:
        return await _case_answer(wb, request, session, case_id, 422, t("error.invalid", reason=problem))
    except CaseNotFound:
        return await _case_answer(wb, request, session, case_id, 404)
    except StaleCase as stale:
        said = t("error.stale", current=stale.current, expected=stale.expected)
        return await _case_answer(wb, request, session, case_id, 409, said)
    except NotPermitted as refused:
        return await _case_answer(wb, request, session, case_id, 403, t("error.refused", reason=refused))
    except UnknownUnit as unknown:
        return await _case_answer(wb, request, session, case_id, 422, t("error.refused", reason=unknown))
    except CaseCommandError as invalid:
        return await _case_answer(wb, request, session, case_id, 409, t("error.refused", reason=invalid))
    if result.case.visible_to(actor):
        return RedirectResponse(f"{BASE}/cases/{case_id}?done={command.value}", status_code=303)
    return RedirectResponse(f"{BASE}/cases?done={command.value}", status_code=303)


async def _case_answer(
    wb: RoutingWorkbench,
    request: Request,
    session: Session,
    case_id: str,
    status: int = 200,
    error: str | None = None,
    notice_done: str | None = None,
) -> Response:
    """The case page as it stands now (after a refusal too: the fresh case beside the reason)."""
    t = Translator(language_of(request))
    actor = wb.actor(session)
    context = await _case_context(wb, request, actor, case_id)
    nav = await wb.nav(_stores(request), actor, "")
    if context is None:
        return wb.render(
            request, "error.html", session, 404, nav=nav, error=t("error.not_found"), notice=None
        )
    notice = t("done.saved") if notice_done and status == 200 else None
    return wb.render(
        request,
        "case.html",
        session,
        status,
        nav=nav,
        error=error,
        notice=notice,
        live=False,
        seen=0,
        **context,
    )
