"""`POST /v1/hotline/orders`: a hotline platform pushes a batch; each record is answered on its own."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.intake.adapters.hotline_file import JSON, FileRecord
from services.intake.adapters.http_common import (
    BadBody,
    Channels,
    error_response,
    keep_refused,
    read_json,
    record_bytes,
    stores_of,
)
from services.intake.handlers import Outcome, receive_hotline_records

SOURCE = "hotline-http"


def hotline_router(channels: Channels) -> APIRouter:
    router = APIRouter(prefix="/v1/hotline", tags=["hotline"])

    @router.post("/orders", summary="Push a batch of 12345 work orders")
    async def push_orders(request: Request) -> JSONResponse:
        client = request.headers.get("x-hotline-platform", "hotline-platform")
        try:
            data, _ = await read_json(request)
            orders = _orders(data, channels.batch_limit)
        except BadBody as bad:
            await keep_refused(
                request, SOURCE, bad.message, await request.body(), kind=bad.code, channel="hotline"
            )
            return error_response(bad.status, bad.code, bad.message)
        records = [
            FileRecord(f"{SOURCE}:{client}", index, record_bytes(order), JSON, unit="record")
            for index, order in enumerate(orders, start=1)
        ]
        as_of = channels.ctx.latest_acceptable_time()
        # The pushing platform's own taxonomy reads its labels (the default one if it has none).
        summary, outcomes = await receive_hotline_records(
            stores_of(request), channels.ctx, records, actor=client, as_of=as_of, platform=client
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
