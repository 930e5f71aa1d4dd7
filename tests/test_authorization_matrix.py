"""Every route of the four services, in production mode with a generated set of credentials, against every kind
of caller: none, another district's, another unit's (or bureau's), the joint-meeting office's, the right one.

The routes come from the apps themselves (their OpenAPI documents and the runtime's own routes), so a route
added without a policy below fails `test_every_route_has_a_policy`; every status a route answers must be
documented in its OpenAPI responses.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from caseline.secrets_commands import generate
from district.registry import load_districts
from eventcore.consumer import ServiceStores, consume_batch
from eventcore.database import create_pool, migrate
from eventcore.outbox import OutboxMessage
from eventcore.settings import Settings, get_settings
from eventcore.store import PendingEvent
from schemas.base import EventMetadata
from schemas.reference import Category
from schemas.topics import COMPLAINTS
from services.routing.handlers import RoutingContext, handle_complaints_topic
from tests.factories import Record
from tests.test_case_lifecycle import complaint, compound

DISTRICTS = load_districts()
SERVICES = ("intake", "routing", "jointmeeting", "sla")
NOW = datetime.now(UTC).replace(microsecond=0)
CALLERS = ("none", "other_district", "other_unit", "office", "right")
# Server-sent-event routes answer an accepted caller with an endless stream, which the in-process transport
# cannot end; the callers they refuse are answered at once and checked like every other route's.
STREAMS = frozenset({"/v1/ops/stream"})
REFUSED_BEFORE_STREAMING = ("none", "office")

# Who may call each route: the policy names the principal kind that holds it (or public / metrics / any).
POLICIES: dict[tuple[str, str, str], str] = {
    **{
        ("routing", m, p): "unit"
        for m, p in [
            ("GET", "/cases"),
            ("GET", "/cases/{case_id}"),
            ("GET", "/cases/{case_id}/history"),
            *(
                ("POST", f"/cases/{{case_id}}/{c}")
                for c in (
                    "accept",
                    "progress",
                    "resolve",
                    "return",
                    "route",
                    "escalate",
                    "callback",
                    "reopen",
                    "recategorise",
                )
            ),
        ]
    },
    ("sla", "GET", "/ops"): "public",  # a shell in production: its rows come from the feeds, with a token
    ("sla", "GET", "/v1/ops/alerts"): "unit",
    ("sla", "GET", "/v1/ops/rates"): "unit",
    ("sla", "GET", "/v1/cases/{case_id}/clocks"): "unit",
    ("sla", "GET", "/v1/ops/stream"): "unit",  # the ops page's live feed
    ("sla", "POST", "/v1/cases/{case_id}/clocks/pause"): "unit",
    ("sla", "POST", "/v1/cases/{case_id}/clocks/resume"): "unit",
    **{
        ("jointmeeting", m, p): "office"
        for m, p in [
            ("GET", "/jointmeeting/files"),
            ("GET", "/jointmeeting/files/{file_id}"),
            ("POST", "/jointmeeting/files/{file_id}/meetings"),
            ("POST", "/jointmeeting/files/{file_id}/meetings/{meeting_id}/held"),
            ("POST", "/jointmeeting/files/{file_id}/tasks"),
            ("POST", "/jointmeeting/files/{file_id}/verification"),
            *(
                ("POST", f"/jointmeeting/tasks/{{task_id}}/{c}")
                for c in ("reassignment", "extension", "cancellation", "unable-answer")
            ),
        ]
    },
    ("jointmeeting", "GET", "/jointmeeting/bureaus/{bureau}/board"): "bureau",
    ("jointmeeting", "GET", "/jointmeeting/bureaus/{bureau}/tasks/{task_id}"): "bureau",
    ("jointmeeting", "POST", "/jointmeeting/bureaus/{bureau}/tasks/{task_id}/reports"): "bureau",
    ("intake", "POST", "/v1/hotline/orders"): "hotline_platform",
    ("intake", "POST", "/v1/petitions"): "petition_office",
    ("intake", "POST", "/v1/walk-ins"): "walk_in_desk",
    ("intake", "POST", "/v1/web/complaints"): "public",
    **{
        ("intake", m, p): "public"
        for m, p in [
            ("GET", "/open311/v2/services.{fmt}"),
            ("GET", "/open311/v2/services/{service_code}.{fmt}"),
            ("GET", "/open311/v2/requests.{fmt}"),
            ("GET", "/open311/v2/requests/{service_request_id}.{fmt}"),
        ]
    },
    ("intake", "POST", "/open311/v2/requests.{fmt}"): "open311_key",
    ("intake", "GET", "/v1/cases/{case_id}/complainants"): "callback",  # the centre's callback staff only
    **{(s, "GET", "/healthz"): "public" for s in SERVICES},
    **{(s, "GET", "/livez"): "public" for s in SERVICES},
    **{(s, "GET", "/metrics"): "metrics" for s in SERVICES},
    **{(s, "GET", "/openapi.json"): "any" for s in SERVICES},
}


@dataclass
class Deployment:
    apps: dict[str, FastAPI]
    tokens: dict[str, Any]
    metrics_token: str
    case_id: str  # a Luzhou case handled by `case_unit`
    case_unit: str

    def token(self, family: str, district: str, holder: str) -> str:
        return str(self.tokens[family][district][holder])


def routes_of(app: FastAPI) -> Iterator[tuple[str, str]]:
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            yield method.upper(), path
    yield from (("GET", "/metrics"), ("GET", "/openapi.json"))


@pytest.fixture(scope="module")
def secret_set() -> Any:
    return generate(DISTRICTS, "127.0.0.1:5432", "127.0.0.1:9")


@pytest.fixture
async def deployment(
    secret_set: Any, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Deployment]:
    from caseline.services import create_service_app

    apps, pools = {}, []
    for service in SERVICES:
        with monkeypatch.context() as patch:
            env = {**secret_set.service_env[service], "CASELINE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}
            env |= {"CASELINE_WEB_RATE_LIMIT": "1000/minute"}
            for key, value in env.items():
                patch.setenv(key, value)
            get_settings.cache_clear()
            app = create_service_app(service, Settings())
        get_settings.cache_clear()
        runtime = app.state.runtime
        pool = await create_pool(database_url, max_size=3)
        await migrate(pool, runtime.spec.schema, runtime.spec.extra_ddl)
        runtime.pool = pool  # the HTTP side only, on the test's database: no broker, no relay
        pools.append(pool)
        apps[service] = app
    case_id, unit = await _seed_a_routed_case(apps["routing"].state.runtime.stores)
    yield Deployment(apps, secret_set.tokens, secret_set.metrics_token, case_id, unit)
    for pool in pools:
        await pool.close()


async def _seed_a_routed_case(stores: ServiceStores) -> tuple[str, str]:
    event = complaint(Category.SANITATION, where=compound(), case_id="case-matrix")
    pending = PendingEvent(event, EventMetadata(correlation_id=event.case_id, actor="intake"))
    message = OutboxMessage.for_event(pending, topic=COMPLAINTS, source="/caseline/intake")
    record = Record(
        COMPLAINTS, 0, 0, [(k, v.encode()) for k, v in message.headers.items()], message.payload.encode()
    )
    await consume_batch(stores, [record], partial(handle_complaints_topic, RoutingContext(DISTRICTS)))
    async with stores.pool.acquire() as conn:
        unit = await conn.fetchval(
            "SELECT unit_code FROM routing.case_view WHERE case_id = $1", event.case_id
        )
    return event.case_id, str(unit)


def test_every_route_has_a_policy(secret_set: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from caseline.services import create_service_app

    missing = []
    for service in SERVICES:
        with monkeypatch.context() as patch:
            env = {**secret_set.service_env[service], "CASELINE_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"}
            for key, value in env.items():
                patch.setenv(key, value)
            get_settings.cache_clear()
            app = create_service_app(service, Settings())
        get_settings.cache_clear()
        missing += [(service, m, p) for m, p in routes_of(app) if (service, m, p) not in POLICIES]
    assert not missing, f"routes without an authorization policy: {missing}"


# -- the callers -------------------------------------------------------------------------------------------


def _credential(d: Deployment, service: str, policy: str, caller: str) -> str | None:
    """The bearer token a caller presents to a route of this policy (None: no Authorization header)."""
    if caller == "none":
        return None
    if caller == "office":
        return d.token("joint_meeting_office", "luzhou", "office-staff-1")
    if policy == "any":  # any principal of the service itself
        kind = {"routing": "units", "sla": "units", "jointmeeting": "joint_meeting_office"}.get(service)
        family, holder = (
            (kind, "centre" if kind == "units" else "office-staff-1")
            if kind
            else ("petition_offices", "petition-office")
        )
        if caller == "other_unit":
            return None
        return d.token(family, "shangdang" if caller == "other_district" else "luzhou", holder)
    if policy in ("unit", "public", "open311_key"):
        units = {"right": d.case_unit, "other_unit": _another_unit(d.case_unit), "other_district": "centre"}
        district = "shangdang" if caller == "other_district" else "luzhou"
        if service in ("routing", "sla") or policy == "unit":
            return d.token("units", district, units[caller])
        return d.token("petition_offices", district, "petition-office") if service == "intake" else None
    if policy == "metrics":
        return d.metrics_token if caller == "right" else d.token("units", "luzhou", "centre")
    if policy == "callback":
        centres = {"right": "centre", "other_unit": _another_unit(d.case_unit), "other_district": "centre"}
        return d.token("units", "shangdang" if caller == "other_district" else "luzhou", centres[caller])
    family, holder = {
        "office": ("joint_meeting_office", "office-staff-1"),
        "bureau": ("bureaus", "fire_rescue"),
        "hotline_platform": ("hotline_platforms", "12345"),
        "petition_office": ("petition_offices", "petition-office"),
        "walk_in_desk": ("walk_in_desks", "desk-1"),
    }[policy]
    if family == "hotline_platforms":
        if caller != "right":
            return d.token("walk_in_desks", "luzhou", "desk-1")  # a token of another kind
        return d.token(family, "*", holder)
    if caller == "other_unit":
        if family == "bureaus":
            return d.token(family, "luzhou", "housing_construction")
        return None if family == "joint_meeting_office" else d.token(family, "luzhou", holder)
    return d.token(family, "shangdang" if caller == "other_district" else "luzhou", holder)


def _another_unit(unit: str) -> str:
    return "ST02" if not unit.startswith("ST02") else "ST03"


def _path(d: Deployment, template: str) -> str:
    values = {
        "case_id": d.case_id,
        "file_id": "jm-none",
        "task_id": "jm-none-t1",
        "meeting_id": "m-none",
        "bureau": "fire_rescue",
        "fmt": "json",
        "service_code": "sanitation",
        "service_request_id": "o311-none",
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


def _order(order_no: str) -> dict[str, Any]:
    return {
        "order_no": order_no,
        "received_at": (NOW - timedelta(hours=1)).isoformat(),
        "caller_phone": "13900001111",
        "kind": "投诉",
        "category": "环境卫生",
        "description": "垃圾桶满了",
    }


def _body(service: str, path: str, caller: str) -> dict[str, Any] | list[Any] | None:
    when = (NOW - timedelta(minutes=5)).isoformat()
    if path.endswith("/reports"):
        return {"report_id": f"r-{caller}", "kind": "accepted", "reported_at": when}
    serial = f"{caller}-{abs(hash(path)) % 10_000}"
    bodies: dict[str, Any] = {
        "/v1/hotline/orders": [_order(f"MX-{serial}")],
        "/v1/petitions": {
            "petition_no": f"XF-{serial}",
            "received_at": when,
            "form": "letter",
            "petitioner_name": "赵六",
            "matter": "物业费涨价未公示",
            "category": "unreasonable_fees",
            "district": "luzhou",
        },
        "/v1/walk-ins": {
            "staff_id": "s-1",
            "registration_no": f"SM-{serial}",
            "visited_at": when,
            "category": "sanitation",
            "description": "楼道垃圾",
            "district": "luzhou",
        },
        "/v1/web/complaints": {"phone": "13600003333", "category": "sanitation", "description": "脏"},
    }
    body: dict[str, Any] | list[Any] = bodies.get(path, {})
    return body


def _expected(policy: str, caller: str, method: str, path: str, service: str) -> set[int] | None:
    """The statuses a caller may get from a route of this policy; None: anything but 401/403 and 5xx."""
    if path == "/healthz":
        return {200, 503}  # 503 here: these apps run without a broker
    if policy == "open311_key":
        return {201, 200, 400} if caller == "right" else {403}
    if policy == "public":
        return None
    if caller == "none":
        return {401}
    if policy == "any":
        if caller == "office":
            return {200} if service == "jointmeeting" else {401}
        return {200}
    if policy == "metrics":
        return {200} if caller == "right" else {401}
    if caller == "right":
        return None
    wrong_kind_here = {"office": 403, "bureau": 403, "unit": 401}
    if caller == "office":
        return None if policy == "office" else {wrong_kind_here.get(policy, 401)}
    item = "{" in path
    if policy == "unit" and caller in ("other_district", "other_unit"):
        return {200} if not item and method == "GET" else {404, 422}
    if policy == "office" and caller == "other_district":
        return {200} if not item else {404, 422}
    if policy == "bureau":
        if caller == "other_unit":
            return {403}  # another bureau's path
        return {200} if path.endswith("/board") else {404, 422}
    if policy == "callback":
        # A street or community token: intake holds the centres' tokens only (401), or refuses it (403).
        return {401, 403} if caller == "other_unit" else {404}  # another district's case is unknown there
    if policy == "hotline_platform":
        return {403}  # a walk-in desk's token
    if policy in ("petition_office", "walk_in_desk"):
        # Another district's office or desk may not file this district's complaints.
        return {403} if caller == "other_district" else None
    return None


async def test_every_route_answers_each_kind_of_caller_as_its_policy_says(deployment: Deployment) -> None:
    seen: dict[tuple[str, str, str], set[int]] = {}
    failures = []
    for service, app in deployment.apps.items():
        transport = httpx.ASGITransport(app=app, client=("10.0.0.7", 5555))
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{service}") as client:
            for method, template in routes_of(app):
                policy = POLICIES[(service, method, template)]
                for caller in CALLERS:
                    token = _credential(deployment, service, policy, caller)
                    if caller == "other_unit" and token is None:
                        continue
                    if template in STREAMS and caller not in REFUSED_BEFORE_STREAMING:
                        continue  # an accepted caller gets a stream that never ends: only refusals are seen
                    headers = {"Authorization": f"Bearer {token}"} if token else {}
                    path = _path(deployment, template)
                    if method == "GET":
                        answer = await client.get(path, headers=headers)
                    elif template.startswith("/open311/"):
                        form = {
                            "service_code": "sanitation",
                            "address_string": "丰河华庭5号楼",
                            "description": "脏",
                        }
                        if caller == "right":
                            form["api_key"] = deployment.tokens["open311_api_keys"]["*"]["open311-client-1"]
                        answer = await client.post(path, data=form, headers=headers)
                    else:
                        answer = await client.post(
                            path, json=_body(service, template, caller), headers=headers
                        )
                    seen.setdefault((service, method, template), set()).add(answer.status_code)
                    expected = _expected(policy, caller, method, template, service)
                    ok = (
                        answer.status_code in expected
                        if expected is not None
                        else answer.status_code < 500
                        and (policy == "public" or answer.status_code not in (401, 403))
                    )
                    if not ok:
                        failures.append(
                            (service, method, template, caller, answer.status_code, answer.text[:160])
                        )
    assert not failures, "\n".join(map(str, failures))
    _all_statuses_documented(deployment, seen)


def _all_statuses_documented(deployment: Deployment, seen: dict[tuple[str, str, str], set[int]]) -> None:
    undocumented = []
    for (service, method, path), statuses in seen.items():
        if path in ("/metrics", "/openapi.json"):
            continue  # not in the document by design (docs/security.md)
        operation = deployment.apps[service].openapi()["paths"][path][method.lower()]
        documented = {int(code) for code in operation["responses"] if code.isdigit()}
        if missing := statuses - documented:
            undocumented.append((service, method, path, sorted(missing)))
    assert not undocumented, f"statuses the routes answer but their OpenAPI does not list: {undocumented}"


def test_the_openapi_documents_name_the_error_schema_for_every_error_status(secret_set: Any) -> None:
    from caseline.services import create_service_app

    for service in SERVICES:
        app = create_service_app(service, Settings())
        for path, operations in app.openapi()["paths"].items():
            for method, operation in operations.items():
                for code, response in operation["responses"].items():
                    if code.isdigit() and int(code) >= 400:
                        assert "content" in response, (service, method, path, code)
