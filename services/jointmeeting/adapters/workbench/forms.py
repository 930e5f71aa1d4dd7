"""Submitted forms as the joint meeting's own commands: the HTTP API's body models (same limits), the same
domain decisions; the person acting comes from the session."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from deadlines.timing import Timing
from schemas.base import DomainEvent
from schemas.bureau import BureauReport, EvidenceRef, ReportKind
from schemas.reference import Bureau
from services.jointmeeting.adapters.http_bureau import ReportBody
from services.jointmeeting.adapters.http_office import (
    AnswerUnable,
    AssignTask,
    CancelTask,
    DecisionBody,
    ExtendTask,
    HoldMeeting,
    ReassignTask,
    ScheduleMeeting,
    VerifyFile,
)
from services.jointmeeting.domain import completion, meetings, tasks
from services.jointmeeting.domain.permissions import OfficeCommand
from services.jointmeeting.domain.state import FileState
from webui.i18n import BEIJING, Translator

Decide = Callable[[FileState], list[DomainEvent]]
Body = TypeVar("Body", bound=BaseModel)
_MAX_REFS = 50


class FormProblem(ValueError):
    """The form is not usable as it is; the message says which field and why."""


def clean_text(text: object) -> str:
    if not isinstance(text, str):
        return ""
    return "".join(ch for ch in text if ch in "\n\t" or ch.isprintable()).strip()


def beijing_time(text: str) -> datetime | None:
    """A datetime-local field (2026-11-20T14:30) means Beijing time, as the staff read their clocks."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=BEIJING)


def for_input(moment: datetime) -> str:
    """The value a datetime-local field shows for an instant (Beijing time, minutes)."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M")


def _body(t: Translator, model: type[Body], labels: Mapping[str, str], **values: object) -> Body:
    try:
        return model(**values)
    except ValidationError as error:
        said = []
        for item in error.errors():
            field = ".".join(str(p) for p in item["loc"][:1])
            label = t(labels[field]) if field in labels else field
            if item["type"] in ("missing", "string_too_short", "too_short"):
                said.append(t("form.required_field", field=label))
            elif item["type"] in ("string_too_long", "too_long"):
                said.append(
                    t("form.too_long", field=label, max=(item.get("ctx") or {}).get("max_length", ""))
                )
            elif field in labels:
                said.append(t("form.invalid_field", field=label))
            else:
                said.append(str(item["msg"]).removeprefix("Value error, "))
        raise FormProblem(("；" if t.zh else "; ").join(dict.fromkeys(said))) from error


def _bureau(value: object) -> Bureau | None:
    return next((b for b in Bureau if b.value == value), None)


def file_command(command: OfficeCommand, form: FormData, t: Translator, staff: str, timing: Timing) -> Decide:
    """schedule, assign, verify: the decision to take on the file (`timing`: a task's default deadline)."""
    now = datetime.now(UTC)
    if command is OfficeCommand.SCHEDULE:
        when = _body(
            t,
            ScheduleMeeting,
            {"scheduled_for": "jm.scheduled_for", "place": "jm.place"},
            scheduled_for=beijing_time(clean_text(form.get("scheduled_for"))),
            place=clean_text(form.get("place")),
        )
        return lambda s: meetings.schedule_meeting(s, when.scheduled_for, when.place, now)
    if command is OfficeCommand.ASSIGN:
        task = _body(
            t,
            AssignTask,
            {"bureau": "jm.bureau", "action": "jm.action", "due_at": "jm.due", "done_when": "jm.done_when"},
            bureau=_bureau(form.get("bureau")),
            action=clean_text(form.get("action")),
            due_at=beijing_time(clean_text(form.get("due_at"))),
            done_when=clean_text(form.get("done_when")),
        )
        return lambda s: tasks.assign_task(
            s, task.bureau, task.action, task.due_at, task.done_when, now, timing
        )
    if command is OfficeCommand.VERIFY:
        verified = _body(t, VerifyFile, {"summary": "jm.summary"}, summary=clean_text(form.get("summary")))
        return lambda s: completion.verify_file(s, staff, now, verified.summary)
    raise FormProblem(t("error.forbidden"))


def task_command(command: OfficeCommand, task_id: str, form: FormData, t: Translator) -> Decide:
    """reassign, extend, cancel, answer the unable: the decision to take on one task of the file."""
    now = datetime.now(UTC)
    reason = clean_text(form.get("reason"))
    if command is OfficeCommand.REASSIGN:
        moved = _body(
            t,
            ReassignTask,
            {"bureau": "jm.reassign_to", "reason": "jm.reason", "due_at": "jm.new_due"},
            bureau=_bureau(form.get("bureau")),
            reason=reason,
            due_at=beijing_time(clean_text(form.get("due_at"))),
        )
        return lambda s: tasks.reassign_task(s, task_id, moved.bureau, moved.reason, now, moved.due_at)
    if command is OfficeCommand.EXTEND:
        later = _body(
            t,
            ExtendTask,
            {"due_at": "jm.new_due", "reason": "jm.reason"},
            due_at=beijing_time(clean_text(form.get("due_at"))),
            reason=reason,
        )
        return lambda s: tasks.extend_task(s, task_id, later.due_at, later.reason, now)
    if command is OfficeCommand.CANCEL:
        cancelled = _body(t, CancelTask, {"reason": "jm.reason"}, reason=reason)
        return lambda s: tasks.cancel_task(s, task_id, cancelled.reason)
    if command is OfficeCommand.ANSWER_UNABLE:
        answer = _body(t, AnswerUnable, {"answer": "jm.answer"}, answer=clean_text(form.get("answer")))
        return lambda s: tasks.answer_unable(s, task_id, answer.answer)
    raise FormProblem(t("error.forbidden"))


def hold_command(
    meeting_id: str, open_task_ids: Sequence[str], form: FormData, t: Translator, timing: Timing
) -> Decide:
    """The meeting held: who attended, the minutes, a decision per task kept in it, and a new task if any
    (due when the meeting says, else by the SLA policy)."""
    now = datetime.now(UTC)
    labels = {"attendees": "jm.attendees", "minutes": "jm.minutes", "decisions": "jm.decisions"}
    decisions = [
        _decision(t, form, f"decision-{task_id}", task_id)
        for task_id in open_task_ids
        if form.get(f"decision-{task_id}-include")
    ]
    if _bureau(form.get("new-bureau")) is not None:
        decisions.append(_decision(t, form, "new", None))
    held = _body(
        t,
        HoldMeeting,
        labels,
        attendees=[b for b in (_bureau(v) for v in form.getlist("attendees")) if b is not None],
        decisions=decisions,
        minutes=clean_text(form.get("minutes")),
    )
    chosen = [meetings.Decision(**d.model_dump()) for d in held.decisions]
    return lambda s: meetings.hold_meeting(s, meeting_id, held.attendees, chosen, held.minutes, now, timing)


def _decision(t: Translator, form: FormData, prefix: str, task_id: str | None) -> DecisionBody:
    return _body(
        t,
        DecisionBody,
        {"action": "jm.action", "due_at": "jm.due", "done_when": "jm.done_when", "bureau": "jm.bureau"},
        task_id=task_id,
        bureau=_bureau(form.get(f"{prefix}-bureau")) if task_id is None else None,
        action=clean_text(form.get(f"{prefix}-action")),
        due_at=beijing_time(clean_text(form.get(f"{prefix}-due_at"))),
        done_when=clean_text(form.get(f"{prefix}-done_when")),
    )


def bureau_report(form: FormData, t: Translator, task_id: str, bureau: Bureau, district: str) -> BureauReport:
    """A report as the bureau's HTTP API takes it; the form's report id makes a double submit harmless."""
    evidence = [
        EvidenceRef(kind="reference", ref=line.strip()[:500])
        for line in clean_text(form.get("evidence")).splitlines()
        if line.strip()
    ][:_MAX_REFS]
    kind = next((k for k in ReportKind if k.value == form.get("kind")), None)
    if kind is ReportKind.DONE and not evidence:
        raise FormProblem(t("board.evidence_required"))
    if kind is ReportKind.UNABLE and not clean_text(form.get("reason")):
        raise FormProblem(t("board.reason_required"))
    body = _body(
        t,
        ReportBody,
        {"kind": "board.report", "note": "board.note", "reason": "board.unable_reason"},
        report_id=clean_text(form.get("report_id"))[:100] or f"workbench-{uuid.uuid4()}",
        kind=kind,
        note=clean_text(form.get("note")),
        evidence=evidence,
        reason=clean_text(form.get("reason")),
        reported_at=datetime.now(UTC),
    )
    try:
        return BureauReport(task_id=task_id, bureau=bureau, district=district, **body.model_dump())
    except ValidationError as error:  # done without evidence, unable without a reason
        raise FormProblem(
            "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())
        ) from error
