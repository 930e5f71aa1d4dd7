"""The joint-meeting office's HTTP API: files, meetings, task changes and on-site verification.

Each district has its own joint-meeting office: staff see and act on their district's files only;
another district's file or task answers 404, as if it did not exist.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from deadlines.timing import Timing
from eventcore.consumer import ServiceStores
from eventcore.http import error_responses
from schemas.base import DomainEvent
from schemas.reference import Bureau
from services.jointmeeting.adapters import views
from services.jointmeeting.adapters.auth import Callers, OfficeCaller
from services.jointmeeting.adapters.file_store import file_of_task
from services.jointmeeting.adapters.http_errors import http_error, refusals_as_http
from services.jointmeeting.domain import completion, meetings, tasks
from services.jointmeeting.domain.state import FileState
from services.jointmeeting.handlers import handle_office_command


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ScheduleMeeting(_Body):
    scheduled_for: AwareDatetime
    place: str = Field(default="", max_length=200)


class DecisionBody(_Body):
    task_id: str | None = Field(default=None, description="Confirm this assigned task (else: a new task)")
    bureau: Bureau | None = Field(default=None, description="The bureau of a new task")
    action: str = Field(min_length=1, max_length=1000)
    due_at: AwareDatetime | None = Field(
        default=None,
        description="The decided deadline; none: a confirmed task keeps its own, a new task is due by the "
        "SLA policy's task budget (working days from the meeting)",
    )
    done_when: str = Field(min_length=1, max_length=1000)


class HoldMeeting(_Body):
    attendees: list[Bureau] = Field(min_length=1)
    decisions: list[DecisionBody] = Field(default_factory=list)
    minutes: str = Field(default="", max_length=20000)


class AssignTask(_Body):
    bureau: Bureau
    action: str = Field(min_length=1, max_length=1000)
    due_at: AwareDatetime | None = Field(
        default=None, description="The decided deadline; none: the SLA policy's task budget, in working days"
    )
    done_when: str = Field(min_length=1, max_length=1000)


class ReassignTask(_Body):
    bureau: Bureau
    reason: str = Field(min_length=1, max_length=2000)
    due_at: AwareDatetime | None = Field(default=None, description="New deadline; default: the old one")


class ExtendTask(_Body):
    due_at: AwareDatetime
    reason: str = Field(min_length=1, max_length=2000)


class CancelTask(_Body):
    reason: str = Field(min_length=1, max_length=2000)


class AnswerUnable(_Body):
    answer: str = Field(min_length=1, max_length=4000)


class VerifyFile(_Body):
    summary: str = Field(min_length=1, max_length=4000)


def _stores(request: Request) -> ServiceStores:
    stores: ServiceStores = request.app.state.runtime.stores
    return stores


StoresDep = Annotated[ServiceStores, Depends(_stores)]
Decide = Callable[[FileState], list[DomainEvent]]


async def _decided(db: ServiceStores, file_id: str, decide: Decide, staff: OfficeCaller) -> dict[str, Any]:
    """Runs an office command on the file; what the file refuses answers as the joint meeting's REFUSALS."""
    with refusals_as_http():
        changed = await handle_office_command(db, file_id, decide, staff.staff, staff.district)
        return views.state_view(changed)


async def _file_for_task(db: ServiceStores, task_id: str, staff: OfficeCaller) -> str:
    async with db.pool.acquire() as conn:
        file_id = await file_of_task(db.bind(conn), task_id, staff.district)
    if file_id is None:
        raise http_error(404, "not_found", f"no task {task_id!r}")
    return file_id


def office_router(callers: Callers, timing: Timing) -> APIRouter:
    """`timing`: the SLA policies and calendar a task's default deadline is counted with."""
    router = APIRouter(
        prefix="/jointmeeting",
        tags=["joint-meeting office"],
        responses=error_responses(401, 403, 404, 409, 422),
    )
    _file_routes(router, callers, timing)
    _task_routes(router, callers)
    _verification_route(router, callers)
    return router


def _file_routes(router: APIRouter, callers: Callers, timing: Timing) -> None:
    # Annotations are evaluated here (no __future__ import), so FastAPI sees each Depends on `callers`.
    Staff = Annotated[OfficeCaller, Depends(callers.office_staff)]

    @router.get("/files")
    async def list_files(
        db: StoresDep, staff: Staff, completed: bool | None = None, needs_meeting: bool | None = None
    ) -> list[dict[str, Any]]:
        async with db.pool.acquire() as conn:
            return await views.files(
                conn, db.schema, staff.district, completed=completed, needs_meeting=needs_meeting
            )

    @router.get("/files/{file_id}")
    async def get_file(db: StoresDep, file_id: str, staff: Staff) -> dict[str, Any]:
        async with db.pool.acquire() as conn:
            found = await views.file_detail(conn, db.schema, file_id, staff.district)
        if found is None:
            raise http_error(404, "not_found", f"no file {file_id!r}")
        return found

    @router.post("/files/{file_id}/meetings", status_code=201)
    async def schedule(db: StoresDep, file_id: str, body: ScheduleMeeting, staff: Staff) -> dict[str, Any]:
        now = datetime.now(UTC)
        return await _decided(
            db, file_id, lambda s: meetings.schedule_meeting(s, body.scheduled_for, body.place, now), staff
        )

    @router.post("/files/{file_id}/meetings/{meeting_id}/held")
    async def hold(
        db: StoresDep, file_id: str, meeting_id: str, body: HoldMeeting, staff: Staff
    ) -> dict[str, Any]:
        decisions = [meetings.Decision(**d.model_dump()) for d in body.decisions]
        now = datetime.now(UTC)

        def decide(s: FileState) -> list[DomainEvent]:
            return meetings.hold_meeting(s, meeting_id, body.attendees, decisions, body.minutes, now, timing)

        return await _decided(db, file_id, decide, staff)

    @router.post("/files/{file_id}/tasks", status_code=201)
    async def assign(db: StoresDep, file_id: str, body: AssignTask, staff: Staff) -> dict[str, Any]:
        now = datetime.now(UTC)

        def decide(s: FileState) -> list[DomainEvent]:
            return tasks.assign_task(s, body.bureau, body.action, body.due_at, body.done_when, now, timing)

        return await _decided(db, file_id, decide, staff)


def _task_routes(router: APIRouter, callers: Callers) -> None:
    """A task's changes, addressed by task id: the file is the task's own."""
    Staff = Annotated[OfficeCaller, Depends(callers.office_staff)]

    @router.post("/tasks/{task_id}/reassignment")
    async def reassign(db: StoresDep, task_id: str, body: ReassignTask, staff: Staff) -> dict[str, Any]:
        now = datetime.now(UTC)
        file_id = await _file_for_task(db, task_id, staff)
        return await _decided(
            db,
            file_id,
            lambda s: tasks.reassign_task(s, task_id, body.bureau, body.reason, now, body.due_at),
            staff,
        )

    @router.post("/tasks/{task_id}/extension")
    async def extend(db: StoresDep, task_id: str, body: ExtendTask, staff: Staff) -> dict[str, Any]:
        now = datetime.now(UTC)
        file_id = await _file_for_task(db, task_id, staff)
        return await _decided(
            db, file_id, lambda s: tasks.extend_task(s, task_id, body.due_at, body.reason, now), staff
        )

    @router.post("/tasks/{task_id}/cancellation")
    async def cancel(db: StoresDep, task_id: str, body: CancelTask, staff: Staff) -> dict[str, Any]:
        file_id = await _file_for_task(db, task_id, staff)
        return await _decided(db, file_id, lambda s: tasks.cancel_task(s, task_id, body.reason), staff)

    @router.post("/tasks/{task_id}/unable-answer")
    async def answer(db: StoresDep, task_id: str, body: AnswerUnable, staff: Staff) -> dict[str, Any]:
        file_id = await _file_for_task(db, task_id, staff)
        return await _decided(db, file_id, lambda s: tasks.answer_unable(s, task_id, body.answer), staff)


def _verification_route(router: APIRouter, callers: Callers) -> None:
    Staff = Annotated[OfficeCaller, Depends(callers.office_staff)]

    @router.post("/files/{file_id}/verification")
    async def verify(db: StoresDep, file_id: str, body: VerifyFile, staff: Staff) -> dict[str, Any]:
        now = datetime.now(UTC)
        return await _decided(
            db, file_id, lambda s: completion.verify_file(s, staff.staff, now, body.summary), staff
        )
