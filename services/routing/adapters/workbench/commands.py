"""A submitted form becomes the staff API's own command: the same body models (so the same limits), the same
handlers, rules and authorization, with the actor taken from the session, never from the form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from eventcore.consumer import ServiceStores
from schemas.cases import CallbackOutcome, EscalationTrigger
from schemas.reference import Category
from services.routing import handlers
from services.routing.adapters.http import (
    Callback,
    Command,
    Escalate,
    NoteProgress,
    Recategorise,
    Reopen,
    Resolve,
    Return,
    Route,
)
from services.routing.domain.access import Actor
from services.routing.domain.permissions import StaffCommand
from services.routing.handlers import CommandResult, RoutingContext
from webui.i18n import Lang, Translator

RETURN_GROUNDS = ("not_our_duty", "outside_area", "other_department", "duplicate", "other")
_MAX_REFS = 50
Body = TypeVar("Body", bound=BaseModel)


class FormProblem(ValueError):
    """The form is not usable as it is; the message says which field and why, in the page's language."""


def clean_text(text: str) -> str:
    """Free text as PostgreSQL can store it: no NUL or other control characters but line breaks and tabs."""
    return "".join(ch for ch in text if ch in "\n\t" or (ch.isprintable() or ch == "\u3000")).strip()


def references(text: str) -> list[str]:
    """One reference per line (photo ids, document numbers, links)."""
    return [line.strip()[:500] for line in clean_text(text).splitlines() if line.strip()][:_MAX_REFS]


@dataclass(frozen=True)
class Submitted:
    """A command's form: its fields as text (anything else, such as a file, counts as missing)."""

    fields: Mapping[str, str]

    def text(self, name: str) -> str:
        return clean_text(self.fields.get(name, ""))


def _body(t: Translator, model: type[Body], labels: Mapping[str, str], **values: object) -> Body:
    try:
        return model(**values)
    except ValidationError as error:
        raise FormProblem(_problems(t, error, labels)) from error


def _problems(t: Translator, error: ValidationError, labels: Mapping[str, str]) -> str:
    said = []
    for item in error.errors():
        field = str(item["loc"][0]) if item["loc"] else ""
        label = t(labels[field]) if field in labels else field
        if item["type"] in ("missing", "string_too_short"):
            said.append(t("form.required_field", field=label))
        elif item["type"] in ("string_too_long", "too_long"):
            said.append(t("form.too_long", field=label, max=(item.get("ctx") or {}).get("max_length", "")))
        else:
            said.append(t("form.invalid_field", field=label))
    return "；".join(dict.fromkeys(said)) if t.zh else "; ".join(dict.fromkeys(said))


async def run_command(
    command: StaffCommand,
    form: Submitted,
    t: Translator,
    ctx: RoutingContext,
    stores: ServiceStores,
    case_id: str,
    actor: Actor,
    version: int,
) -> CommandResult:
    """Validate the form as the API validates its body, then give the API's command."""
    base = {"expected_version": version, "staff_id": actor.staff_id}
    if command is StaffCommand.ACCEPT:
        _body(t, Command, {}, **base)
        return await handlers.accept_case(stores, case_id, actor, version)
    if command is StaffCommand.PROGRESS:
        note = _body(
            t,
            NoteProgress,
            {"note": "action.progress_note"},
            **base,
            note=form.text("note"),
            photo_refs=references(form.text("photo_refs")),
        )
        return await handlers.note_progress(stores, case_id, actor, version, note.note, note.photo_refs)
    if command is StaffCommand.RESOLVE:
        done = _body(
            t,
            Resolve,
            {"resolution": "action.resolution"},
            **base,
            resolution=form.text("resolution"),
            evidence_refs=references(form.text("evidence_refs")),
        )
        return await handlers.resolve_case(
            stores, case_id, actor, version, done.resolution, done.evidence_refs
        )
    if command is StaffCommand.RETURN:
        back = _body(t, Return, {"reason": "action.return_reason"}, **base, reason=_return_reason(form))
        return await handlers.return_case(ctx, stores, case_id, actor, version, back.reason)
    if command is StaffCommand.ROUTE:
        to = _body(t, Route, {"unit_code": "action.route_unit"}, **base, unit_code=form.text("unit_code"))
        return await handlers.route_case(ctx, stores, case_id, actor, version, to.unit_code)
    return await _later_commands(command, form, t, ctx, stores, case_id, actor, version)


async def _later_commands(
    command: StaffCommand,
    form: Submitted,
    t: Translator,
    ctx: RoutingContext,
    stores: ServiceStores,
    case_id: str,
    actor: Actor,
    version: int,
) -> CommandResult:
    base = {"expected_version": version, "staff_id": actor.staff_id}
    if command in (StaffCommand.ESCALATE, StaffCommand.ESCALATE_LATE):
        trigger = "unit_request" if command is StaffCommand.ESCALATE else "sla_watch"
        asked = _body(
            t,
            Escalate,
            {"reason": "action.escalate_reason"},
            **base,
            trigger=trigger,
            reason=form.text("reason"),
        )
        return await handlers.escalate_case(
            ctx, stores, case_id, actor, version, EscalationTrigger(asked.trigger), asked.reason
        )
    if command is StaffCommand.CALLBACK:
        outcome = next((o for o in CallbackOutcome if o.value == form.text("outcome")), None)
        called = _body(
            t,
            Callback,
            {"outcome": "action.callback_outcome", "note": "action.callback_note"},
            **base,
            outcome=outcome,
            note=form.text("note"),
        )
        return await handlers.record_callback(
            ctx, stores, case_id, actor, version, called.outcome, called.note
        )
    if command is StaffCommand.REOPEN:
        again = _body(t, Reopen, {"detail": "action.reopen_detail"}, **base, detail=form.text("detail"))
        return await handlers.reopen_case(ctx, stores, case_id, actor, version, again.detail)
    if command is StaffCommand.RECATEGORISE:
        category = next((c for c in Category if c.value == form.text("category")), None)
        corrected = _body(
            t,
            Recategorise,
            {"category": "action.recategorise_to", "reason": "action.recategorise_reason"},
            **base,
            category=category,
            reason=form.text("reason"),
        )
        return await handlers.recategorise_case(
            ctx, stores, case_id, actor, version, corrected.category, corrected.reason
        )
    raise FormProblem(t("error.forbidden"))


def _return_reason(form: Submitted) -> str:
    """The ground (in the domain's language, Chinese, as the record is read by the district) and the reason."""
    reason = form.text("reason")
    ground = form.text("ground")
    if not reason or ground not in RETURN_GROUNDS:
        return reason
    return f"{Translator(Lang.ZH)('ground.' + ground)}：{reason}"
