"""`POST /v1/hotline/orders`: a hotline platform pushes a batch; each record is answered on its own.

The platform is the one its token names (a principal of kind `hotline_platform`); an `X-Hotline-Platform`
header is ignored. A platform of one district may push only that district's orders.
"""

# No `from __future__ import annotations`: FastAPI must see the closures' dependency types at runtime.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from eventcore.auth import Principal
from eventcore.http import error_responses
from services.intake.adapters.credentials import HOTLINE_PLATFORM
from services.intake.adapters.hotline_file import JSON, FileRecord
from services.intake.adapters.http_common import (
    BadBody,
    Channels,
    IntakeError,
    error_response,
    keep_refused,
    read_json,
    received_body,
    record_bytes,
    stores_of,
)
from services.intake.handlers import Outcome, receive_hotline_records

SOURCE = "hotline-http"


def hotline_router(channels: Channels) -> APIRouter:
    router = APIRouter(prefix="/v1/hotline", tags=["hotline"])
    platform_dep = channels.auth.requiring(HOTLINE_PLATFORM)

    @router.post(
        "/orders",
        summary="Push a batch of 12345 work orders (a hotline platform's token)",
        responses=error_responses(400, 401, 403, 413, 415, 422, model=IntakeError),
    )
    async def push_orders(
        request: Request, platform: Annotated[Principal, Depends(platform_dep)]
    ) -> JSONResponse:
        client = platform.name
        try:
            data, _ = await read_json(request)
            orders = _orders(data, channels.batch_limit)
        except BadBody as bad:
            await keep_refused(
                request, SOURCE, bad.message, await received_body(request), kind=bad.code, channel="hotline"
            )
            return error_response(bad.status, bad.code, bad.message)
        records = [
            FileRecord(f"{SOURCE}:{client}", index, record_bytes(order), JSON, unit="record")
            for index, order in enumerate(orders, start=1)
        ]
        as_of = channels.ctx.latest_acceptable_time()
        # The pushing platform's own taxonomy reads its labels (the default one if it has none).
        summary, outcomes = await receive_hotline_records(
            stores_of(request),
            channels.ctx,
            records,
            actor=client,
            as_of=as_of,
            platform=client,
            confined_to=platform.district,
            receive=channels.group_commit.receive_submissions,
        )
        return JSONResponse(
            {
                "accepted": summary.accepted,
                "merged": summary.merged,
                "duplicates": summary.duplicates,
                "rejected": summary.rejected_total,
                "results": [
                    _result(i, order, o) for i, (order, o) in enumerate(zip(orders, outcomes), start=1)
                ],
            }
        )

    return router


def _orders(data: Any, limit: int) -> list[Any]:
    orders = data.get("orders") if isinstance(data, dict) else data
    if not isinstance(orders, list):
        raise BadBody(400, "invalid_batch", 'send a JSON array of work orders, or {"orders": [...]}')
    if not orders:
        raise BadBody(400, "empty_batch", "the batch holds no work orders")
    if len(orders) > limit:
        raise BadBody(413, "batch_too_large", f"{len(orders)} work orders in one batch; at most {limit}")
    return orders


def _result(index: int, order: Any, outcome: Outcome) -> dict[str, Any]:
    order_no = order.get("order_no") if isinstance(order, dict) else None
    result: dict[str, Any] = {"record": index, "order_no": order_no, "status": outcome.status.value}
    for name in (
        "complaint_id",
        "case_id",
        "reason",
        "kind",
        "merge_rule",
        "category",
        "needs_triage",
        "flags",
    ):
        value = getattr(outcome, name)
        if value is not None:
            result[name] = value
    return result
