"""Petitions, the web form and walk-ins over HTTP: one complaint per request, answered with its case."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from district.registry import District, UnknownDistrict
from schemas.petitions import Petition
from schemas.web import WalkInComplaint, WebComplaint
from services.intake.adapters.http_common import (
    BadBody,
    Channels,
    duplicate_key_problem,
    error_response,
    keep_refused,
    read_json,
    stores_of,
)
from services.intake.adapters.validation_errors import describe
from services.intake.domain.channels import from_petition, from_walk_in, from_web
from services.intake.domain.submission import Submission
from services.intake.handlers import (
    UNKNOWN_DISTRICT,
    Status,
    receive_submissions,
    unknown_district_reason,
)

Model = TypeVar("Model", bound=BaseModel)
MAX_KEY = 128


def channel_router(channels: Channels) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["channels"])

    @router.post("/petitions", summary="Register a petition (信访件)")
    async def register_petition(request: Request) -> JSONResponse:
        actor = request.headers.get("x-staff-id", "petition-office")
        return await _receive(
            request,
            channels,
            "petition-http",
            Petition,
            lambda p, raw: from_petition(p, actor=actor, raw=raw, now=channels.ctx.clock()),
        )

    @router.post("/web/complaints", summary="A citizen's online complaint (Idempotency-Key header required)")
    async def submit_web_complaint(request: Request) -> JSONResponse:
        key = request.headers.get("idempotency-key", "").strip()
        if not key or len(key) > MAX_KEY or not key.isprintable():
            message = f"header Idempotency-Key is required (1-{MAX_KEY} printable characters), one per form submission"
            await keep_refused(
                request, "web-http", message, await request.body(), kind="missing_field", channel="web"
            )
            return error_response(400, "idempotency_key_required", message)
        now = datetime.now(UTC)
        return await _receive(
            request,
            channels,
            "web-http",
            WebComplaint,
            lambda c, raw: from_web(c, idempotency_key=key, received_at=now, raw=raw),
            idempotency_key=key,
        )

    @router.post("/walk-ins", summary="Register a visitor's complaint at the counter (上门投诉)")
    async def register_walk_in(request: Request) -> JSONResponse:
        return await _receive(
            request,
            channels,
            "walk-in-http",
            WalkInComplaint,
            lambda c, raw: from_walk_in(c, raw=raw, now=channels.ctx.clock()),
        )

    return router


async def _receive(
    request: Request,
    channels: Channels,
    source: str,
    model: type[Model],
    submission_of: Callable[[Model, bytes], Submission],
    **details: Any,
) -> JSONResponse:
    channel = source.removesuffix("-http")
    try:
        data, body = await read_json(request)
    except BadBody as bad:
        await keep_refused(
            request, source, bad.message, await request.body(), kind=bad.code, channel=channel, **details
        )
        return error_response(bad.status, bad.code, bad.message)
    refused = _refusal(data, model, channels)
    if isinstance(refused, Refusal):
        await keep_refused(
            request, source, refused.reason, body, kind=refused.kind, channel=channel, **details
        )
        return error_response(422, refused.kind, refused.reason, **refused.extra)
    parsed, district = refused
    submission = replace(submission_of(parsed, body), district=district, dead_letter_source=source)
    [outcome] = await receive_submissions(stores_of(request), channels.ctx, [submission])
    if outcome.status is Status.CONFLICT:
        return error_response(409, "conflict", outcome.reason or "conflict", case_id=outcome.case_id)
    if outcome.status is Status.REJECTED:  # nothing says what the problem is; kept as a dead letter
        return error_response(422, outcome.kind or "rejected", outcome.reason or "rejected")
    answer = {k: v for k, v in vars(outcome).items() if v is not None}
    answer["status"] = outcome.status.value
    return JSONResponse(answer, status_code=200 if outcome.status is Status.DUPLICATE else 201)


@dataclass(frozen=True)
class Refusal:
    kind: str
    reason: str
    extra: dict[str, Any] = field(default_factory=dict)  # more machine-readable detail for the answer


def _refusal(data: Any, model: type[Model], channels: Channels) -> tuple[Model, District] | Refusal:
    if not isinstance(data, dict):
        return Refusal("invalid_json", f"expected a JSON object, got {type(data).__name__}")
    if problem := duplicate_key_problem(data):
        return Refusal("duplicate_key", problem)
    try:
        parsed = model.model_validate(dict(data))
    except ValidationError as error:
        return Refusal(*describe(error))
    latest = channels.ctx.latest_acceptable_time()
    for name, value in parsed:
        if isinstance(value, datetime) and value > latest:
            return Refusal("future_time", f"field {name!r}: {value.isoformat()} is in the future")
    try:
        district = channels.ctx.district_of(str(getattr(parsed, "district", "")))
    except UnknownDistrict as error:
        known = list(channels.ctx.districts.codes)
        return Refusal(UNKNOWN_DISTRICT, unknown_district_reason(error), {"known_districts": known})
    return parsed, district
