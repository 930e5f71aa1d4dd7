"""What intake's HTTP channels share: reading a JSON body strictly, error bodies, keeping refused bodies."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from eventcore.auth import Authenticator, TokenVerifier
from eventcore.consumer import ServiceStores
from eventcore.deadletters import Rejection
from eventcore.http import BodyTooLarge, may_be_hostile, structure_problem
from services.intake.adapters.credentials import Open311Keys
from services.intake.adapters.group_commit import GroupCommit
from services.intake.adapters.rate_limit import ClientLimits
from services.intake.handlers import IntakeContext

MAX_BODY_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Channels:
    """What the routers need from the running service."""

    ctx: IntakeContext
    batch_limit: int = 1000
    auth: Authenticator = field(default_factory=lambda: Authenticator("intake", TokenVerifier()))
    limits: ClientLimits = field(default_factory=lambda: ClientLimits("20/minute;200/hour"))
    open311: Open311Keys = field(default_factory=lambda: Open311Keys(TokenVerifier()))
    # Every channel's requests commit through it: those arriving together share a transaction.
    group_commit: GroupCommit = field(default_factory=GroupCommit)


class IntakeProblem(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str
    message: str


class IntakeError(BaseModel):
    """Intake's error body: `{"error": {"code": …, "message": …}}`."""

    error: IntakeProblem


def intake_error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def stores_of(request: Request) -> ServiceStores:
    stores: ServiceStores = request.app.state.runtime.stores
    return stores


class BadBody(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _Pairs(dict[str, Any]):
    """A JSON object that remembers every key it was given, so duplicate keys can be refused."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.pairs = pairs

    @property
    def duplicate_keys(self) -> list[str]:
        counts = Counter(key for key, _ in self.pairs)  # linear: a body may hold a hundred thousand keys
        return sorted(key for key, n in counts.items() if n > 1)

    def original_json(self) -> bytes:
        """The object as sent, duplicate keys included (so a dead letter keeps what was wrong)."""
        encode = _TEXT_JSON.encode
        return ("{" + ",".join(f"{encode(k)}:{encode(v)}" for k, v in self.pairs) + "}").encode()


# What json.dumps(value, ensure_ascii=False) writes, without building an encoder for every value.
_TEXT_JSON = json.JSONEncoder(ensure_ascii=False)


async def received_body(request: Request) -> bytes:
    """The body as far as it was read: whole, or the part that arrived before it grew past the limit."""
    try:
        return await request.body()
    except (BodyTooLarge, RuntimeError):
        return getattr(request, "_refused_prefix", b"")


async def read_json(request: Request) -> tuple[Any, bytes]:
    """The JSON document of the body (duplicate keys remembered), refusing what intake cannot use.

    The body guard (eventcore.http) stops a body growing past the limit while it streams in."""
    try:
        body = await request.body()
    except BodyTooLarge as too_large:
        request._refused_prefix = too_large.prefix  # type: ignore[attr-defined]  # for the dead letter
        raise BadBody(413, "too_large", str(too_large.detail)) from None
    if not body.strip():
        raise BadBody(400, "empty_body", "the body is empty; send a JSON document")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadBody(400, "encoding", f"the body is not UTF-8 (byte {error.start + 1})") from error
    try:
        data = json.loads(text, object_pairs_hook=_Pairs)
    except json.JSONDecodeError as error:
        raise BadBody(
            400, "invalid_json", f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from error
    except RecursionError:
        raise BadBody(422, "too_deep", "the JSON is nested too deeply") from None
    if may_be_hostile(text) and (problem := structure_problem(data)):
        raise BadBody(422, *problem)
    return data, body


def duplicate_key_problem(data: Any) -> str | None:
    if isinstance(data, _Pairs) and data.duplicate_keys:
        return f"key(s) {', '.join(map(repr, data.duplicate_keys))} appear more than once"
    return None


def record_bytes(data: Any) -> bytes:
    if isinstance(data, _Pairs):
        return data.original_json()
    return json.dumps(data, ensure_ascii=False).encode()


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, **extra}}, status_code=status, headers=headers
    )


async def keep_refused(request: Request, source: str, reason: str, payload: bytes, **details: Any) -> None:
    """Refused input is kept with its reason, whatever the channel."""
    stores = stores_of(request)
    async with stores.pool.acquire() as conn:
        await stores.dead_letters.add(
            conn,
            [
                Rejection(
                    source=source,
                    reason=reason,
                    payload=payload,
                    source_ref=details.get("ref"),
                    details=details,
                )
            ],
        )
