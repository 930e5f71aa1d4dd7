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


def office_router(callers: Callers, timing: Timing) -> APIRouter:
    """`timing`: the SLA policies and calendar a task's default deadline is counted with."""
    router = APIRouter(prefix="/jointmeeting", tags=["joint-meeting office"], responses=error_responses(401, 403, 404, 409, 422))
    # Annotations are evaluated here (no __future__ import), so FastAPI sees each Depends on `callers`.

    async def run(
        request: Request,
        file_id: str,
        decide: Callable[[FileState], list[DomainEvent]],
        staff: OfficeCaller,
    ) -> dict[str, Any]:
        with refusals_as_http():
            changed = await handle_office_command(
                _stores(request), file_id, decide, staff.staff, staff.district
            )
            return views.state_view(changed)

    async def file_for_task(request: Request, task_id: str, staff: OfficeCaller) -> str:
        stores = _stores(request)
        async with stores.pool.acquire() as conn:
            file_id = await file_of_task(stores.bind(conn), task_id, staff.district)
        if file_id is None:
            raise http_error(404, "not_found", f"no task {task_id!r}")
        return file_id

    @router.get("/files")
    async def list_files(
        request: Request,
        staff: Annotated[OfficeCaller, Depends(callers.office_staff)],
        completed: bool | None = None,
        needs_meeting: bool | None = None,
    ) -> list[dict[str, Any]]:
        stores = _stores(request)
        async with stores.pool.acquire() as conn:
            return await views.files(
                conn, stores.schema, staff.district, completed=completed, needs_meeting=needs_meeting
            )

    @router.get("/files/{file_id}")
    async def get_file(
        request: Request, file_id: str, staff: Annotated[OfficeCaller, Depends(callers.office_staff)]
    ) -> dict[str, Any]:
        stores = _stores(request)
        async with stores.pool.acquire() as conn:
            found = await views.file_detail(conn, stores.schema, file_id, staff.district)
        if found is None:
            raise http_error(404, "not_found", f"no file {file_id!r}")
        return found

    @router.post("/files/{file_id}/meetings", status_code=201)
    async def schedule(
        request: Request,
        file_id: str,
        body: ScheduleMeeting,
        staff: Annotated[OfficeCaller, Depends(callers.office_staff)],
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        return await run(
            request,
            file_id,
            lambda s: meetings.schedule_meeting(s, body.scheduled_for, body.place, now),
            staff,
        )

    @router.post("/files/{file_id}/meetings/{meeting_id}/held")
    async def hold(
        request: Request,
        file_id: str,
        meeting_id: str,
        body: HoldMeeting,
        staff: Annotated[OfficeCaller, Depends(callers.office_staff)],
    ) -> dict[str, Any]:
        decisions = [meetings.Decision(**d.model_dump()) for d in body.decisions]
        now = datetime.now(UTC)
        return await run(
            request,
            file_id,
            lambda s: meetings.hold_meeting(
                s, meeting_id, body.attendees, decisions, body.minutes, now, timing
            ),
            staff,
        )

    @router.post("/files/{file_id}/tasks", status_code=201)
    async def assign(
        request: Request,
        file_id: str,
        body: AssignTask,
        staff: Annotated[OfficeCaller, Depends(callers.office_staff)],
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        return await run(
            request,
            file_id,
            lambda s: tasks.assign_task(
                s, body.bureau, body.action, body.due_at, body.done_when, now, timing
            ),
            staff,
        )

    @router.post("/tasks/{task_id}/reassignment")
    async def reassign(
        request: Request,
        task_id: str,
        body: ReassignTask,
        staff: Annotated[OfficeCaller, Depends(callers.office_staff)],
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        file_id = await file_for_task(request, task_id, staff)
        return await run(
            request,
            file_id,
            lambda s: tasks.reassign_task(s, task_id, body.bureau, body.reason, now, body.due_at),
            staff,
        )

    @router.post("/tasks/{task_id}/extension")
    async def extend(
        request: Request,
        task_id: str,
        body: ExtendTask,
        staff: Annotated[OfficeCaller, Depends(callers.office_staff)],
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        file_id = await file_for_task(request, task_id, staff)
        return await run(
            request, file_id, lambda s: tasks.extend_task(s, task_id, body.due_at, body.reason, now), staff
        )

    @router.post("/tasks/{task_id}/cancellation")
    async def cancel(
        request: Request,
        task_id: str,
        body: CancelTask,
        staff: Annotated[OfficeCaller, Depends(callers.office_staff)],
    ) -> dict[str, Any]:
        file_id = await file_for_task(request, task_id, staff)
        return await run(request, file_id, lambda s: tasks.cancel_task(s, task_id, body.reason), staff)

    @router.post("/tasks/{task_id}/unable-answer")
    async def answer(
        request: Request,
        task_id: str,
        body: AnswerUnable,
        staff: Annotated[OfficeCaller, Depends(callers.office_staff)],
    ) -> dict[str, Any]:
        file_id = await file_for_task(request, task_id, staff)
        return await run(request, file_id, lambda s: tasks.answer_unable(s, task_id, body.answer), staff)

    @router.post("/files/{file_id}/verification")
    async def verify(
        request: Request,
        file_id: str,
        body: VerifyFile,
        staff: Annotated[OfficeCaller, Depends(callers.office_staff)],
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        return await run(
            request, file_id, lambda s: completion.verify_file(s, staff.staff, now, body.summary), staff
        )

    return router
