"""The joint-meeting workbench's routes (HTML for people, so not in the JSON OpenAPI: docs/workbench.md lists
each route, who may call it and what it answers).

Who: the district joint-meeting office's staff (their office credential) work the files; a member bureau
(its bureau credential) sees its own board and reports on its own tasks, and nothing else. Every action is
the HTTP API's command through the same handlers and domain decisions; another district's file or task
answers 404, another bureau's task 403, as in the API.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from deadlines.timing import Timing
from district.registry import Districts, UnknownDistrict
from eventcore.consumer import ServiceStores
from eventcore.store import ConcurrencyError
from schemas.bureau import ReportKind
from schemas.reference import Bureau, Category
from services.jointmeeting.adapters import views
from services.jointmeeting.adapters.file_store import load_file
from services.jointmeeting.adapters.workbench.changes import CHANNEL, FileChange
from services.jointmeeting.adapters.workbench.forms import (
    Decide,
    FormProblem,
    bureau_report,
    file_command,
    for_input,
    hold_command,
    task_command,
)
from services.jointmeeting.domain.errors import CommandRefused, NotFound, StaleFile, WrongBureau
from services.jointmeeting.domain.permissions import OfficeCommand, bureau_reports, office_permissions
from services.jointmeeting.domain.state import FileState
from services.jointmeeting.domain.tasks import proposed_due, time_left
from services.jointmeeting.handlers import handle_office_command, report_on_task
from webui.i18n import Translator, language_of
from webui.principals import CredentialBooks, PrincipalKind
from webui.sessions import Session
from webui.settings import WorkbenchSettings
from webui.workbench import BASE, WorkbenchCore

TEMPLATES = Path(__file__).resolve().parent / "templates"
SHOWS = ("needs_meeting", "open", "completed", "all")


def usable_id(value: str) -> bool:
    return 0 < len(value) <= 200 and value.isprintable()


def _stores(request: Request) -> ServiceStores:
    stores: ServiceStores = request.app.state.runtime.stores
    return stores


@dataclass
class LoadedState:
    state: FileState
    version: int


@dataclass(frozen=True)
class TaskLeft:
    seconds: float
    working: bool  # counted in working time, as the task's SLA clock counts it


@dataclass
class JointMeetingWorkbench:
    books: CredentialBooks
    districts: Districts
    timing: Timing  # the SLA policies and calendar: a task's default deadline and its time left
    settings: WorkbenchSettings = field(default_factory=WorkbenchSettings)
    development_credentials: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.core = WorkbenchCore(
            "jointmeeting",
            TEMPLATES,
            "app.jm_workbench",
            self.books,
            frozenset({PrincipalKind.OFFICE, PrincipalKind.BUREAU}),
            CHANNEL,
            self.settings,
            self.development_credentials,
        )
        self.core.context = self._context

    def _context(self, request: Request, session: Session | None) -> dict[str, Any]:
        t = Translator(language_of(request))
        return {
            "who": self.who(t, session) if session else "",
            "compound_name": self.compound_name,
            "for_input": for_input,
            "bureaus": list(Bureau),
            "nav": self.nav(session) if session else [],
            "task_left": self.task_left,
        }

    def task_left(self, district: str, category: str, due_at: datetime) -> TaskLeft:
        seconds, working = time_left(self.timing, district, Category(category), due_at, datetime.now(UTC))
        return TaskLeft(seconds, working)

    def who(self, t: Translator, session: Session) -> str:
        district = self.district_name(session.principal.district)
        if session.principal.kind is PrincipalKind.BUREAU:
            return f"{district} · {t.bureau(session.principal.code)}"
        return f"{district} · {t('app.jm_workbench')} · {session.staff_id}"

    def nav(self, session: Session) -> list[dict[str, Any]]:
        if session.principal.kind is PrincipalKind.BUREAU:
            return [{"href": f"{BASE}/board", "key": "nav.board", "current": True, "count": None}]
        return [{"href": f"{BASE}/files", "key": "nav.files", "current": True, "count": None}]

    def district_name(self, district: str) -> str:
        try:
            return self.districts.get(district).name_zh
        except UnknownDistrict:
            return district

    def compound_name(self, district: str, code: str | None) -> str:
        try:
            compound = self.districts.directory(district).compound(code) if code else None
        except UnknownDistrict:
            compound = None
        return compound.name_zh if compound else (code or "—")

    def office(self, request: Request) -> Session | None:
        session = self.core.session(request)
        return session if session and session.principal.kind is PrincipalKind.OFFICE else None

    def bureau(self, request: Request) -> Session | None:
        session = self.core.session(request)
        return session if session and session.principal.kind is PrincipalKind.BUREAU else None

    def not_yours(self, request: Request) -> Response:
        """Signed in, but as the other kind (a bureau at the office's pages, or the reverse), or not at all."""
        session = self.core.session(request)
        if session is None:
            return self.core.to_sign_in(request)
        t = Translator(language_of(request))
        return self.core.render(request, "error.html", session, 403, error=t("error.forbidden"))

    def router(self) -> APIRouter:
        router = APIRouter(prefix=BASE, include_in_schema=False)
        self.core.routes(router, landing=_landing)
        _office_routes(self, router)
        _file_action_routes(self, router)
        _bureau_routes(self, router)
        return router


def _landing(session: Session) -> str:
    return f"{BASE}/board" if session.principal.kind is PrincipalKind.BUREAU else f"{BASE}/files"


async def _loaded(request: Request, file_id: str, district: str) -> LoadedState | None:
    if not usable_id(file_id):
        return None
    stores = _stores(request)
    async with stores.pool.acquire() as conn:
        loaded = await load_file(stores.bind(conn), file_id)
    if loaded.state is None or loaded.state.district != district:
        return None
    return LoadedState(loaded.state, loaded.version)


# -- the office: files ---------------------------------------------------------------------------------


async def _files_context(request: Request, session: Session) -> dict[str, Any]:
    show = request.query_params.get("show")
    show = show if show in SHOWS else "needs_meeting"
    completed = {"open": False, "completed": True, "needs_meeting": False}.get(show)
    needs = True if show == "needs_meeting" else None
    stores = _stores(request)
    async with stores.pool.acquire() as conn:
        files = await views.files(
            conn, stores.schema, session.principal.district, completed=completed, needs_meeting=needs
        )
    return {"files": files, "show": show, "shows": SHOWS}


def _office_routes(wb: JointMeetingWorkbench, router: APIRouter) -> None:
    @router.get("/files")
    async def files(request: Request) -> Response:
        session = wb.office(request)
        if session is None:
            return wb.not_yours(request)
        return wb.core.render(request, "files.html", session, **await _files_context(request, session))

    @router.get("/files/rows")
    async def file_rows(request: Request) -> Response:
        session = wb.office(request)
        if session is None:
            return wb.core.to_sign_in(request)
        return wb.core.render(request, "files_region.html", session, **await _files_context(request, session))

    @router.get("/events")
    async def events(request: Request) -> Response:
        session = wb.core.session(request)
        if session is None:
            return wb.core.to_sign_in(request)
        principal = session.principal

        def concerns(payload: str) -> bool:
            change = FileChange.parse(payload)
            if change is None or change.district != principal.district:
                return False
            return principal.kind is PrincipalKind.OFFICE or principal.code in change.bureaus

        return wb.core.stream(request, session, "files", concerns)

    @router.get("/files/{file_id}/live")
    async def file_live(request: Request, file_id: str, seen: int = 0) -> Response:
        session = wb.office(request)
        if session is None:
            return wb.core.to_sign_in(request)
        loaded = await _loaded(request, file_id, session.principal.district)
        if loaded is None:
            return Response(status_code=404)
        return wb.core.render(
            request, "file_live.html", session, live=True, seen=seen, **_file_context(wb, loaded)
        )

    @router.get("/files/{file_id}/events")
    async def file_events(request: Request, file_id: str) -> Response:
        session = wb.office(request)
        if session is None:
            return wb.core.to_sign_in(request)
        if await _loaded(request, file_id, session.principal.district) is None:
            return Response(status_code=404)
        return wb.core.stream(request, session, "file", lambda p: p.split("\t", 1)[0] == file_id)

    @router.get("/files/{file_id}")
    async def file_page(request: Request, file_id: str, done: str | None = None) -> Response:
        session = wb.office(request)
        if session is None:
            return wb.not_yours(request)
        return await _file_answer(wb, request, session, file_id, notice_done=done)


def _file_context(wb: JointMeetingWorkbench, loaded: LoadedState) -> dict[str, Any]:
    now = datetime.now(UTC)
    state = loaded.state
    return {
        "file": state,
        "version": loaded.version,
        "permissions": office_permissions(state, now, wb.timing),
        "commands": OfficeCommand,
        "open_tasks": [t for t in state.tasks.values() if t.is_open],
        "now": now,
        # what a task given now without a date is due by: the SLA policy's task budget
        "proposed_due": proposed_due(wb.timing, state.district, state.category, now),
    }


async def _file_answer(
    wb: JointMeetingWorkbench,
    request: Request,
    session: Session,
    file_id: str,
    status: int = 200,
    error: str | None = None,
    notice_done: str | None = None,
) -> Response:
    t = Translator(language_of(request))
    loaded = await _loaded(request, file_id, session.principal.district)
    if loaded is None:
        return wb.core.render(request, "error.html", session, 404, error=t("error.not_found"))
    notice = t("done.saved") if notice_done and status == 200 else None
    return wb.core.render(
        request,
        "file.html",
        session,
        status,
        error=error,
        notice=notice,
        live=False,
        seen=0,
        **_file_context(wb, loaded),
    )


def _file_action_routes(wb: JointMeetingWorkbench, router: APIRouter) -> None:
    @router.post("/files/{file_id}/meetings/{meeting_id}/hold")
    async def hold(request: Request, file_id: str, meeting_id: str) -> Response:
        async def decide(session: Session, form: FormData, t: Translator) -> Decide:
            loaded = await _loaded(request, file_id, session.principal.district)
            open_ids = [t.task_id for t in loaded.state.tasks.values() if t.is_open] if loaded else []
            return hold_command(meeting_id, open_ids, form, t, wb.timing)

        return await _office_act(wb, request, file_id, decide)

    @router.post("/files/{file_id}/tasks/{task_id}/{command}")
    async def on_task(request: Request, file_id: str, task_id: str, command: str) -> Response:
        chosen = next((c for c in OfficeCommand if c.value == command), None)

        async def decide(session: Session, form: FormData, t: Translator) -> Decide:
            if chosen is None:
                raise NotFound(f"no command {command!r}")
            return task_command(chosen, task_id, form, t)

        return await _office_act(wb, request, file_id, decide)

    @router.post("/files/{file_id}/{command}")
    async def on_file(request: Request, file_id: str, command: str) -> Response:
        chosen = next((c for c in OfficeCommand if c.value == command), None)

        async def decide(session: Session, form: FormData, t: Translator) -> Decide:
            if chosen is None:
                raise NotFound(f"no command {command!r}")
            return file_command(chosen, form, t, session.staff_id, wb.timing)

        return await _office_act(wb, request, file_id, decide)


async def _office_act(wb: JointMeetingWorkbench, request: Request, file_id: str, decide: Any) -> Response:
    """CSRF, the form as the API's body, the command through the office handler at the version seen."""
    session = wb.office(request)
    if session is None:
        return wb.not_yours(request)
    t = Translator(language_of(request))
    form = await request.form()
    if not session.csrf_matches(wb.core.csrf_given(request, form)):
        return wb.core.refuse_csrf(request, session)
    if not usable_id(file_id):
        return await _file_answer(wb, request, session, file_id, 404)
    try:
        version = int(str(form.get("version") or ""))
        decision = await decide(session, form, t)
        await handle_office_command(
            _stores(request), file_id, decision, session.staff_id, session.principal.district, version
        )
    except ValueError as problem:  # FormProblem, or a version that is not a number
        reason = problem if isinstance(problem, FormProblem) else "version"
        return await _file_answer(wb, request, session, file_id, 422, t("error.invalid", reason=reason))
    except StaleFile as stale:
        said = t("error.stale_file", current=stale.current, expected=stale.expected)
        return await _file_answer(wb, request, session, file_id, 409, said)
    except ConcurrencyError:
        said = t("error.stale_file", current="?", expected=form.get("version"))
        return await _file_answer(wb, request, session, file_id, 409, said)
    except NotFound:
        return await _file_answer(wb, request, session, file_id, 404, t("error.not_found"))
    except CommandRefused as refused:
        return await _file_answer(wb, request, session, file_id, 409, t("error.refused", reason=refused))
    return RedirectResponse(f"{BASE}/files/{file_id}?done=1", status_code=303)


# -- a bureau: its board ---------------------------------------------------------------------------------


async def _board_context(request: Request, session: Session) -> dict[str, Any]:
    bureau = Bureau(session.principal.code)
    district = session.principal.district
    stores = _stores(request)
    now = datetime.now(UTC)
    async with stores.pool.acquire() as conn:
        board = await views.board(conn, stores.schema, bureau, district)
        loaded: dict[str, tuple[FileState | None, int]] = {}
        for task in board["open"] + board["overdue"]:
            if task["file_id"] not in loaded:
                found = await load_file(stores.bind(conn), task["file_id"])
                loaded[task["file_id"]] = (found.state, found.version)
    reports: dict[str, list[ReportKind]] = {}
    versions: dict[str, int] = {}
    for task in board["open"] + board["overdue"]:
        state, version = loaded[task["file_id"]]
        reports[task["task_id"]] = bureau_reports(state, task["task_id"], bureau, now) if state else []
        versions[task["task_id"]] = version
    return {
        "board": board,
        "reports": reports,
        "versions": versions,
        "bureau": bureau,
        "now": now,
        "new_report_id": lambda: f"workbench-{uuid.uuid4()}",
    }


def _bureau_routes(wb: JointMeetingWorkbench, router: APIRouter) -> None:
    @router.get("/board")
    async def board(request: Request, done: str | None = None) -> Response:
        session = wb.bureau(request)
        if session is None:
            return wb.not_yours(request)
        t = Translator(language_of(request))
        context = await _board_context(request, session)
        return wb.core.render(
            request, "board.html", session, notice=t("done.saved") if done else None, **context
        )

    @router.get("/board/rows")
    async def board_rows(request: Request) -> Response:
        session = wb.bureau(request)
        if session is None:
            return wb.core.to_sign_in(request)
        return wb.core.render(request, "board_region.html", session, **await _board_context(request, session))

    @router.post("/board/tasks/{task_id}/report")
    async def report(request: Request, task_id: str) -> Response:
        session = wb.bureau(request)
        if session is None:
            return wb.not_yours(request)
        form = await request.form()
        if not session.csrf_matches(wb.core.csrf_given(request, form)):
            return wb.core.refuse_csrf(request, session)
        return await _report(wb, request, session, task_id, form)


async def _report(
    wb: JointMeetingWorkbench, request: Request, session: Session, task_id: str, form: FormData
) -> Response:
    t = Translator(language_of(request))
    bureau, district = Bureau(session.principal.code), session.principal.district
    stores = _stores(request)
    status, error = 200, None
    try:
        async with stores.pool.acquire() as conn:
            task = await views.task(conn, stores.schema, task_id, district) if usable_id(task_id) else None
        if task is None:
            raise NotFound(task_id)
        if task["bureau"] != bureau.value:  # as the bureau API: another bureau's task is forbidden, first
            raise WrongBureau(task_id)
        version = int(str(form.get("version") or ""))
        report = bureau_report(form, t, task_id, bureau, district)
        async with stores.unit_of_work() as uow:
            await report_on_task(
                uow,
                report,
                via="http",
                causation_id=f"workbench:{report.report_id}",
                district=district,
                expected_version=version,
            )
    except ValueError as problem:
        status, error = (
            422,
            t("error.invalid", reason=problem if isinstance(problem, FormProblem) else "version"),
        )
    except StaleFile as stale:
        status, error = 409, t("error.stale_file", current=stale.current, expected=stale.expected)
    except ConcurrencyError:
        status, error = 409, t("error.stale_file", current="?", expected=form.get("version"))
    except NotFound:
        status, error = 404, t("error.not_found")
    except WrongBureau:
        status, error = 403, t("error.forbidden")
    except CommandRefused as refused:
        status, error = 409, t("error.refused", reason=refused)
    if error is None:
        return RedirectResponse(f"{BASE}/board?done=1", status_code=303)
    context = await _board_context(request, session)
    return wb.core.render(request, "board.html", session, status, error=error, **context)
