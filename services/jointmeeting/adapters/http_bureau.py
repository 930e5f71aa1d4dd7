"""The bureaus' HTTP API: each bureau reads its board and reports on its own tasks, nobody else's.

A token answers for one bureau of one district: another bureau's task is forbidden (403), another
district's task is unknown (404), as if it did not exist.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from eventcore.consumer import ServiceStores
from eventcore.http import error_responses
from schemas.bureau import BureauReport, EvidenceRef, ReportKind
from schemas.reference import Bureau
from services.jointmeeting.adapters import views
from services.jointmeeting.adapters.auth import BureauCaller, Callers
from services.jointmeeting.adapters.http_errors import http_error, refusals_as_http
from services.jointmeeting.handlers import report_on_task, validation_summary


class ReportBody(BaseModel):
    """A BureauReport without task and bureau: those come from the path and the caller's token."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    report_id: str = Field(min_length=1, max_length=100)
    kind: ReportKind
    note: str = Field(default="", max_length=4000)
    evidence: list[EvidenceRef] = Field(default_factory=list)
    reason: str = Field(default="", max_length=4000)
    reported_at: AwareDatetime


def _stores(request: Request) -> ServiceStores:
    stores: ServiceStores = request.app.state.runtime.stores
    return stores


def _own(caller: BureauCaller, bureau: Bureau) -> None:
    if caller.bureau != bureau:
        raise http_error(403, "forbidden", f"this token belongs to {caller.bureau.value}, not {bureau.value}")


def bureau_router(callers: Callers) -> APIRouter:
    router = APIRouter(prefix="/jointmeeting/bureaus", tags=["member bureaus"], responses=error_responses(401, 403, 404, 409, 422))
    # Annotations are evaluated here (no __future__ import), so FastAPI sees each Depends on `callers`.

    @router.get("/{bureau}/board")
    async def get_board(
        request: Request, bureau: Bureau, caller: Annotated[BureauCaller, Depends(callers.calling_bureau)]
    ) -> dict[str, Any]:
        _own(caller, bureau)
        stores = _stores(request)
        async with stores.pool.acquire() as conn:
            return await views.board(conn, stores.schema, bureau, caller.district)

    @router.get("/{bureau}/tasks/{task_id}")
    async def get_task(
        request: Request,
        bureau: Bureau,
        task_id: str,
        caller: Annotated[BureauCaller, Depends(callers.calling_bureau)],
    ) -> dict[str, Any]:
        _own(caller, bureau)
        stores = _stores(request)
        async with stores.pool.acquire() as conn:
            found = await views.task(conn, stores.schema, task_id, caller.district)
        if found is None:
            raise http_error(404, "not_found", f"no task {task_id!r}")
        if found["bureau"] != bureau.value:
            raise http_error(403, "forbidden", f"task {task_id} is not a task of {bureau.value}")
        return found

    @router.post("/{bureau}/tasks/{task_id}/reports")
    async def report(
        request: Request,
        bureau: Bureau,
        task_id: str,
        body: ReportBody,
        caller: Annotated[BureauCaller, Depends(callers.calling_bureau)],
    ) -> dict[str, Any]:
        _own(caller, bureau)
        try:
            bureau_report = BureauReport(task_id=task_id, bureau=bureau, **body.model_dump())
        except ValidationError as error:
            raise http_error(422, "invalid_report", validation_summary(error)) from error
        stores = _stores(request)
        with refusals_as_http():
            async with stores.unit_of_work() as uow:
                state = await report_on_task(
                    uow,
                    bureau_report,
                    via="http",
                    causation_id=f"http:{body.report_id}",
                    district=caller.district,
                )
        assert state is not None
        task = state.tasks[task_id]
        return {"task_id": task_id, "status": task.status.value, "overdue": task.overdue}

    return router
