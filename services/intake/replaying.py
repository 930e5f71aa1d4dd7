"""Replaying a dead letter: the operator's fixed bytes (or the original ones) go through intake again."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from district.registry import UnknownDistrict
from eventcore.consumer import ServiceStores
from eventcore.deadletters import DeadLetter, Rejection
from schemas.petitions import Petition
from schemas.topics import HOTLINE_RAW
from schemas.web import WalkInComplaint, WebComplaint
from services.intake.adapters.hotline_file import parse_order, record_from_dead_letter
from services.intake.adapters.validation_errors import describe
from services.intake.domain.channels import from_petition, from_walk_in, from_web
from services.intake.domain.submission import Submission
from services.intake.handlers import (
    UNKNOWN_DISTRICT,
    IntakeContext,
    Outcome,
    Status,
    hotline_submission,
    receive_submissions,
    unknown_district_reason,
)

ACTOR = "deadletter-replay"
M = TypeVar("M", bound=BaseModel)
_HOTLINE_SOURCES = ("hotline-file:", "hotline-http", f"kafka:{HOTLINE_RAW}")


class CannotReplay(Exception):
    """This dead letter's source has no replay path (the reason says what to do instead)."""


async def replay(
    stores: ServiceStores, ctx: IntakeContext, letter: DeadLetter, payload: bytes | None = None
) -> Outcome:
    """Accepted, merged or duplicate: the dead letter is marked replayed. Rejected or in conflict: it stays."""
    data = letter.payload if payload is None else payload
    submission = _submission(ctx, letter, data)
    if isinstance(submission, Rejection):
        return Outcome(Status.REJECTED, reason=submission.reason, kind=str(submission.details.get("kind")))
    [outcome] = await receive_submissions(stores, ctx, [submission], keep_conflicts=False)
    if outcome.status in (Status.CONFLICT, Status.REJECTED):
        return outcome  # still refused; the dead letter stays as it is
    async with stores.pool.acquire() as conn:
        await stores.dead_letters.mark_replayed(conn, letter.id)
    return outcome


def _submission(ctx: IntakeContext, letter: DeadLetter, data: bytes) -> Submission | Rejection:
    actor = f"{ACTOR}:{letter.id}"
    if letter.source.startswith(_HOTLINE_SOURCES):
        record = record_from_dead_letter(letter.source, data, letter.details)
        parsed = parse_order(record, as_of=ctx.latest_acceptable_time())
        return parsed if isinstance(parsed, Rejection) else hotline_submission(ctx, parsed, record, actor)
    if letter.source == "petition-http":
        now = ctx.clock()
        return _json(ctx, letter, data, Petition, lambda p: from_petition(p, actor=actor, raw=data, now=now))
    if letter.source == "walk-in-http":
        now = ctx.clock()
        return _json(
            ctx,
            letter,
            data,
            WalkInComplaint,
            lambda c: from_walk_in(c, raw=data, actor=f"{actor}/{c.staff_id}", now=now),
        )
    if letter.source == "web-http":
        key = letter.details.get("idempotency_key")
        if not key:
            raise CannotReplay(
                "this web complaint came without an Idempotency-Key; the citizen must resubmit the form"
            )
        received = letter.created_at
        return _json(
            ctx,
            letter,
            data,
            WebComplaint,
            lambda c: from_web(c, idempotency_key=key, received_at=received, raw=data),
        )
    raise CannotReplay(
        f"dead letters from {letter.source} are answered to their sender at once; the sender resubmits them"
    )


def _json(
    ctx: IntakeContext,
    letter: DeadLetter,
    data: bytes,
    model: type[M],
    submission: Callable[[M], Submission],
) -> Submission | Rejection:
    def refused(kind: str, reason: str) -> Rejection:
        return Rejection(letter.source, reason, data, letter.source_ref, {"kind": kind})

    try:
        parsed: Any = json.loads(data.decode("utf-8"))
        validated = model.model_validate(parsed)
        district = ctx.district_of(str(getattr(validated, "district", "")))
        return replace(submission(validated), district=district)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return refused("invalid_json", f"not a UTF-8 JSON document: {error}")
    except ValidationError as error:
        return refused(*describe(error))
    except UnknownDistrict as error:
        return refused(UNKNOWN_DISTRICT, unknown_district_reason(error))
