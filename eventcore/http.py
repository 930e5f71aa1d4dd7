"""What every service's HTTP side shares: the body guard, the error bodies, the statuses OpenAPI names, and
the one mapping from a refused command to its HTTP error (`Refusals`).

The body guard is an ASGI middleware in front of every route:
- a body announced (Content-Length) or streamed (chunked) beyond the service's limit is refused with 413 while
  it is being read, never held whole in memory;
- a request with a body that is not JSON is refused with 415 (a cross-site HTML form can only send
  form-encoded, multipart or text/plain bodies), except on the routes a service declares as form routes;
- a JSON body nested deeper than MAX_DEPTH, with more than MAX_KEYS keys, or holding a character PostgreSQL
  cannot store (U+0000, lone surrogates) is refused with 422 naming the field, before any handler runs.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_KEYS = 100_000
_METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})

ErrorBody = Callable[[str, str], dict[str, Any]]


def detail_error_body(code: str, message: str) -> dict[str, Any]:
    """The default error body: `{"detail": {"error": <code>, "message": <text>}}`."""
    return {"detail": {"error": code, "message": message}}


def _no_extra(_: Exception) -> Mapping[str, object]:
    return {}


@dataclass(frozen=True)
class Refusal:
    """How one kind of refused command answers: its status, the body's code (None: the exception's own
    `code` attribute), its sentence, and any fields a client needs to recover (a stale version's numbers)."""

    status: int
    code: str | None = None
    message: Callable[[Exception], str] = str
    extra: Callable[[Exception], Mapping[str, object]] = _no_extra


@dataclass(frozen=True)
class Refusals:
    """A router's refused commands as HTTP errors, `{"error": <code>, <message_key>: <text>, ...}`.

    An exception is answered by the first of its classes (its own, then its bases) the table names; one the
    table does not name is not a refusal and propagates (a bug answers 500, it is not disguised as a 409).
    """

    answers: Mapping[type[Exception], Refusal]
    message_key: str = "message"

    def error(self, status: int, code: str, message: str, **extra: object) -> HTTPException:
        return HTTPException(status, detail={"error": code, self.message_key: message, **extra})

    def answer(self, refused: Exception) -> HTTPException | None:
        for kind in type(refused).__mro__:
            refusal = self.answers.get(kind)
            if refusal is not None:
                code = refusal.code or str(getattr(refused, "code", "refused"))
                return self.error(refusal.status, code, refusal.message(refused), **refusal.extra(refused))
        return None

    @contextlib.contextmanager
    def as_http(self) -> Iterator[None]:
        try:
            yield
        except Exception as refused:
            answer = self.answer(refused)
            if answer is None:
                raise
            raise answer from refused


class Problem(BaseModel):
    """What went wrong: a machine-readable code and a sentence for a person (some services say `detail`)."""

    model_config = ConfigDict(extra="allow")

    error: str
    message: str | None = None
    detail: str | None = None


class ProblemResponse(BaseModel):
    detail: Problem


class FieldError(BaseModel):
    """One entry of FastAPI's validation answer."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int]
    msg: str
    type: str


class ValidationErrors(BaseModel):
    """FastAPI's answer to a request that does not fit the route's parameters or body."""

    detail: list[FieldError]


# A 422 is either the route's own refusal (a Problem) or FastAPI's field-by-field validation answer.
Unprocessable = ProblemResponse | ValidationErrors


class BodyTooLarge(StarletteHTTPException):
    """The body grew past the limit while it was read; `prefix` is what had arrived, at most the limit."""

    def __init__(self, limit: int, prefix: bytes = b"") -> None:
        super().__init__(413, f"the body is larger than {limit} bytes, the most this service accepts")
        self.limit = limit
        self.prefix = prefix


# -- OpenAPI --------------------------------------------------------------------------------------------

_DESCRIPTIONS = {
    400: "The request cannot be read",
    401: "No valid credential (Authorization: Bearer <token>)",
    403: "The credential is valid but may not do this",
    404: "Not found (or not visible to this credential)",
    409: "Conflicts with the current state",
    413: "The body is larger than this service accepts",
    415: "The body is not JSON (Content-Type: application/json)",
    422: "The body or a parameter is invalid; the message names the field",
    429: "Too many requests from this client; retry after the Retry-After seconds",
}


def error_responses(*statuses: int, model: Any = ProblemResponse) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status with its description and the error schema."""
    return {
        status: {
            "description": _DESCRIPTIONS.get(status, "Error"),
            "model": Unprocessable if status == 422 and model is ProblemResponse else model,
        }
        for status in statuses
    }


# -- the body guard -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BodyPolicy:
    max_bytes: int = DEFAULT_MAX_BODY_BYTES
    form_paths: frozenset[str] = frozenset()  # path prefixes whose bodies are forms, not JSON
    check_json: bool = True  # False: the service checks JSON itself (and keeps what it refuses)
    error_body: ErrorBody = detail_error_body


def is_json_media_type(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class BodyGuard:
    def __init__(self, app: ASGIApp, policy: BodyPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _METHODS_WITH_BODY:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path: str = scope["path"]
        form = any(path.startswith(prefix) for prefix in self.policy.form_paths)
        refusal = self._refusal(headers, form)
        if refusal is not None:
            await _respond(send, *refusal, self.policy.error_body)
            return
        limited = _limited(receive, self.policy.max_bytes)
        if form or not self.policy.check_json:
            try:
                await self.app(scope, limited, send)
            except BodyTooLarge as too_large:
                await _respond(send, 413, "too_large", str(too_large.detail), self.policy.error_body)
            return
        await self._checked_json(scope, limited, send)

    def _refusal(self, headers: Mapping[str, str], form: bool) -> tuple[int, str, str] | None:
        length = headers.get("content-length")
        # A form route answers in its own format: its body is cut off by the streaming limit instead.
        if not form and length is not None and (not length.isdigit() or int(length) > self.policy.max_bytes):
            return 413, "too_large", (
                f"the body is {length} bytes; at most {self.policy.max_bytes} are accepted"
                if length.isdigit()
                else "the Content-Length header is not a number"
            )
        if not form and not is_json_media_type(headers.get("content-type")):
            given = headers.get("content-type") or "none"
            return 415, "unsupported_media_type", f"send the body as Content-Type: application/json (got {given})"
        return None

    async def _checked_json(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await _read_all(receive)
        except BodyTooLarge as too_large:
            await _respond(send, 413, "too_large", str(too_large.detail), self.policy.error_body)
            return
        if (problem := json_problem(body)) is not None:
            status = 400 if problem[0] == "invalid_json" else 422
            await _respond(send, status, problem[0], problem[1], self.policy.error_body)
            return
        await self.app(scope, _replay(body, receive), send)


def _limited(receive: Receive, limit: int) -> Receive:
    received = bytearray()

    async def wrapped() -> Message:
        message = await receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            if len(received) + len(chunk) > limit:
                raise BodyTooLarge(limit, bytes(received + chunk[: max(0, limit - len(received))]))
            received.extend(chunk)
        return message

    return wrapped


async def _read_all(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _respond(send: Send, status: int, code: str, message: str, error_body: ErrorBody) -> None:
    payload = json.dumps(jsonable_encoder(error_body(code, message)), ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})


# -- JSON that would break a handler or the database ----------------------------------------------------


def json_problem(body: bytes, *, max_depth: int = MAX_DEPTH, max_keys: int = MAX_KEYS) -> tuple[str, str] | None:
    """(code, message) when a JSON body is unreadable, too deep, too wide or unstorable; None when fine."""
    try:
        data = json.loads(body)
    except RecursionError:
        return "too_deep", f"the JSON is nested deeper than {max_depth} levels"
    except UnicodeDecodeError as error:
        return "invalid_json", f"the body is not UTF-8 (byte {error.start + 1})"
    except json.JSONDecodeError as error:
        return "invalid_json", f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
    return structure_problem(data, max_depth=max_depth, max_keys=max_keys)


def structure_problem(data: Any, *, max_depth: int = MAX_DEPTH, max_keys: int = MAX_KEYS) -> tuple[str, str] | None:
    keys = 0
    for path, depth, value in walk(data):
        if depth > max_depth:
            return "too_deep", f"{path or 'the body'}: nested deeper than {max_depth} levels"
        if isinstance(value, dict):
            keys += len(value)
            if keys > max_keys:
                return "too_many_keys", f"the JSON holds more than {max_keys} keys"
            for key in value:
                if (reason := unstorable(key)) is not None:
                    return "unstorable_characters", f"a key in {path or 'the body'} {reason}"
        elif isinstance(value, str) and (reason := unstorable(value)) is not None:
            return "unstorable_characters", f"field {path or 'body'!r} {reason}"
    return None


_SUSPECT_TEXT = re.compile(r"\x00|\\u0000|\\u[dD][89abcdefABCDEF]|[\ud800-\udfff]")


def may_be_hostile(text: str, *, max_depth: int = MAX_DEPTH, max_keys: int = MAX_KEYS) -> bool:
    """A cheap look at JSON text: False when it cannot be too deep, too wide or unstorable, so the walk of
    `structure_problem` is needed only for the rare document that might be."""
    if text.count("[") + text.count("{") > max_depth or text.count(":") > max_keys:
        return True
    return _SUSPECT_TEXT.search(text) is not None


def walk(data: Any) -> Iterator[tuple[str, int, Any]]:
    """Every value with its path (`orders[3].description`) and depth, without recursion."""
    stack: list[tuple[str, int, Any]] = [("", 0, data)]
    while stack:
        path, depth, value = stack.pop()
        yield path, depth, value
        if isinstance(value, dict):
            stack.extend((f"{path}.{k}" if path else str(k), depth + 1, v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", depth + 1, v) for i, v in enumerate(value))


def unstorable(text: str) -> str | None:
    """Why PostgreSQL could not store this text (NUL, a lone surrogate), or None."""
    if "\x00" in text:
        return f"contains U+0000 at position {text.index(chr(0)) + 1}, which cannot be stored"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"contains a lone surrogate at position {error.start + 1}, which is not text"
    return None
