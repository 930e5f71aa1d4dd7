"""The workbenches without a browser: the sign-in seam, sessions and CSRF, who may see and do what, the
commands each case and file offers, the timeline of other services' facts, and the staff's words."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from deadlines.calendar import WorkingCalendar
from district.registry import load_districts
from district.unit_tokens import UNIT, development_units
from eventcore.consumer import ServiceStores, consume_batch
from eventcore.database import DbConnection, create_pool, migrate
from eventcore.outbox import OutboxMessage
from eventcore.store import PendingEvent, StreamAppend
from schemas.base import EventMetadata
from schemas.bureau import ReportKind
from schemas.cases import CallbackOutcome
from schemas.reference import Bureau
from schemas.sla import ClockKind, ClockMeasure, ClockScope, SlaBreached, SlaClockPaused, SlaClockStarted
from schemas.topics import COMPLAINTS, SLA
from services.jointmeeting.adapters.auth import BUREAU, OFFICE, Tokens
from services.jointmeeting.domain.permissions import OfficeCommand, bureau_reports, office_permissions
from services.jointmeeting.domain.state import evolve
from services.jointmeeting.domain.tasks import record_report
from services.jointmeeting.settings import JointMeetingSettings
from services.routing.adapters.case_view import CaseView
from services.routing.adapters.workbench.changes import (
    CASE_STREAM_PREFIX,
    CHANNEL,
    CaseChange,
    announce,
    notifying,
)
from services.routing.adapters.workbench.wiring import routing_workbench
from services.routing.app import EXTRA_DDL, SCHEMA
from services.routing.domain.access import Actor
from services.routing.domain.learnt import learn_clock
from services.routing.domain.permissions import StaffCommand, permitted_commands
from services.routing.handlers import (
    RoutingContext,
    handle_complaints_topic,
    handle_sla_breached,
    handle_sla_topic,
)
from tests.factories import Record
from tests.test_case_lifecycle import CENTRE, NOW, POLICY, complaint, compound, handler, opened
from tests.test_jointmeeting_support import TIMING, opened_fire_file, report
from tests.test_routing_service import record
from webui.i18n import MESSAGES, Lang, Translator
from webui.principals import CredentialBooks, Principal, PrincipalKind, principal_for
from webui.sessions import SessionCookies, SignInThrottle

DISTRICTS = load_districts()
CTX = RoutingContext(DISTRICTS)
WHERE = compound()
COMMUNITY = f"dev-{WHERE.community_code}"
HERE = Path(__file__).resolve().parent.parent


# -- the seam, sessions, CSRF --------------------------------------------------------------------------


def test_one_seam_turns_unit_office_and_bureau_credentials_into_principals_and_refuses_the_rest() -> None:
    units = development_units(DISTRICTS)
    tokens = Tokens.configured(JointMeetingSettings(), DISTRICTS)
    kinds = {UNIT: PrincipalKind.UNIT, OFFICE: PrincipalKind.OFFICE, BUREAU: PrincipalKind.BUREAU}
    books = CredentialBooks(units.merged(tokens.verifier), kinds)
    assert principal_for(" dev-ST01 ", books) == Principal(PrincipalKind.UNIT, "luzhou", "ST01")
    assert principal_for("dev-shangdang-centre", books) == Principal(
        PrincipalKind.UNIT, "shangdang", "centre"
    )
    assert principal_for("dev-office", books) == Principal(PrincipalKind.OFFICE, "luzhou", "office-dev")
    assert principal_for("dev-bureau-fire_rescue", books) == Principal(
        PrincipalKind.BUREAU, "luzhou", "fire_rescue"
    )
    assert principal_for("dev-ST99", books) is None
    assert principal_for("", books) is None
    routing_books = CredentialBooks(units, {UNIT: PrincipalKind.UNIT})
    assert principal_for("dev-office", routing_books) is None  # routing knows no office


def test_a_session_cookie_is_signed_scoped_strict_and_one_services_cookie_is_no_others() -> None:
    routing = SessionCookies("routing", "s" * 32, 3600)
    principal = Principal(PrincipalKind.UNIT, "luzhou", "ST01")
    response = Response()
    routing.issue(
        response, _request({"x-forwarded-proto": "https"}), routing.new_session(principal, "li.wei")
    )
    header = response.headers["set-cookie"]
    assert "HttpOnly" in header and "SameSite=strict" in header and "Path=/workbench/" in header
    assert "Secure" in header and "Max-Age" not in header and "expires" not in header.lower()
    value = header.split(";", 1)[0].split("=", 1)[1]

    back = routing.read(_request(cookies={routing.name: value}))
    assert back is not None and back.principal == principal and back.staff_id == "li.wei"
    assert routing.read(_request(cookies={routing.name: value[:-2] + "xx"})) is None  # tampered
    other = SessionCookies("jointmeeting", "s" * 32, 3600)
    assert other.read(_request(cookies={other.name: value})) is None  # another service's cookie
    expired = SessionCookies("routing", "s" * 32, -1)
    assert expired.read(_request(cookies={routing.name: value})) is None


def test_failed_sign_ins_are_throttled_per_client_within_the_window() -> None:
    throttle = SignInThrottle(failures=3, window=60)
    for second in range(3):
        throttle.failed("10.0.0.7", now=float(second))
    assert throttle.blocked("10.0.0.7", now=10) and not throttle.blocked("10.0.0.8", now=10)
    assert not throttle.blocked("10.0.0.7", now=100)  # the window passed


@pytest.fixture
async def routing_app(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceStores]]:
    pool = await create_pool(database_url, max_size=4)
    await migrate(pool, SCHEMA, EXTRA_DDL)
    stores = ServiceStores(
        pool, SCHEMA, "/caseline/routing", projector=notifying(CaseView(SCHEMA).project, SCHEMA)
    )
    workbench = routing_workbench(CTX, development_units(DISTRICTS), WorkingCalendar(), None)
    app = FastAPI()
    app.state.runtime = SimpleNamespace(stores=stores, settings=SimpleNamespace(database_url=database_url))
    app.include_router(workbench.router())
    recorded = workbench.timeline.recording(partial(handle_complaints_topic, CTX))
    await consume_batch(stores, [record(complaint(where=WHERE, case_id="case-w"), COMPLAINTS, 0)], recorded)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://routing") as client:
        yield client, stores
    await pool.close()


async def sign_in(client: httpx.AsyncClient, credential: str, staff: str = "li.wei") -> str:
    answer = await client.post("/workbench/sign-in", data={"credential": credential, "staff_id": staff})
    assert answer.status_code == 303, answer.text
    page = await client.get("/workbench/cases")
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


async def events_of(stores: ServiceStores, case_id: str) -> list[str]:
    async with stores.pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT event_type FROM {SCHEMA}.events WHERE data->>'case_id' = $1 ORDER BY global_position",
            case_id,
        )
    return [r["event_type"] for r in rows]


async def test_a_command_without_the_sessions_csrf_token_is_refused_and_records_nothing(
    routing_app: tuple[httpx.AsyncClient, ServiceStores],
) -> None:
    client, stores = routing_app
    csrf = await sign_in(client, COMMUNITY)
    refused = await client.post("/workbench/cases/case-w/accept", data={"version": "2"})
    forged = await client.post(
        "/workbench/cases/case-w/accept", data={"version": "2", "csrf_token": "x" * 32}
    )
    assert (refused.status_code, forged.status_code) == (403, 403)
    assert await events_of(stores, "case-w") == ["CaseOpened", "CaseRouted"]
    done = await client.post("/workbench/cases/case-w/accept", data={"version": "2", "csrf_token": csrf})
    assert done.status_code == 303 and done.headers["location"] == "/workbench/cases/case-w?done=accept"
    assert await events_of(stores, "case-w") == ["CaseOpened", "CaseRouted", "CaseAccepted"]

    signed_out = await client.post("/workbench/sign-out", data={"csrf_token": csrf})
    assert signed_out.status_code == 303 and 'caseline_routing_session=""' in signed_out.headers["set-cookie"]


async def test_a_unit_sees_and_works_only_its_own_cases_and_only_what_the_case_allows(
    routing_app: tuple[httpx.AsyncClient, ServiceStores],
) -> None:
    client, stores = routing_app
    csrf = await sign_in(client, "dev-ST02", "zhao")  # a street the case is not with
    assert (await client.get("/workbench/cases/case-w")).status_code == 404
    sneaked = await client.post("/workbench/cases/case-w/accept", data={"version": "2", "csrf_token": csrf})
    assert sneaked.status_code == 404
    client.cookies.clear()

    csrf = await sign_in(client, COMMUNITY)
    page = await client.get("/workbench/cases/case-w")
    offered = set(re.findall(r'action="/workbench/cases/case-w/([a-z_]+)"', page.text))
    assert offered == {"accept", "return", "escalate"}  # no callback, no placing: that is the centre's
    callback = await client.post(
        "/workbench/cases/case-w/callback", data={"version": "2", "csrf_token": csrf, "outcome": "satisfied"}
    )
    assert callback.status_code == 409  # the aggregate refuses: a routed case has no callback
    stale = await client.post("/workbench/cases/case-w/accept", data={"version": "1", "csrf_token": csrf})
    assert stale.status_code == 409 and "第 2 版" in stale.text  # the fresh case beside the message
    assert await events_of(stores, "case-w") == ["CaseOpened", "CaseRouted"]


async def test_unusable_input_gets_a_clear_answer_never_a_server_error(
    routing_app: tuple[httpx.AsyncClient, ServiceStores],
) -> None:
    client, _ = routing_app
    csrf = await sign_in(client, COMMUNITY)
    assert (
        await client.post("/workbench/cases/case-w/accept", data={"version": "x", "csrf_token": csrf})
    ).status_code == 422
    await client.post("/workbench/cases/case-w/accept", data={"version": "2", "csrf_token": csrf})
    empty = await client.post("/workbench/cases/case-w/resolve", data={"version": "3", "csrf_token": csrf})
    assert empty.status_code == 422 and "请填写「处理结果」" in empty.text
    nul = await client.post(
        "/workbench/cases/case-w/progress", data={"version": "3", "csrf_token": csrf, "note": "清理\x00中"}
    )
    assert nul.status_code == 303
    for path in ("/workbench/cases/%00", "/workbench/cases/" + "x" * 5000, "/workbench/cases/rows?q=%00%25_"):
        assert (await client.get(path)).status_code in (200, 404)
    assert (
        await client.post("/workbench/cases/case-w/explode", data={"csrf_token": csrf})
    ).status_code == 404
    assert (await client.get("/workbench/language?lang=en&next=https://evil.example/")).headers[
        "location"
    ] == "/workbench/"


# -- which commands a case or a file offers ----------------------------------------------------------------


def test_the_commands_offered_are_exactly_those_the_case_accepts_from_that_unit() -> None:
    case = opened(complaint(where=WHERE))
    unit, centre = handler(case), CENTRE

    def offered(actor: Actor) -> set[StaffCommand]:
        return set(permitted_commands(case, actor, POLICY))

    assert offered(unit) == {StaffCommand.ACCEPT, StaffCommand.RETURN, StaffCommand.ESCALATE}
    assert offered(centre) == {StaffCommand.ROUTE, StaffCommand.ESCALATE_LATE, StaffCommand.RECATEGORISE}
    assert offered(Actor("ST02", "x")) == set()
    assert offered(Actor(unit.unit_code, "x", "shangdang")) == set()  # the same code in another district
    case = case.then(case.accept(unit)).then(case.then(case.accept(unit)).resolve(unit, "done"))
    assert offered(unit) == set() and offered(centre) == {StaffCommand.CALLBACK}
    case = case.then(case.record_callback(centre, CallbackOutcome.SATISFIED, "", POLICY))
    assert offered(centre) == {StaffCommand.REOPEN} and offered(unit) == set()


def test_the_office_is_offered_verification_only_once_every_task_is_done_and_a_bureau_only_its_tasks() -> (
    None
):
    state = opened_fire_file()
    now = NOW + timedelta(hours=1)
    first = office_permissions(state, now, TIMING)
    assert first.file == {OfficeCommand.SCHEDULE, OfficeCommand.ASSIGN}
    assert all(
        c == {OfficeCommand.REASSIGN, OfficeCommand.EXTEND, OfficeCommand.CANCEL}
        for c in first.tasks.values()
    )
    lead = next(t for t in state.tasks.values() if t.is_lead)
    assert bureau_reports(state, lead.task_id, Bureau.STREET_OFFICE, now) == []
    assert bureau_reports(state, lead.task_id, lead.bureau, now) == list(ReportKind)
    for task in list(state.tasks.values()):
        done_report = report(task.task_id, task.bureau, ReportKind.DONE, f"done-{task.task_id}")
        for event in record_report(state, done_report, "http"):
            state = evolve(state, event)
    done = office_permissions(state, now, TIMING)
    assert OfficeCommand.VERIFY in done.file and not any(done.tasks.values())


# -- the timeline and live updates ------------------------------------------------------------------------


async def test_other_services_facts_join_the_case_once_and_every_change_is_announced(
    database_url: str,
) -> None:
    pool = await create_pool(database_url, max_size=4)
    await migrate(pool, SCHEMA, EXTRA_DDL)
    stores = ServiceStores(
        pool, SCHEMA, "/caseline/routing", projector=notifying(CaseView(SCHEMA).project, SCHEMA)
    )
    workbench = routing_workbench(CTX, development_units(DISTRICTS), WorkingCalendar(), None)
    heard: list[str] = []
    listener = await asyncpg.connect(database_url)
    await listener.add_listener(CHANNEL, lambda *args: heard.append(args[3]))
    try:
        received = record(complaint(where=WHERE, case_id="case-t"), COMPLAINTS, 0)
        await consume_batch(
            stores, [received], workbench.timeline.recording(partial(handle_complaints_topic, CTX))
        )
        started = _clock_started("case-t")
        sla = workbench.timeline.recording(partial(handle_sla_breached, CTX))
        delivered = _from_sla(started)
        for _ in range(2):  # a redelivery records nothing twice
            await consume_batch(stores, [delivered], sla)
        async with pool.acquire() as conn:
            entries = await workbench.timeline.of_case(conn, "case-t")
        assert [(e.service, e.event_type) for e in entries] == [
            ("intake", "ComplaintReceived"),
            ("sla", "SlaClockStarted"),
        ]
        await asyncio.sleep(0.2)
        changes = [CaseChange.parse(p) for p in heard]
        assert {(c.case_id, c.district) for c in changes if c} == {("case-t", "luzhou")}
        assert any(c is not None and WHERE.community_code in c.units for c in changes)
    finally:
        await listener.close()
        await pool.close()


async def test_a_joint_meeting_files_fact_announces_every_case_of_the_file_with_the_units_it_moved_between(
    database_url: str, statements: list[str]
) -> None:
    pool = await create_pool(database_url, max_size=4)
    await migrate(pool, SCHEMA, EXTRA_DDL)
    stores = ServiceStores(pool, SCHEMA, "/caseline/routing", projector=CaseView(SCHEMA).project)
    workbench = routing_workbench(CTX, development_units(DISTRICTS), WorkingCalendar(), None)
    heard: list[str] = []
    listener = await asyncpg.connect(database_url)
    await listener.add_listener(CHANNEL, lambda *args: heard.append(args[3]))
    try:
        for case_id in ("case-f1", "case-f2"):
            received = record(complaint(where=WHERE, case_id=case_id), COMPLAINTS, 0)
            await consume_batch(stores, [received], partial(handle_complaints_topic, CTX))
        async with pool.acquire() as conn, conn.transaction():
            await workbench.timeline.write(conn, [_file_fact("file-9", "case-f1", "e-1")])
        await asyncio.sleep(0.2)  # what those commits announced has arrived, and is not this test's
        heard.clear()
        statements.clear()
        async with pool.acquire() as conn, conn.transaction():
            # The file's next fact names the other case; both are in the file, so both screens follow it.
            await workbench.timeline.write(conn, [_file_fact("file-9", "case-f2", "e-2")])
            await announce(conn, SCHEMA, ["case-f2", "case-nowhere"], {"case-f2": "zz-street"})
        await asyncio.sleep(0.2)
        community = WHERE.community_code
        assert sorted(heard) == sorted(
            {
                CaseChange("case-f1", "luzhou", frozenset({community})).payload(),
                CaseChange("case-f2", "luzhou", frozenset({community})).payload(),
                CaseChange("case-f2", "luzhou", frozenset({community, "zz-street"})).payload(),
            }
        )
        sent = [sql for sql in statements if "case_timeline" in sql or "pg_notify" in sql]
        assert len(sent) == 2  # the timeline's insert with its announcement, then the announcement
    finally:
        await listener.close()
        await pool.close()


def _file_fact(file_id: str, case_id: str, event_id: str) -> tuple[object, ...]:
    return (event_id, case_id, file_id, "jointmeeting", "JointMeetingFileOpened", NOW, "jm", None, "{}")


def _from_sla(event: SlaClockStarted) -> Record:
    metadata = EventMetadata(correlation_id=event.case_id, actor="sla-watch")
    message = OutboxMessage.for_event(PendingEvent(event, metadata), topic=SLA, source="/caseline/sla")
    headers = [(k, v.encode()) for k, v in message.headers.items()]
    return Record(SLA, 0, 7, headers, message.payload.encode())


def _clock_started(case_id: str) -> SlaClockStarted:
    return SlaClockStarted(
        case_id=case_id,
        clock_id=f"{case_id}/resolve/0",
        kind=ClockKind.RESOLVE,
        measure=ClockMeasure.WORKING,
        budget_seconds=5 * 86400,
        started_at=NOW,
        deadline=NOW + timedelta(days=7),
        at_risk_at=NOW + timedelta(days=5),
        scope=ClockScope(level="community", unit_code=WHERE.community_code),
        policy_rule="ordinary",
        policy_version="test",
    )


def test_a_working_time_clock_counts_its_time_left_in_working_days_across_a_weekend() -> None:
    calendar = WorkingCalendar(national=lambda day: day.weekday() < 5)
    friday_noon = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 12:00 in Beijing
    started = _clock_started("c").model_copy(
        update={"started_at": friday_noon, "deadline": friday_noon + timedelta(days=4)}
    )
    clock = learn_clock(None, started)  # routing's copy of the SLA clock
    assert clock is not None and clock.measure is ClockMeasure.WORKING
    left = clock.time_left(calendar, friday_noon)  # Friday noon to Tuesday noon: Fri ½, Mon, Tue ½
    assert left == 2 * 86400
    late = clock.time_left(calendar, friday_noon + timedelta(days=4, hours=5))
    assert late == -5 * 3600
    t = Translator(Lang.ZH, now=friday_noon)
    assert t.time_left(left + 3 * 3600, working=True) == "剩余 2 个工作日 3 小时"
    assert t.time_left(-5 * 3600, working=True) == "已超时 5 小时"
    assert Translator(Lang.EN).time_left(-5 * 3600 - 120, working=False) == "5 h 2 min overdue"
    assert t.when(datetime(2026, 11, 18, 6, 30, tzinfo=UTC)) == "11月18日 14:30"
    assert t.when(datetime(2025, 11, 18, 6, 30, tzinfo=UTC)) == "2025年11月18日 14:30"
    assert date(2026, 11, 20).weekday() == 4


async def test_the_queue_shows_every_clocks_time_left_from_what_routing_learnt_without_the_sla_service(
    routing_app: tuple[httpx.AsyncClient, ServiceStores],
) -> None:
    client, stores = routing_app
    now = datetime.now(UTC)
    contact = _clock_started("case-w").model_copy(  # a wall-time clock, late: announced as breached
        update={
            "clock_id": "case-w/contact",
            "kind": ClockKind.CONTACT,
            "measure": ClockMeasure.WALL,
            "budget_seconds": 3600,
            "started_at": now - timedelta(hours=6, minutes=20, seconds=30),
            "deadline": now - timedelta(hours=5, minutes=20, seconds=30),
            "at_risk_at": now - timedelta(hours=5, minutes=32),
        }
    )
    breached = SlaBreached(
        case_id="case-w",
        clock_id="case-w/contact",
        kind=ClockKind.CONTACT,
        deadline=contact.deadline,
        scope=contact.scope,
        policy_rule="ordinary",
        escalation_requested=False,
    )
    resolve = _clock_started("case-w")  # 5 working days; paused after 1½ of them
    paused = SlaClockPaused(
        case_id="case-w",
        clock_id="case-w/resolve/0",
        paused_at=now,
        consumed_seconds=1.5 * 86400,
        reason="waiting for the complainant",
    )
    facts = [record(e, SLA, i) for i, e in enumerate([contact, breached, resolve, paused])]
    for _ in range(2):  # redelivered: learnt once
        await consume_batch(stores, facts, partial(handle_sla_topic, CTX))
    async with stores.pool.acquire() as conn:
        kept = await conn.fetch(
            f"SELECT clock_id, status, breached FROM {SCHEMA}.case_clock ORDER BY clock_id"
        )
    assert [tuple(r) for r in kept] == [
        ("case-w/contact", "running", True),
        ("case-w/resolve/0", "paused", False),
    ]
    await sign_in(client, COMMUNITY)
    row = (await client.get("/workbench/cases/rows")).text
    assert '<tr class="late" data-case="case-w">' in row
    assert "已超时 5 小时 20 分钟" in row  # wall time: every hour counts
    assert "剩余 3 个工作日 12 小时(已暂停)" in row.replace("（", "(").replace("）", ")")


def test_every_word_a_template_uses_is_in_the_catalogue_in_both_languages() -> None:
    templates = [
        *HERE.glob("webui/templates/*.html"),
        *HERE.glob("services/*/adapters/workbench/templates/*.html"),
    ]
    used = {
        key
        for path in templates
        for key in re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+)["']""", path.read_text())
    }
    assert len(used) > 100
    assert sorted(used - set(MESSAGES)) == []
    assert all(zh and en for zh, en in MESSAGES.values())


def _request(headers: dict[str, str] | None = None, cookies: dict[str, str] | None = None) -> Request:
    raw = [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    if cookies:
        raw.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/workbench/",
            "headers": raw,
            "scheme": "http",
            "server": ("127.0.0.1", 80),
            "query_string": b"",
        }
    )


async def test_a_case_change_is_announced_from_its_own_row_after_the_view_grew_under_a_cached_plan(
    database_url: str,
) -> None:
    """A connection caches the plans of the announcement's statements while the case view is new and small
    (their sixth use; forced here), and PostgreSQL keeps them until it analyses the view. Announcing a change
    once the view holds thousands of cases still reads only that case's row: the unit it had, then the
    announcement."""
    pool = await create_pool(database_url, max_size=2)
    await migrate(pool, SCHEMA, EXTRA_DDL)

    async def projected(conn: DbConnection, appends: Sequence[StreamAppend]) -> None:
        pass  # the view's rows are this test's own; only the announcing around the projector is measured

    project = notifying(projected, SCHEMA)
    try:
        async with pool.acquire() as conn:
            await conn.execute("SET plan_cache_mode = force_generic_plan")
            await _case_view_rows(conn, 1, 1)
            async with conn.transaction():
                await project(conn, [StreamAppend(f"{CASE_STREAM_PREFIX}c-1", 1, [])])
            await _case_view_rows(conn, 2, 5000)
            async with conn.transaction():
                fetched = f"SELECT pg_stat_get_xact_blocks_fetched('{SCHEMA}.case_view'::regclass)"
                before = await conn.fetchval(fetched)
                await project(conn, [StreamAppend(f"{CASE_STREAM_PREFIX}c-4321", 3, [])])
                read = await conn.fetchval(fetched) - before
            view_blocks = await conn.fetchval(f"SELECT pg_relation_size('{SCHEMA}.case_view') / 8192")
            await conn.execute("RESET plan_cache_mode")
    finally:
        await pool.close()

    assert view_blocks > 40
    assert read <= 6


async def _case_view_rows(conn: DbConnection, first: int, last: int) -> None:
    await conn.execute(
        f"INSERT INTO {SCHEMA}.case_view (case_id, version, state, category, urgency, channel, received_at, "
        "unit_code, rule_id, rules_version, return_count, reopen_count, complainant_count, escalations) "
        "SELECT 'c-' || n, 1, 'routed', 'sanitation', 'normal', 'hotline', now(), 'centre', 'r', '1', "
        "0, 0, 1, '{}' FROM generate_series($1::int, $2::int) AS n",
        first,
        last,
    )
