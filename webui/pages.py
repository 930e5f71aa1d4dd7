"""Rendering the workbenches' pages: Jinja2 templates (autoescaped), the shared skeleton and static files."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse

from webui.i18n import LANG_COOKIE, Lang, Translator, language_of
from webui.sessions import CSRF_FIELD, CSRF_HEADER, PATH, Session

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
# Served by name only (no paths from the request reach the file system); versions pinned in the names.
STATIC_FILES: Mapping[str, str] = {
    "htmx-2.0.11.min.js": "text/javascript",
    "htmx-ext-sse-2.2.4.min.js": "text/javascript",
    "workbench.js": "text/javascript",
    "workbench.css": "text/css",
    "LICENSES-htmx.txt": "text/plain; charset=utf-8",
}


class Pages:
    """A service's templates over the shared ones; every page gets the translator and the session."""

    def __init__(self, service_templates: Path, title_key: str) -> None:
        self.title_key = title_key
        self.env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(
                [jinja2.FileSystemLoader(service_templates), jinja2.FileSystemLoader(TEMPLATES)]
            ),
            autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}

    def html(self, request: Request, template: str, session: Session | None, **context: Any) -> str:
        t = Translator(language_of(request))
        return self.env.get_template(template).render(
            request=request,
            t=t,
            lang=t.lang.value,
            session=session,
            csrf_field=CSRF_FIELD,
            csrf_header=CSRF_HEADER,
            csrf_token=session.csrf_token if session else "",
            title_key=self.title_key,
            base=PATH.rstrip("/"),
            **context,
        )

    def page(
        self, request: Request, template: str, session: Session | None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        response = HTMLResponse(self.html(request, template, session, **context), status_code=status)
        response.headers["Cache-Control"] = "no-store"  # staff pages hold case facts: never cached
        return response


def static_and_language_routes(router: APIRouter) -> None:
    """/workbench/static/<file> and /workbench/language, shared by every workbench."""

    @router.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> FileResponse:
        media_type = STATIC_FILES.get(name)
        if media_type is None:
            raise HTTPException(404, "no such file")
        return FileResponse(
            STATIC / name, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
        )

    @router.get("/language", include_in_schema=False)
    async def language(lang: str = "zh-CN", next: str = PATH) -> RedirectResponse:
        chosen = Lang.EN if lang == Lang.EN.value else Lang.ZH
        target = next if next.startswith(PATH) and "//" not in next and "\\" not in next else PATH
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(LANG_COOKIE, chosen.value, path=PATH, samesite="strict", max_age=365 * 86400)
        return response
