"""What every service's workbench does the same way: who is signed in, signing in and out, rendering a page
with the person's language and CSRF token, and event streams fed by a NOTIFY channel."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sse_starlette import ServerSentEvent

from webui.i18n import Translator, language_of
from webui.live import RESYNC, Notifications, event_stream, gathered, retry_hint
from webui.pages import Pages, static_and_language_routes
from webui.principals import CredentialBooks, PrincipalKind, principal_for
from webui.sessions import (
    CSRF_FIELD,
    CSRF_HEADER,
    PATH,
    Session,
    SessionCookies,
    SignInThrottle,
    client_address,
)
from webui.settings import WorkbenchSettings

BASE = PATH.rstrip("/")
# The workbench's actions are HTML forms (each with the session's CSRF token), not JSON: a service that serves
# a workbench tells its body guard so (eventcore.http.BodyPolicy.form_paths).
FORM_PATHS = frozenset({PATH})


def printable(text: object, limit: int) -> str:
    return "".join(ch for ch in text if ch.isprintable()).strip()[:limit] if isinstance(text, str) else ""


@dataclass
class WorkbenchCore:
    service: str  # names the cookie and the signing salt: one service's session is no other's
    templates: Path
    title_key: str
    books: CredentialBooks
    kinds: frozenset[PrincipalKind]
    channel: str
    settings: WorkbenchSettings = field(default_factory=WorkbenchSettings)
    development_credentials: list[str] = field(default_factory=list)
    ask_staff_id: bool = False  # a unit's credential is shared by its staff: each says who they are

    def __post_init__(self) -> None:
        self.cookies = SessionCookies(self.service, self.settings.secret, self.settings.session_hours * 3600)
        self.pages = Pages(self.templates, self.title_key)
        self.changes = Notifications(self.channel)
        self.throttle = SignInThrottle(self.settings.sign_in_failures, self.settings.sign_in_window_seconds)
        self.context: Callable[[Request, Session | None], dict[str, Any]] = lambda request, session: {}

    def session(self, request: Request) -> Session | None:
        session = self.cookies.read(request)
        return session if session is not None and session.principal.kind in self.kinds else None

    def render(
        self, request: Request, template: str, session: Session | None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        merged = {"nav": [], "error": None, "notice": None} | self.context(request, session) | context
        return self.pages.page(request, template, session, status, **merged)

    def refuse_csrf(self, request: Request, session: Session, **context: Any) -> HTMLResponse:
        t = Translator(language_of(request))
        return self.render(request, "error.html", session, 403, error=t("error.csrf"), **context)

    @staticmethod
    def csrf_given(request: Request, fields: Any) -> str:
        return str(fields.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or "")

    def to_sign_in(self, request: Request) -> Response:
        """Pages go to the sign-in form; fragments and streams answer 401 (the page's script follows)."""
        if request.headers.get("hx-request") or request.url.path.endswith("/events"):
            return Response(status_code=401)
        return RedirectResponse(f"{BASE}/sign-in", status_code=303)

    def sign_in_page(self, request: Request, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("staff_id", "")
        return self.render(
            request,
            "sign_in.html",
            None,
            status,
            ask_staff_id=self.ask_staff_id,
            dev_credentials=self.development_credentials,
            **context,
        )

    def routes(self, router: APIRouter, landing: Callable[[Session], str]) -> None:
        """Static files, the language switch, sign-in and sign-out."""
        static_and_language_routes(router)
        _sign_in_routes(self, router, landing)

    def stream(
        self, request: Request, session: Session, name: str, concerns: Callable[[str], bool]
    ) -> Response:
        """Send `name` once per burst of payloads that concern this person, and once on connecting (a page
        that missed something while it loaded or reconnected refreshes); ends with the session."""
        runtime = request.app.state.runtime
        dsn = getattr(getattr(runtime, "settings", None), "database_url", None)
        if dsn:
            self.changes.start(dsn, getattr(runtime, "stop", None))
        ends_at = self.cookies.expires_at(session)

        async def events() -> AsyncIterator[ServerSentEvent]:
            with self.changes.subscribe() as queue:
                yield retry_hint()
                # Listening first, then "refresh": a change between the two is in the queue, not lost.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changes.connected.wait(), 2.0)
                yield ServerSentEvent("changed", event=name)
                while datetime.now(UTC).timestamp() < ends_at:
                    payloads = await gathered(queue, timeout=30)
                    if RESYNC in payloads or any(concerns(p) for p in payloads):
                        yield ServerSentEvent("changed", event=name)

        return event_stream(events())


def _sign_in_routes(core: WorkbenchCore, router: APIRouter, landing: Callable[[Session], str]) -> None:
    @router.get("")
    @router.get("/")
    async def home(request: Request) -> Response:
        session = core.session(request)
        return RedirectResponse(landing(session) if session else f"{BASE}/sign-in", status_code=303)

    @router.get("/sign-in")
    async def sign_in_form(request: Request, signed_out: bool = False) -> Response:
        session = core.session(request)
        if session:
            return RedirectResponse(landing(session), status_code=303)
        t = Translator(language_of(request))
        return core.sign_in_page(request, notice=t("signin.signed_out") if signed_out else None)

    @router.post("/sign-in")
    async def sign_in(request: Request) -> Response:
        t = Translator(language_of(request))
        form = await request.form()
        credential = printable(form.get("credential"), 512)
        staff_id = printable(form.get("staff_id"), 64)
        client = client_address(request)
        if core.throttle.blocked(client):
            return core.sign_in_page(request, 429, error=t("signin.throttled"), staff_id=staff_id)
        principal = principal_for(credential, core.books)
        if principal is None:
            core.throttle.failed(client)
            return core.sign_in_page(request, 401, error=t("signin.failed"), staff_id=staff_id)
        if principal.kind not in core.kinds:
            return core.sign_in_page(request, 403, error=t("signin.wrong_kind"), staff_id=staff_id)
        if core.ask_staff_id and not staff_id:
            return core.sign_in_page(request, 422, error=t("signin.staff_required"))
        core.throttle.succeeded(client)
        session = core.cookies.new_session(principal, staff_id or principal.code)
        response = RedirectResponse(landing(session), status_code=303)
        core.cookies.issue(response, request, session)
        return response

    @router.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        session = core.session(request)
        form = await request.form()
        if session is not None and not session.csrf_matches(core.csrf_given(request, form)):
            return core.refuse_csrf(request, session)
        response = RedirectResponse(f"{BASE}/sign-in?signed_out=true", status_code=303)
        core.cookies.clear(response, request)
        return response
