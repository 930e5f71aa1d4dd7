"""What intake's HTTP channels share: reading a JSON body strictly, error bodies, keeping refused bodies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from eventcore.consumer import ServiceStores
from eventcore.deadletters import Rejection
from services.intake.handlers import IntakeContext

MAX_BODY_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Channels:
    """What the routers need from the running service."""

    ctx: IntakeContext
    batch_limit: int = 1000


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
        keys = [key for key, _ in self.pairs]
        return sorted({key for key in keys if keys.count(key) > 1})

    def original_json(self) -> bytes:
        """The object as sent, duplicate keys included (so a dead letter keeps what was wrong)."""
        inner = ",".join(
            f"{json.dumps(k, ensure_ascii=False)}:{json.dumps(v, ensure_ascii=False)}" for k, v in self.pairs
        )
        return ("{" + inner + "}").encode()


async def read_json(request: Request) -> tuple[Any, bytes]:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise BadBody(
            413, "too_large", f"the body has {len(body)} bytes; at most {MAX_BODY_BYTES} are accepted"
        )
    if not body.strip():
        raise BadBody(400, "empty_body", "the body is empty; send a JSON document")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadBody(400, "encoding", f"the body is not UTF-8 (byte {error.start + 1})") from error
    try:
        return json.loads(text, object_pairs_hook=_Pairs), body
    except json.JSONDecodeError as error:
        raise BadBody(
            400, "invalid_json", f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from error


def duplicate_key_problem(data: Any) -> str | None:
    if isinstance(data, _Pairs) and data.duplicate_keys:
        return f"key(s) {', '.join(map(repr, data.duplicate_keys))} appear more than once"
    return None


def record_bytes(data: Any) -> bytes:
    if isinstance(data, _Pairs):
        return data.original_json()
    return json.dumps(data, ensure_ascii=False).encode()


def error_response(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status)


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
