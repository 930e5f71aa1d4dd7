"""Open311 GeoReport v2 under /open311/v2/ (https://wiki.open311.org/GeoReport_v2), in XML and JSON.

Responses are arrays (JSON) or the spec's root elements (XML); errors are arrays of {code, description}
with the HTTP status the spec names: 400 for a missing or malformed parameter, 403 for a missing or
invalid api_key, 404 for an unknown service_code, service_request_id or jurisdiction_id.

`jurisdiction_id` is a district code of the registry (luzhou, shangdang; the founding district also answers
to its pre-tenancy id luzhou.changzhi.sx.cn); absent, the intake's default district. Requests are created,
searched and read within that district only.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from xml.etree import ElementTree

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from district.registry import District, UnknownDistrict
from eventcore.http import BodyTooLarge, unstorable
from schemas.open311 import Open311Error, ServiceRequest, ServiceRequestCreated, ServiceRequestForm
from schemas.reference import CATEGORY_LABELS_ZH, Category
from services.intake.adapters.http_common import Channels, keep_refused, received_body, stores_of
from services.intake.adapters.intake_store import IntakeStore, RequestRow
from services.intake.adapters.rate_limit import RateLimited
from services.intake.adapters.validation_errors import describe
from services.intake.domain.channels import from_open311
from services.intake.domain.open311 import (
    JURISDICTION_ID,
    attribute_problems,
    definition,
    services,
    urgency_of,
)
from services.intake.handlers import IntakeContext, Status

SOURCE = "open311"
REQUEST_PREFIX = "o311-"
DEFAULT_SPAN = timedelta(days=90)
MAX_RESULTS = 1000
_NAMESPACE = uuid.UUID("0b6f3c1e-3e1a-4c55-8a0e-5d2f1f9b3c77")
_XML_ITEMS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "attributes": "attribute",
    "values": "value",
}


class Open311Failure(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def open311_router(channels: Channels) -> APIRouter:
    router = APIRouter(
        prefix="/open311/v2",
        tags=["open311"],
        responses={
            # `.json` or `.xml`, as the path's format says.
            200: {"content": {"application/json": {}, "text/xml": {}}},
            400: {"description": "A missing or malformed parameter", "model": list[Open311Error]},
            404: {"description": "Unknown service, request or jurisdiction", "model": list[Open311Error]},
        },
    )

    ctx = channels.ctx

    @router.get("/services.{fmt}", summary="GeoReport v2: service list")
    async def service_list(fmt: str, jurisdiction_id: str | None = None) -> Response:
        def body() -> Any:
            district = _jurisdiction(ctx, jurisdiction_id)
            return [service.model_dump() for service in services(district.name_zh)]

        return _answer(fmt, "services", body)

    @router.get("/services/{service_code}.{fmt}", summary="GeoReport v2: service definition")
    async def service_definition(service_code: str, fmt: str, jurisdiction_id: str | None = None) -> Response:
        def body() -> Any:
            _jurisdiction(ctx, jurisdiction_id)
            return definition(_category(service_code)).model_dump()

        return _answer(fmt, "service_definition", body)

    @router.post(
        "/requests.{fmt}",
        summary="GeoReport v2: create a service request (api_key; limited per client)",
        responses=_CREATE_RESPONSES,
    )
    async def create_request(request: Request, fmt: str) -> Response:
        return await _created_answer(request, fmt, channels)

    @router.get("/requests.{fmt}", summary="GeoReport v2: search service requests")
    async def search_requests(request: Request, fmt: str) -> Response:
        try:
            rows = await _search(request, ctx)
        except Open311Failure as failure:
            return _failed(fmt, failure)
        return _answer(
            fmt, "service_requests", lambda: [_service_request(row).model_dump(mode="json") for row in rows]
        )

    @router.get("/requests/{service_request_id}.{fmt}", summary="GeoReport v2: one service request")
    async def get_request(
        request: Request, service_request_id: str, fmt: str, jurisdiction_id: str | None = None
    ) -> Response:
        try:
            district = _jurisdiction(ctx, jurisdiction_id)
        except Open311Failure as unknown:
            return _failed(fmt, unknown)
        async with stores_of(request).pool.acquire() as conn:
            rows = await IntakeStore(stores_of(request).schema).requests(
                conn,
                district=district.code,
                channel="web",
                ids=[service_request_id],
                ref_prefix=REQUEST_PREFIX,
            )
        if not rows:
            failure = Open311Failure(404, f"service_request_id {service_request_id} was not found")
            return _failed(fmt, failure)
        return _answer(fmt, "service_requests", lambda: [_service_request(rows[0]).model_dump(mode="json")])

    return router


_CREATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "api_key missing or invalid", "model": list[Open311Error]},
    413: {"description": "The body is too large", "model": list[Open311Error]},
    429: {"description": "Too many requests from this client", "model": list[Open311Error]},
}


async def _created_answer(request: Request, fmt: str, channels: Channels) -> Response:
    try:
        channels.limits.check(request, "open311")
        created = await _create(request, channels)
    except RateLimited as limited:
        answer = _failed(fmt, Open311Failure(429, str(limited)))
        answer.headers["Retry-After"] = str(limited.retry_after)
        return answer
    except BodyTooLarge as too_large:
        return _failed(fmt, Open311Failure(413, str(too_large.detail)))
    except Open311Failure as failure:
        return _failed(fmt, failure)
    return _answer(fmt, "service_requests", lambda: [created.model_dump()])


def _failed(fmt: str, failure: Open311Failure) -> Response:
    def body() -> Any:
        raise failure

    return _answer(fmt, "errors", body)


def _jurisdiction(ctx: IntakeContext, jurisdiction_id: str | None) -> District:
    """The district a jurisdiction_id names; none given: the intake's default district."""
    if not jurisdiction_id:
        return ctx.default
    if jurisdiction_id == JURISDICTION_ID:
        return ctx.districts.founding  # the id clients used before Caseline served several districts
    try:
        return ctx.districts.get(jurisdiction_id)
    except UnknownDistrict:
        served = ", ".join(ctx.districts.codes)
        raise Open311Failure(
            404,
            f"jurisdiction_id {jurisdiction_id} was not found; this endpoint serves {served} "
            f"({JURISDICTION_ID} is {ctx.districts.founding.code})",
        ) from None


def _category(service_code: str) -> Category:
    try:
        return Category(service_code)
    except ValueError:
        raise Open311Failure(404, f"service_code {service_code} was not found; see services.json") from None


# -- creating ------------------------------------------------------------------------------------------


async def _create(request: Request, channels: Channels) -> ServiceRequestCreated:
    try:
        fields, attributes = await _form(request)
    except Open311Failure as failure:
        await keep_refused(
            request, SOURCE, failure.description, await received_body(request), kind="invalid_form", channel="web"
        )
        raise
    kept = urlencode([(k, v) for k, v in fields.items() if k != "api_key"], doseq=True).encode()
    client = channels.open311.client(fields.get("api_key"))
    try:
        if client is None:
            raise Open311Failure(403, "api_key was not provided or is invalid")
        form, category, district = _checked(channels.ctx, fields, attributes)
    except Open311Failure as failure:
        await keep_refused(
            request, SOURCE, failure.description, kept, kind=f"http_{failure.status}", channel="web"
        )
        raise
    key = request.headers.get("idempotency-key", "").strip()
    # A client's key is its own within one jurisdiction; another district's request gets another id.
    scoped_key = district.scoped_id(key)
    request_id = REQUEST_PREFIX + (
        uuid.uuid5(_NAMESPACE, scoped_key).hex[:20] if key else uuid.uuid4().hex[:20]
    )
    submission = from_open311(
        form,
        request_id=request_id,
        category=category,
        urgency=urgency_of(attributes),
        received_at=datetime.now(UTC),
        client=f"open311:{client.name}",
        raw=kept,
    )
    [outcome] = await channels.group_commit.receive_submissions(
        stores_of(request),
        channels.ctx,
        [replace(submission, district=district, dead_letter_source=SOURCE)],
    )
    if outcome.status is Status.CONFLICT:
        # GeoReport v2 names "400 - Duplicate request" for this.
        raise Open311Failure(400, f"duplicate request: {outcome.reason}")
    notice = (
        "已合并到同一问题的已有案件 merged into an open case for the same problem"
        if outcome.merge_rule
        else None
    )
    return ServiceRequestCreated(
        service_request_id=request_id, service_notice=notice, account_id=form.account_id
    )


async def _form(request: Request) -> tuple[dict[str, Any], dict[str, list[str]]]:
    try:
        form = await request.form()
    except BodyTooLarge:
        raise
    except Exception as error:  # any unreadable body is the client's error, never a 500
        raise Open311Failure(400, f"the body is not a readable form: {error}") from error
    fields: dict[str, Any] = {}
    attributes: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if not isinstance(value, str):
            continue  # a media upload: GeoReport v2 takes media_url, not files
        if (reason := unstorable(name) or unstorable(value)) is not None:
            raise Open311Failure(400, f"parameter {name[:40]!r} {reason}")
        if name.startswith("attribute[") and name.endswith("]"):
            code = name[len("attribute[") :].removesuffix("[]").rstrip("]")
            attributes.setdefault(code, []).append(value)
        else:
            fields[name] = value
    return fields, attributes


def _checked(
    ctx: IntakeContext, fields: dict[str, Any], attributes: dict[str, list[str]]
) -> tuple[ServiceRequestForm, Category, District]:
    if not fields.get("service_code"):
        raise Open311Failure(400, "service_code was not provided")
    district = _jurisdiction(ctx, fields.get("jurisdiction_id"))
    category = _category(fields["service_code"])
    try:
        form = ServiceRequestForm.model_validate({**fields, "attributes": attributes})
    except ValidationError as error:
        raise Open311Failure(400, describe(error)[1]) from error
    if problems := attribute_problems(category, attributes):
        raise Open311Failure(400, "; ".join(problems))
    return form, category, district


# -- reading -------------------------------------------------------------------------------------------


async def _search(request: Request, ctx: IntakeContext) -> list[RequestRow]:
    query = request.query_params
    district = _jurisdiction(ctx, query.get("jurisdiction_id"))
    store = IntakeStore(stores_of(request).schema)
    if ids := _listed(query.get("service_request_id")):
        # GeoReport v2: with service_request_id every other parameter is ignored (but the jurisdiction).
        async with stores_of(request).pool.acquire() as conn:
            return await store.requests(
                conn, district=district.code, channel="web", ids=ids, ref_prefix=REQUEST_PREFIX
            )
    codes = _listed(query.get("service_code"))
    for code in codes or []:
        _category(code)
    statuses = _listed(query.get("status"))
    if statuses and not set(statuses) <= {"open", "closed"}:
        raise Open311Failure(
            400, f"status must be open, closed or both (comma-delimited), got {query['status']}"
        )
    start, end = _date(query.get("start_date"), "start_date"), _date(query.get("end_date"), "end_date")
    end = end or (start + DEFAULT_SPAN if start else datetime.now(UTC))
    start = start or end - DEFAULT_SPAN
    if end < start:
        raise Open311Failure(400, "end_date is before start_date")
    if end - start > DEFAULT_SPAN:
        raise Open311Failure(400, "start_date and end_date may not span more than 90 days")
    async with stores_of(request).pool.acquire() as conn:
        return await store.requests(
            conn,
            district=district.code,
            channel="web",
            categories=codes,
            start=start,
            end=end,
            statuses=statuses,
            limit=MAX_RESULTS,
            ref_prefix=REQUEST_PREFIX,
        )


def _listed(value: str | None) -> list[str] | None:
    items = [item.strip() for item in (value or "").split(",") if item.strip()]
    return items or None


def _date(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "+"))  # '+' in a query string arrives as a space
    except ValueError:
        raise Open311Failure(
            400, f"{name} must be a w3c datetime such as 2026-11-18T09:30:00+08:00"
        ) from None
    if parsed.tzinfo is None:
        raise Open311Failure(400, f"{name} must carry a time zone (Z or ±HH:MM)")
    return parsed


def _service_request(row: RequestRow) -> ServiceRequest:
    data = row.data
    details: dict[str, Any] = data.get("channel_details") or {}
    category = Category(data["category"])
    return ServiceRequest(
        service_request_id=row.source_ref,
        status=row.status,
        status_notes=None,
        service_name=CATEGORY_LABELS_ZH[category],
        service_code=category.value,
        description=data.get("description") or None,
        agency_responsible=None,
        service_notice=None,
        requested_datetime=datetime.fromisoformat(data["received_at"]),
        updated_datetime=row.updated_at or row.recorded_at,
        expected_datetime=None,
        address=data.get("address") or None,
        address_id=details.get("address_id"),
        zipcode=None,
        lat=details.get("lat"),
        long=details.get("long"),
        media_url=details.get("media_url"),
    )


# -- answering in JSON or XML --------------------------------------------------------------------------


def _answer(fmt: str, root: str, body: Any) -> Response:
    if fmt not in ("json", "xml"):
        errors = [Open311Error(code=400, description=f"format {fmt!r} is not served: use .json or .xml")]
        return Response(_json([e.model_dump() for e in errors]), 400, media_type="application/json")
    try:
        content, status, root_name = body(), 200, root
    except Open311Failure as failure:
        content, status, root_name = (
            [Open311Error(code=failure.status, description=failure.description).model_dump()],
            failure.status,
            "errors",
        )
    if fmt == "json":
        return Response(_json(content), status, media_type="application/json; charset=utf-8")
    return Response(_xml(root_name, content), status, media_type="text/xml; charset=utf-8")


def _json(content: Any) -> bytes:
    import json

    return json.dumps(content, ensure_ascii=False, default=_iso).encode()


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    raise TypeError(type(value).__name__)


def _xml(root: str, content: Any) -> bytes:
    element = ElementTree.Element(root)
    _fill(element, content, _XML_ITEMS.get(root, "item"))
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>' + ElementTree.tostring(element, encoding="unicode").encode()
    )


def _fill(element: ElementTree.Element, content: Any, item: str) -> None:
    if isinstance(content, list):
        for entry in content:
            _fill(ElementTree.SubElement(element, item), entry, "item")
    elif isinstance(content, dict):
        for key, value in content.items():
            _fill(ElementTree.SubElement(element, key), value, _XML_ITEMS.get(key, "item"))
    elif isinstance(content, bool):
        element.text = "true" if content else "false"
    elif content is not None:
        element.text = content.isoformat() if isinstance(content, datetime) else str(content)
