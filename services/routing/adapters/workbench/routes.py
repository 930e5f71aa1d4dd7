"""The unit workbench's routes (HTML for people, so not in the JSON OpenAPI: docs/workbench.md lists each
route, who may call it and what it answers).

Who: a unit signed in with its credential — a community or street sees the cases it has, the centre every
case of its district, its triage queue and the cases waiting for their callback. Every action is the staff
API's command through the same handlers, so the same rules and authorization decide; the actor is the
session's unit and staff id. A case another unit has answers 404, as in the API.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sse_starlette import ServerSentEvent

from district.directory import Directory
from district.registry import UnknownDistrict
from eventcore.consumer import ServiceStores
from schemas.reference import Category
from services.routing.adapters.case_store import load_case
from services.routing.adapters.case_view import CaseView
from services.routing.adapters.workbench.changes import CHANNEL, CaseChange
from services.routing.adapters.workbench.clocks import ClockSource
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
from services.routing.domain.lifecycle import CaseCommandError, CaseState, NotPermitted, UnknownUnit
from services.routing.domain.permissions import StaffCommand, permitted_commands
from services.routing.domain.routing import CENTRE_TRIAGE_UNIT
from services.routing.handlers import CaseNotFound, RoutingContext, StaleCase
from webui.i18n import Translator, language_of
from webui.live import RESYNC, Notifications, event_stream, gathered, retry_hint
from webui.pages import Pages, static_and_language_routes
from webui.principals import CredentialBooks, PrincipalKind, principal_for
from webui.sessions import CSRF_FIELD, CSRF_HEADER, Session, SessionCookies, SignInThrottle, client_address
from webui.settings import WorkbenchSettings

TEMPLATES = Path(__file__).resolve().parent / "templates"
BASE = "/workbench"


def usable_id(case_id: str) -> bool:
    """A case id a person could have typed or followed: printable and not absurdly long (else 404)."""
    return 0 < len(case_id) <= 200 and case_id.isprintable()


@dataclass
class RoutingWorkbench:
    ctx: RoutingContext
    books: CredentialBooks
    clock_source: ClockSource
    settings: WorkbenchSettings = field(default_factory=WorkbenchSettings)
    development_credentials: list[str] = field(default_factory=list)
    schema: str = "routing"

    def __post_init__(self) -> None:
        self.cookies = SessionCookies("routing", self.settings.secret, self.settings.session_hours * 3600)
        self.pages = Pages(TEMPLATES, "app.unit_workbench")
        self.view = CaseView(self.schema)
        self.timeline = Timeline(self.schema)
        self.changes = Notifications(CHANNEL)
        self.throttle = SignInThrottle(self.settings.sign_in_failures, self.settings.sign_in_window_seconds)

    # -- who is asking ---------------------------------------------------------------------------------

    def session(self, request: Request) -> Session | None:
        session = self.cookies.read(request)
        return session if session is not None and session.principal.kind is PrincipalKind.UNIT else None

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

    # -- pages -----------------------------------------------------------------------------------------

    def render(
        self, request: Request, template: str, session: Session | None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        context.setdefault("nav", [])
        context.setdefault("who", self.who(request, session) if session else "")
        return self.pages.page(
            request,
            template,
            session,
            status,
            unit_name=self.unit_name,
            compound_name=self.compound_name,
            fact_value=fact_value,
            **context,
        )

    def sign_in_page(self, request: Request, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("error", None)
        context.setdefault("notice", None)
        context.setdefault("staff_id", "")
        return self.render(
            request,
            "sign_in.html",
            None,
            status,
            ask_staff_id=True,
            dev_credentials=self.development_credentials,
            **context,
        )

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
        static_and_language_routes(router)
        _session_routes(self, router)
        _queue_routes(self, router)
        _case_routes(self, router)
        return router


def _stores(request: Request) -> ServiceStores:
    stores: ServiceStores = request.app.state.runtime.stores
    return stores


def _stop_event(request: Request) -> asyncio.Event | None:
    return getattr(request.app.state.runtime, "stop", None)


def _dsn(request: Request) -> str | None:
    settings = getattr(request.app.state.runtime, "settings", None)
    return getattr(settings, "database_url", None)


def _to_sign_in(request: Request) -> Response:
    if request.headers.get("hx-request") or request.url.path.endswith("/events"):
        return Response(status_code=401)
    return RedirectResponse(f"{BASE}/sign-in", status_code=303)


# -- signing in and out ------------------------------------------------------------------------------------


def _session_routes(wb: RoutingWorkbench, router: APIRouter) -> None:
    @router.get("")
    @router.get("/")
    async def home(request: Request) -> Response:
        return RedirectResponse(
            f"{BASE}/cases" if wb.session(request) else f"{BASE}/sign-in", status_code=303
        )

    @router.get("/sign-in")
    async def sign_in_form(request: Request, signed_out: bool = False) -> Response:
        if wb.session(request):
            return RedirectResponse(f"{BASE}/cases", status_code=303)
        t = Translator(language_of(request))
        return wb.sign_in_page(request, notice=t("signin.signed_out") if signed_out else None)

    @router.post("/sign-in")
    async def sign_in(request: Request) -> Response:
        t = Translator(language_of(request))
        form = await request.form()
        credential = str(form.get("credential") or "")[:512]
        staff_id = "".join(ch for ch in str(form.get("staff_id") or "") if ch.isprintable()).strip()[:64]
        client = client_address(request)
        if wb.throttle.blocked(client):
            return wb.sign_in_page(request, 429, error=t("signin.throttled"), staff_id=staff_id)
        principal = principal_for(credential, wb.books)
        if principal is None:
            wb.throttle.failed(client)
            return wb.sign_in_page(request, 401, error=t("signin.failed"), staff_id=staff_id)
        if principal.kind is not PrincipalKind.UNIT:
            return wb.sign_in_page(request, 403, error=t("signin.wrong_kind"), staff_id=staff_id)
        if not staff_id:
            return wb.sign_in_page(request, 422, error=t("signin.staff_required"))
        wb.throttle.succeeded(client)
        response = RedirectResponse(f"{BASE}/cases", status_code=303)
        wb.cookies.issue(response, request, wb.cookies.new_session(principal, staff_id))
        return response

    @router.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        session = wb.session(request)
        form = await request.form()
        if session is not None and not session.csrf_matches(str(form.get(CSRF_FIELD) or "")):
            return _csrf_refused(wb, request, session)
        response = RedirectResponse(f"{BASE}/sign-in?signed_out=true", status_code=303)
        wb.cookies.clear(response, request)
        return response


def _csrf_refused(wb: RoutingWorkbench, request: Request, session: Session) -> HTMLResponse:
    t = Translator(language_of(request))
    return wb.render(request, "error.html", session, 403, error=t("error.csrf"), notice=None)


# -- the queues ----------------------------------------------------------------------------------------


async def _queue_context(wb: RoutingWorkbench, request: Request, actor: Actor) -> dict[str, Any]:
    chosen = QueueFilter.parse(actor, dict(request.query_params))
    stores = _stores(request)
    directory = wb.directory(actor.district)
    async with stores.pool.acquire() as conn:
        rows, more = await queue_rows(conn, stores.schema, actor, chosen, directory)
    clocks = await wb.clock_source.clocks(rows)
    return {"rows": rows, "more": more, "clocks": clocks, "chosen": chosen, "actor": actor}


def _queue_routes(wb: RoutingWorkbench, router: APIRouter) -> None:
    @router.get("/cases")
    async def queue(request: Request) -> Response:
        session = wb.session(request)
        if session is None:
            return _to_sign_in(request)
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
            return _to_sign_in(request)
        context = await _queue_context(wb, request, wb.actor(session))
        return wb.render(request, "rows.html", session, **context)

    @router.get("/events")
    async def queue_events(request: Request) -> Response:
        session = wb.session(request)
        if session is None:
            return _to_sign_in(request)
        actor = wb.actor(session)

        def concerns(change: CaseChange) -> bool:
            return change.district == actor.district and (actor.is_centre or actor.unit_code in change.units)

        return _stream(wb, request, session, "queue", concerns)


def _stream(wb: RoutingWorkbench, request: Request, session: Session, name: str, concerns: Any) -> Response:
    """An event stream sending `name` once per burst of changes that concern this person (and once on
    connecting, so a page that missed something while it loaded or reconnected refreshes)."""
    dsn = _dsn(request)
    if dsn:
        wb.changes.start(dsn, _stop_event(request))
    ends_at = wb.cookies.expires_at(session)

    async def events() -> AsyncIterator[ServerSentEvent]:
        with wb.changes.subscribe() as queue:
            yield retry_hint()
            yield ServerSentEvent("changed", event=name)
            while datetime.now(UTC).timestamp() < ends_at:
                payloads = await gathered(queue, timeout=30)
                changes = [CaseChange.parse(p) for p in payloads if p != RESYNC]
                if RESYNC in payloads or any(c is not None and concerns(c) for c in changes):
                    yield ServerSentEvent("changed", event=name)

    return event_stream(events())


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
    now = datetime.now(UTC)
    try:
        routing = wb.ctx.of_case(case)
        permitted = permitted_commands(case, actor, routing.policy, now)
        units = [
            routing.policy.unit(CENTRE),
            *(routing.policy.unit(s.code) for s in routing.directory.streets),
        ]
        units += [routing.policy.unit(c.code) for c in routing.directory.communities]
    except CaseCommandError:  # a district no longer served: the case can be read, not worked
        permitted, units = [], []
    complaint = next((o.data for o in others if o.event_type == "ComplaintReceived"), None)
    routed = next((e.data for e in reversed(own) if e.event_type == "CaseRouted"), None)
    clocks = await wb.clock_source.clocks([row] if row else [])
    return {
        "case": case,
        "row": row,
        "complaint": complaint,
        "routed": routed,
        "history": case_history(own, others),
        "clocks": clocks,
        "permitted": permitted,
        "commands": StaffCommand,
        "units": [u for u in units if u is not None],
        "grounds": RETURN_GROUNDS,
        "actor": actor,
    }


def _case_routes(wb: RoutingWorkbench, router: APIRouter) -> None:
    @router.get("/cases/{case_id}")
    async def case_page(request: Request, case_id: str, done: str | None = None) -> Response:
        session = wb.session(request)
        if session is None:
            return _to_sign_in(request)
        return await _case_answer(wb, request, session, case_id, notice_done=done)

    @router.get("/cases/{case_id}/live")
    async def case_live(request: Request, case_id: str, seen: int = 0) -> Response:
        session = wb.session(request)
        if session is None:
            return _to_sign_in(request)
        context = await _case_context(wb, request, wb.actor(session), case_id)
        if context is None:
            return Response(status_code=404)
        return wb.render(request, "case_live.html", session, seen=seen, live=True, **context)

    @router.get("/cases/{case_id}/events")
    async def case_events(request: Request, case_id: str) -> Response:
        session = wb.session(request)
        if session is None:
            return _to_sign_in(request)
        if await _case_context(wb, request, wb.actor(session), case_id) is None:
            return Response(status_code=404)
        return _stream(wb, request, session, "case", lambda change: change.case_id == case_id)

    @router.post("/cases/{case_id}/{command}")
    async def act(request: Request, case_id: str, command: str) -> Response:
        session = wb.session(request)
        if session is None:
            return _to_sign_in(request)
        form = await request.form()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if not session.csrf_matches(fields.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)):
            return _csrf_refused(wb, request, session)
        chosen = next((c for c in StaffCommand if c.value == command), None)
        if chosen is None or not usable_id(case_id):
            return await _case_answer(wb, request, session, case_id, status=404)
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
