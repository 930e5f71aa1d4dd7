"""Petitions, the web form and walk-ins over HTTP: one complaint per request, answered with its case.

Petitions need a petition office's token, walk-ins a walk-in desk's; the web form is public, limited per
client (429) and, like every JSON route, refuses bodies that are not JSON (415), so a page elsewhere cannot
post to it with a plain HTML form.
"""

# No `from __future__ import annotations`: FastAPI must see the closures' dependency types at runtime.

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from district.registry import District, UnknownDistrict
from eventcore.auth import Principal
from eventcore.http import error_responses
from schemas.petitions import Petition
from schemas.web import WalkInComplaint, WebComplaint
from services.intake.adapters.credentials import PETITION_OFFICE, WALK_IN_DESK
from services.intake.adapters.http_common import (
    BadBody,
    Channels,
    IntakeError,
    duplicate_key_problem,
    error_response,
    keep_refused,
    read_json,
    received_body,
    stores_of,
)
from services.intake.adapters.rate_limit import RateLimited
from services.intake.adapters.validation_errors import describe
from services.intake.domain.channels import from_petition, from_walk_in, from_web
from services.intake.domain.submission import Submission
from services.intake.handlers import (
    OUTSIDE_DISTRICT,
    UNKNOWN_DISTRICT,
    OutsideDistrict,
    Status,
    unknown_district_reason,
)

Model = TypeVar("Model", bound=BaseModel)
MAX_KEY = 128
MAX_STAFF_ID = 64
_WRITE = error_responses(400, 401, 403, 409, 413, 415, 422, model=IntakeError)


def staff_beside(principal: Principal, staff_id: str | None) -> str:
    """The actor: the credential's holder, with the staff member it names recorded beside it."""
    staff = (staff_id or "").strip()
    if staff and len(staff) <= MAX_STAFF_ID and staff.isprintable() and "/" not in staff:
        return f"{principal.name}/{staff}"
    return principal.name


def channel_router(channels: Channels) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["channels"])
    petition_office = channels.auth.requiring(PETITION_OFFICE)
    walk_in_desk = channels.auth.requiring(WALK_IN_DESK)

    @router.post(
        "/petitions",
        summary="Register a petition (信访件); a petition office's token",
        responses=_WRITE,
        status_code=201,
    )
    async def register_petition(
        request: Request, office: Annotated[Principal, Depends(petition_office)]
    ) -> JSONResponse:
        actor = staff_beside(office, request.headers.get("x-staff-id"))
        return await _receive(
            request,
            channels,
            "petition-http",
            Petition,
            lambda p, raw: from_petition(p, actor=actor, raw=raw, now=channels.ctx.clock()),
            confined_to=office.district,
        )

    @router.post(
        "/web/complaints",
        summary="A citizen's online complaint (public; Idempotency-Key header required; limited per client)",
        responses=error_responses(400, 409, 413, 415, 422, 429, model=IntakeError),
        status_code=201,
    )
    async def submit_web_complaint(request: Request) -> JSONResponse:
        try:
            channels.limits.check(request, "web")
        except RateLimited as limited:
            headers = {"Retry-After": str(limited.retry_after)}
            return error_response(429, "too_many_requests", str(limited), headers=headers)
        key = request.headers.get("idempotency-key", "").strip()
        if not key or len(key) > MAX_KEY or not key.isprintable():
            message = f"header Idempotency-Key is required (1-{MAX_KEY} printable characters), one per form submission"
            await keep_refused(
                request, "web-http", message, await received_body(request), kind="missing_field", channel="web"
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

    @router.post(
        "/walk-ins",
        summary="Register a visitor's complaint at the counter (上门投诉); a walk-in desk's token",
        responses=_WRITE,
        status_code=201,
    )
    async def register_walk_in(
        request: Request, desk: Annotated[Principal, Depends(walk_in_desk)]
    ) -> JSONResponse:
        return await _receive(
            request,
            channels,
            "walk-in-http",
            WalkInComplaint,
            lambda c, raw: from_walk_in(
                c, raw=raw, actor=staff_beside(desk, c.staff_id), now=channels.ctx.clock()
            ),
            confined_to=desk.district,
        )

    return router


async def _receive(
    request: Request,
    channels: Channels,
    source: str,
    model: type[Model],
    submission_of: Callable[[Model, bytes], Submission],
    confined_to: str | None = None,
    **details: Any,
) -> JSONResponse:
    channel = source.removesuffix("-http")
    try:
        data, body = await read_json(request)
    except BadBody as bad:
        await keep_refused(
            request, source, bad.message, await received_body(request), kind=bad.code, channel=channel, **details
        )
        return error_response(bad.status, bad.code, bad.message)
    refused = _refusal(data, model, channels, confined_to)
    if isinstance(refused, Refusal):
        await keep_refused(
            request, source, refused.reason, body, kind=refused.kind, channel=channel, **details
        )
        status = 403 if refused.kind == OUTSIDE_DISTRICT else 422
        return error_response(status, refused.kind, refused.reason, **refused.extra)
    parsed, district = refused
    submission = replace(submission_of(parsed, body), district=district, dead_letter_source=source)
    [outcome] = await channels.group_commit.receive_submissions(stores_of(request), channels.ctx, [submission])
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


def _refusal(
    data: Any, model: type[Model], channels: Channels, confined_to: str | None = None
) -> tuple[Model, District] | Refusal:
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
        district = channels.ctx.district_for(str(getattr(parsed, "district", "")), confined_to)
    except UnknownDistrict as error:
        known = list(channels.ctx.districts.codes)
        return Refusal(UNKNOWN_DISTRICT, unknown_district_reason(error), {"known_districts": known})
    except OutsideDistrict as outside:
        return Refusal(OUTSIDE_DISTRICT, str(outside))
    return parsed, district
