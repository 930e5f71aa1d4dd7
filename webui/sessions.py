"""Browser sessions: a signed, expiring cookie per service, a CSRF token per session, sign-in throttling.

The credential is posted once, at sign-in, and never kept: the cookie holds the principal it spoke for,
who is acting (staff id), when the session began and its CSRF token, signed with the workbench secret
(itsdangerous). The cookie is HttpOnly, SameSite=Strict, scoped to /workbench/, has no Max-Age (it dies with
the browser session), is Secure when the page came over https, and the signature expires after
`session_hours`. Every state-changing request must carry the session's CSRF token (a form field or the
X-CSRF-Token header that htmx sends).

Cookies do not tell ports apart: routing's and the joint meeting's workbench on one host see each other's
cookies, so each service has its own cookie name and signing salt, and neither accepts the other's.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass, field

from fastapi import Request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.responses import Response

from webui.principals import Principal, PrincipalKind

PATH = "/workbench/"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Session:
    principal: Principal
    staff_id: str  # who acts: recorded on every event as <unit>/<staff id>
    csrf_token: str
    issued_at: float

    def csrf_matches(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf_token, str(given))


class SessionCookies:
    """Issues and reads one service's session cookie."""

    def __init__(self, service: str, secret: str, max_age_seconds: float) -> None:
        self.name = f"caseline_{service}_session"
        self.max_age_seconds = max_age_seconds
        self._serializer = URLSafeTimedSerializer(secret, salt=f"caseline.workbench.{service}")

    def new_session(self, principal: Principal, staff_id: str) -> Session:
        return Session(principal, staff_id, secrets.token_urlsafe(24), time.time())

    def read(self, request: Request) -> Session | None:
        raw = request.cookies.get(self.name)
        if not raw:
            return None
        try:
            data = self._serializer.loads(raw, max_age=int(self.max_age_seconds))
            principal = Principal(PrincipalKind(data["k"]), str(data["d"]), str(data["c"]))
            return Session(principal, str(data["s"]), str(data["x"]), float(data["t"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None  # forged, expired, another service's or from an older layout: sign in again

    def expires_at(self, session: Session) -> float:
        return session.issued_at + self.max_age_seconds

    def issue(self, response: Response, request: Request, session: Session) -> None:
        p = session.principal
        value = self._serializer.dumps(
            {
                "k": p.kind.value,
                "d": p.district,
                "c": p.code,
                "s": session.staff_id,
                "x": session.csrf_token,
                "t": session.issued_at,
            }
        )
        response.set_cookie(
            self.name, value, path=PATH, httponly=True, samesite="strict", secure=served_over_https(request)
        )

    def clear(self, response: Response, request: Request) -> None:
        response.delete_cookie(
            self.name, path=PATH, httponly=True, samesite="strict", secure=served_over_https(request)
        )


def served_over_https(request: Request) -> bool:
    """https directly, or behind a proxy that says so (it can only make the cookie stricter)."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


@dataclass
class SignInThrottle:
    """At most `failures` failed sign-ins per client address within `window` seconds (guessing tokens).

    Kept in memory per replica: it slows a guesser down; it is not an account lock-out.
    """

    failures: int
    window: float
    _seen: dict[str, deque[float]] = field(default_factory=dict)

    def blocked(self, client: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        recent = self._seen.get(client)
        while recent and now - recent[0] > self.window:
            recent.popleft()
        return recent is not None and len(recent) >= self.failures

    def failed(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._seen.setdefault(client, deque()).append(now)
        if len(self._seen) > 10_000:  # a flood of addresses must not grow memory without bound
            self._seen.pop(next(iter(self._seen)))

    def succeeded(self, client: str) -> None:
        self._seen.pop(client, None)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
