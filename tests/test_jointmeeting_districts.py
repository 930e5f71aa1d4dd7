"""Each district has its own joint meeting: files, clustering, rules, tokens, notices and boards by district.

Luzhou (潞州区) is the founding district; Shangdang (上党区) is the second one. Compound codes are
district-local, so CP0001 exists in both and the two are different places.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from typer.testing import CliRunner, Result

from caseline.cli import app
from caseline.embedded import EmbeddedBroker
from district.registry import load_districts
from eventcore.database import create_pool, migrate
from eventcore.outbox import OutboxMessage
from eventcore.service import build_app
from eventcore.settings import Settings, get_settings
from eventcore.store import PendingEvent
from schemas.base import EventMetadata
from schemas.bureau import BUREAU_REPORTS, bureau_tasks_topic
from schemas.cases import CaseEscalated
from schemas.reference import Bureau, Category
from schemas.topics import CASES
from services.jointmeeting.adapters.auth import (
    BureauCaller,
    OfficeCaller,
    Tokens,
    TokensError,
)
from services.jointmeeting.adapters.read_models import EXTRA_DDL, rebuild
from services.jointmeeting.app import spec
from services.jointmeeting.domain.files import cluster_key
from services.jointmeeting.domain.rules import RULES_FILE, load_district_rules
from services.jointmeeting.settings import JointMeetingSettings
from tests.kafka_reading import read_topic
from tests.test_jointmeeting_support import eventually, fire_hazard_escalation, publish_escalation, send

FIRE, STREET = Bureau.FIRE_RESCUE, Bureau.STREET_OFFICE
LUZHOU, SHANGDANG = "luzhou", "shangdang"
LUZHOU_FILE, SHANGDANG_FILE = "jm-fire-lz", "jm-shangdang-fire-sd"
DISTRICTS = load_districts()
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "bureau_subscriber.py"


def escalation(case_id: str, district: str, compound: str = "CP0001") -> CaseEscalated:
    return fire_hazard_escalation(case_id, compound).model_copy(update={"district": district})


def office(district: str) -> dict[str, str]:
    token = "dev-office" if district == LUZHOU else f"dev-{district}-office"
    return {"Authorization": f"Bearer {token}"}


def bureau_auth(district: str, bureau: Bureau) -> dict[str, str]:
    token = f"dev-bureau-{bureau.value}" if district == LUZHOU else f"dev-{district}-bureau-{bureau.value}"
    return {"Authorization": f"Bearer {token}"}


class Service:
    def __init__(self, client: httpx.AsyncClient, database_url: str, bootstrap: str) -> None:
        self.client, self.database_url, self.bootstrap = client, database_url, bootstrap

    async def scalar(self, sql: str, *args: Any) -> Any:
        conn = await asyncpg.connect(self.database_url)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    async def escalated(self, *escalations: CaseEscalated, files: int) -> None:
        before = await self.scalar("SELECT count(*) FROM jointmeeting.inbox")
        for one in escalations:
            await publish_escalation(self.bootstrap, one)
        consumed = f"SELECT count(*) >= {before + len(escalations)} FROM jointmeeting.inbox"
        await eventually(lambda: self.scalar(consumed))
        assert await self.scalar("SELECT count(*) FROM jointmeeting.files") == files

    async def two_fire_files(self) -> None:
        """The same compound code CP0001, one fire hazard in each district."""
        await self.escalated(
            escalation("case-fire-lz", LUZHOU), escalation("case-fire-sd", SHANGDANG), files=2
        )

    async def board(self, district: str, bureau: Bureau) -> dict[str, Any]:
        response = await self.client.get(
            f"/jointmeeting/bureaus/{bureau.value}/board", headers=bureau_auth(district, bureau)
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def report(self, district: str, bureau: Bureau, task: str, report_id: str) -> httpx.Response:
        body = {"report_id": report_id, "kind": "accepted", "reported_at": datetime.now(UTC).isoformat()}
        return await self.client.post(
            f"/jointmeeting/bureaus/{bureau.value}/tasks/{task}/reports",
            json=body,
            headers=bureau_auth(district, bureau),
        )


ServiceFactory = Callable[..., Awaitable[Service]]


@pytest.fixture
async def start_service(database_url: str, broker: EmbeddedBroker) -> AsyncIterator[ServiceFactory]:
    """Starts the service in-process (real PostgreSQL and Tansu); `rules_file` as the service would take it."""
    running: list[Any] = []

    async def start(rules_file: Path = RULES_FILE) -> Service:
        settings = Settings.model_validate(
            {
                "DATABASE_URL": database_url,
                "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
                "topic_partitions": 2,
            }
        )
        app = build_app(
            spec(JointMeetingSettings(overdue_check_seconds=0.5), rules_file=rules_file), settings
        )
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://jointmeeting")
        running.append((lifespan, client))
        return Service(client, database_url, broker.bootstrap_servers)

    yield start
    for lifespan, client in reversed(running):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def service(start_service: ServiceFactory) -> Service:
    return await start_service()


# --- clustering and ids -------------------------------------------------------------------------------


def test_the_cluster_key_holds_the_district_because_compound_codes_are_district_local() -> None:
    assert cluster_key(escalation("a", LUZHOU)) == (LUZHOU, "CP0001", Category.FIRE_HAZARD)
    assert cluster_key(escalation("b", SHANGDANG)) != cluster_key(escalation("a", LUZHOU))


async def test_same_compound_code_in_two_districts_opens_two_files(service: Service) -> None:
    await service.two_fire_files()
    again_in_shangdang = escalation("case-fire-sd2", SHANGDANG)  # same place, same problem: joins
    await service.escalated(again_in_shangdang, files=2)
    rows = await service.scalar(
        "SELECT json_agg(json_build_array(file_id, district, compound_code, case_ids) ORDER BY file_id) "
        "FROM jointmeeting.files"
    )
    assert json.loads(rows) == [
        [LUZHOU_FILE, LUZHOU, "CP0001", ["case-fire-lz"]],
        [SHANGDANG_FILE, SHANGDANG, "CP0001", ["case-fire-sd", "case-fire-sd2"]],
    ]
    task_ids = await service.scalar(
        "SELECT array_agg(task_id ORDER BY task_id) FROM jointmeeting.board_tasks"
    )
    assert len(task_ids) == len(set(task_ids)) == 6
    assert all(t.startswith(SHANGDANG_FILE) for t in task_ids[3:])  # the task id names its district


async def test_every_fact_of_a_shangdang_file_carries_its_district_even_from_the_overdue_watch(
    service: Service,
) -> None:
    await service.two_fire_files()
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    added = await service.client.post(
        f"/jointmeeting/files/{SHANGDANG_FILE}/tasks",
        json={
            "bureau": "public_security",
            "action": "Clear the corridor",
            "due_at": soon,
            "done_when": "Clear",
        },
        headers=office(SHANGDANG),
    )
    assert added.status_code == 201, added.text
    assert (await service.report(SHANGDANG, FIRE, f"{SHANGDANG_FILE}-t1", "sd-1")).status_code == 200
    overdue = "SELECT count(*) = 1 FROM jointmeeting.events WHERE event_type = 'EnforcementTaskOverdue'"
    await eventually(lambda: service.scalar(overdue), timeout=20)
    facts = await service.scalar(
        "SELECT json_agg(json_build_array(stream_id, event_type, metadata->>'district')) FROM jointmeeting.events"
    )
    district_of_file = {LUZHOU: f"jmfile-{LUZHOU_FILE}", SHANGDANG: f"jmfile-{SHANGDANG_FILE}"}
    assert all(stream == district_of_file[district] for stream, _, district in json.loads(facts))
    assert [SHANGDANG] == [d for _, kind, d in json.loads(facts) if kind == "EnforcementTaskOverdue"]


async def test_an_escalation_for_a_district_the_deployment_does_not_serve_is_dead_lettered(
    service: Service,
) -> None:
    await publish_escalation(service.bootstrap, escalation("case-elsewhere", "xiangyuan"))

    async def dead_letter() -> str | None:
        reason: str | None = await service.scalar("SELECT max(reason) FROM jointmeeting.dead_letters")
        return reason

    reason = await eventually(dead_letter)
    assert "unknown district 'xiangyuan'" in reason and "luzhou, shangdang" in reason
    assert await service.scalar("SELECT count(*) FROM jointmeeting.files") == 0


async def test_the_escalations_data_decides_the_district_when_its_header_disagrees(service: Service) -> None:
    shangdang_case = escalation("case-fire-sd", SHANGDANG)
    metadata = EventMetadata(correlation_id=shangdang_case.case_id, actor="routing", district=LUZHOU)
    message = OutboxMessage.for_event(PendingEvent(shangdang_case, metadata), topic=CASES, source="/caseline/routing")
    await send(service.bootstrap, CASES, message.key, message.payload.encode(), list(message.headers.items()))
    await eventually(lambda: service.scalar("SELECT count(*) = 1 FROM jointmeeting.files"))
    districts = await service.scalar(
        "SELECT array_agg(DISTINCT metadata->>'district') FROM jointmeeting.events"
    )
    assert districts == [SHANGDANG]


# --- notices ------------------------------------------------------------------------------------------


async def test_bureau_notice_carries_the_district(service: Service) -> None:
    await service.two_fire_files()
    notices = await read_topic(service.bootstrap, bureau_tasks_topic(FIRE), expect=2)
    by_task = {n.data["task_id"]: n for n in notices}
    assert {task: (n.data["district"], n.headers["ce_district"]) for task, n in by_task.items()} == {
        f"{LUZHOU_FILE}-t1": (LUZHOU, LUZHOU),
        f"{SHANGDANG_FILE}-t1": (SHANGDANG, SHANGDANG),
    }
    opened = await read_topic(service.bootstrap, "caseline.jointmeeting.v1", expect=8)
    assert {
        n.data["file_id"]: n.data["district"]
        for n in opened
        if n.headers["ce_type"].endswith("FileOpened.v1")
    } == {LUZHOU_FILE: LUZHOU, SHANGDANG_FILE: SHANGDANG}


async def test_the_example_subscriber_keeps_and_accepts_only_its_own_districts_tasks(
    service: Service,
) -> None:
    module = importlib.util.spec_from_file_location("bureau_subscriber", EXAMPLE)
    assert module is not None and module.loader is not None
    example = importlib.util.module_from_spec(module)
    module.loader.exec_module(example)
    await service.two_fire_files()
    tasks = await asyncio.wait_for(
        example.follow(
            service.bootstrap, "fire_rescue", district=SHANGDANG, accept=True, group=None, max_notices=1
        ),
        timeout=60,
    )
    assert list(tasks) == [f"{SHANGDANG_FILE}-t1"]

    async def accepted() -> bool:
        return bool((await service.board(SHANGDANG, FIRE))["open"][0]["status"] == "accepted")

    await eventually(accepted)
    assert (await service.board(LUZHOU, FIRE))["open"][0]["status"] == "assigned"
    with pytest.raises(ValueError, match="needs the bureau's district"):
        await example.follow(service.bootstrap, "fire_rescue", district=None, accept=True, group=None)


# --- tokens -------------------------------------------------------------------------------------------


async def test_shangdang_fire_bureau_cannot_see_a_luzhou_task(service: Service) -> None:
    await service.two_fire_files()
    luzhou_task, shangdang_task = f"{LUZHOU_FILE}-t1", f"{SHANGDANG_FILE}-t1"
    board = await service.board(SHANGDANG, FIRE)
    assert (board["district"], [t["task_id"] for t in board["open"]]) == (SHANGDANG, [shangdang_task])
    headers = bureau_auth(SHANGDANG, FIRE)
    peek = await service.client.get(f"/jointmeeting/bureaus/fire_rescue/tasks/{luzhou_task}", headers=headers)
    assert peek.status_code == 404 and peek.json()["detail"]["error"] == "not_found"
    steal = await service.report(SHANGDANG, FIRE, luzhou_task, "steal-1")
    assert steal.status_code == 404
    own = await service.client.get(
        f"/jointmeeting/bureaus/fire_rescue/tasks/{shangdang_task}", headers=headers
    )
    assert own.status_code == 200 and own.json()["district"] == SHANGDANG
    [luzhou_fire] = (await service.board(LUZHOU, FIRE))["open"]
    assert (luzhou_fire["task_id"], luzhou_fire["status"]) == (luzhou_task, "assigned")  # nothing recorded


async def test_office_staff_see_and_act_on_their_own_districts_files_only(service: Service) -> None:
    await service.two_fire_files()
    listed = await service.client.get("/jointmeeting/files", headers=office(SHANGDANG))
    assert [f["file_id"] for f in listed.json()] == [SHANGDANG_FILE]
    assert (
        await service.client.get(f"/jointmeeting/files/{LUZHOU_FILE}", headers=office(SHANGDANG))
    ).status_code == 404
    cancel = await service.client.post(
        f"/jointmeeting/tasks/{LUZHOU_FILE}-t1/cancellation", json={"reason": "x"}, headers=office(SHANGDANG)
    )
    meeting = await service.client.post(
        f"/jointmeeting/files/{LUZHOU_FILE}/meetings",
        json={"scheduled_for": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
        headers=office(SHANGDANG),
    )
    assert (cancel.status_code, meeting.status_code) == (404, 404)
    own = await service.client.post(
        f"/jointmeeting/tasks/{SHANGDANG_FILE}-t1/cancellation",
        json={"reason": "dup"},
        headers=office(SHANGDANG),
    )
    assert own.status_code == 200 and own.json()["district"] == SHANGDANG
    events = "SELECT count(*) FROM jointmeeting.events WHERE stream_id = $1"
    assert await service.scalar(events, f"jmfile-{LUZHOU_FILE}") == 4  # opened + three tasks: untouched


def test_the_old_flat_token_layout_means_the_founding_district() -> None:
    lz_fire, sd_fire, lz_office, sd_office = (f"{n}-0123456789abcdefghijklmnopqrstuvwxyz" for n in "abcd")
    settings = JointMeetingSettings(
        bureau_tokens={"fire_rescue": lz_fire, SHANGDANG: {"fire_rescue": sd_fire}},
        office_tokens={"staff-7": lz_office, SHANGDANG: {"staff-9": sd_office}},
    )
    tokens = Tokens.configured(settings, DISTRICTS)
    assert tokens.bureau(lz_fire) == BureauCaller(LUZHOU, FIRE)
    assert tokens.bureau(sd_fire) == BureauCaller(SHANGDANG, FIRE)
    assert tokens.staff(sd_office) == OfficeCaller(SHANGDANG, "staff-9")
    assert tokens.staff(lz_fire) is None  # a bureau's token is no office token
    assert tokens.bureau("dev-bureau-fire_rescue") is None and not settings.uses_development_tokens


def test_development_tokens_follow_the_convention_for_every_district() -> None:
    tokens = Tokens.configured(JointMeetingSettings(), DISTRICTS)
    assert tokens.bureau("dev-bureau-fire_rescue") == BureauCaller(LUZHOU, FIRE)
    assert tokens.bureau("dev-shangdang-bureau-fire_rescue") == BureauCaller(SHANGDANG, FIRE)
    assert tokens.staff("dev-office") == OfficeCaller(LUZHOU, "office-dev")
    assert tokens.staff("dev-shangdang-office") == OfficeCaller(SHANGDANG, "office-dev")


SECRET = "a-secret-0123456789abcdefghijklmnopqrstuvwxyz"


@pytest.mark.parametrize(
    ("layout", "complaint"),
    [
        ({"xiangyuan": {"fire_rescue": SECRET}}, "'xiangyuan' is not a served district (serving"),
        (
            {"fire_rescue": SECRET, SHANGDANG: {"fire_rescue": SECRET}},
            "shares a token with bureau:luzhou/fire_rescue",
        ),
        ({SHANGDANG: {"fire_brigade": SECRET}}, "'fire_brigade' (shangdang) is not a bureau"),
        ({SHANGDANG: {"fire_rescue": "short"}}, "at least 32 characters"),
    ],
)
def test_a_token_setting_that_names_an_unknown_district_or_shares_a_token_is_refused(
    layout: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(TokensError, match=complaint.replace("(", r"\(").replace(")", r"\)")):
        Tokens.configured(JointMeetingSettings(bureau_tokens=layout), DISTRICTS)


# --- reports over the topic ---------------------------------------------------------------------------


async def test_a_topic_report_lands_in_its_tasks_district_and_one_naming_another_district_is_refused(
    service: Service,
) -> None:
    await service.two_fire_files()
    report = {
        "report_id": "sd-street-1",
        "task_id": f"{SHANGDANG_FILE}-t2",
        "bureau": "street_office",
        "kind": "accepted",
        "reported_at": datetime.now(UTC).isoformat(),
    }
    await send(service.bootstrap, BUREAU_REPORTS, report["task_id"], json.dumps(report).encode())
    wrong_bureau = {**report, "report_id": "sd-x", "bureau": "fire_rescue"}
    await send(service.bootstrap, BUREAU_REPORTS, report["task_id"], json.dumps(wrong_bureau).encode())

    async def dead_letter() -> str | None:
        reason: str | None = await service.scalar("SELECT max(reason) FROM jointmeeting.dead_letters")
        return reason

    assert "is not a task of fire_rescue" in await eventually(dead_letter)
    from_luzhou = {**report, "report_id": "lz-street-1", "district": "luzhou"}
    await send(service.bootstrap, BUREAU_REPORTS, report["task_id"], json.dumps(from_luzhou).encode())

    async def refused_for_luzhou() -> int | None:
        found: int | None = await service.scalar(
            "SELECT count(*) FROM jointmeeting.dead_letters WHERE reason LIKE '%lz-street-1%no task%'"
        )
        return found or None

    assert await eventually(refused_for_luzhou) == 1
    recorded = await service.scalar(
        "SELECT metadata->>'district' FROM jointmeeting.events WHERE event_type = 'EnforcementTaskReported'"
    )
    assert recorded == SHANGDANG
    [street] = (await service.board(SHANGDANG, STREET))["open"]
    assert street["status"] == "accepted"


# --- rules --------------------------------------------------------------------------------------------


def _rules_with_shangdang_override(tmp_path: Path) -> Path:
    default = tmp_path / "joint_meeting_rules.yaml"
    shutil.copy(RULES_FILE, default)
    text = RULES_FILE.read_text(encoding="utf-8").replace(
        "    bureaus: [fire_rescue, street_office, centre]\n",
        "    bureaus: [fire_rescue, street_office, centre, public_security]\n",
    )
    assert "centre, public_security]" in text
    (tmp_path / "joint_meeting_rules.shangdang.yaml").write_text(text, encoding="utf-8")
    return default


async def test_district_rules_file_replaces_the_default_for_that_district(
    start_service: ServiceFactory, tmp_path: Path
) -> None:
    rules_file = _rules_with_shangdang_override(tmp_path)
    rules = load_district_rules(DISTRICTS.codes, rules_file)
    assert Bureau.PUBLIC_SECURITY not in rules[LUZHOU].propose(Category.FIRE_HAZARD, []).bureaus
    assert Bureau.PUBLIC_SECURITY in rules[SHANGDANG].propose(Category.FIRE_HAZARD, []).bureaus
    service = await start_service(rules_file)
    await service.two_fire_files()
    bureaus = await service.scalar(
        "SELECT json_object_agg(district, n) FROM "
        "(SELECT district, count(*) AS n FROM jointmeeting.board_tasks GROUP BY district) x"
    )
    assert json.loads(bureaus) == {LUZHOU: 3, SHANGDANG: 4}  # Shangdang's fire hazards also call the police


# --- read models and the command line ---


async def test_the_board_command_shows_the_district_and_filters_by_it(service: Service) -> None:
    await service.two_fire_files()
    env = {"DATABASE_URL": service.database_url, "COLUMNS": "250"}
    get_settings.cache_clear()  # settings are read once per process; this test changes the environment

    def board(*args: str) -> Result:
        return CliRunner().invoke(app, ["jointmeeting", "board", "fire_rescue", *args], env=env)

    everyone = await asyncio.to_thread(board)
    assert everyone.exit_code == 0, everyone.output
    assert f"{LUZHOU_FILE}-t1" in everyone.output and f"{SHANGDANG_FILE}-t1" in everyone.output
    by_name = await asyncio.to_thread(board, "--district", "上党区")
    assert by_name.exit_code == 0, by_name.output
    assert f"{SHANGDANG_FILE}-t1" in by_name.output and f"{LUZHOU_FILE}-t1" not in by_name.output
    unknown = await asyncio.to_thread(board, "--district", "xiangyuan")
    assert unknown.exit_code == 2 and "unknown district 'xiangyuan'" in unknown.output


# --- read models --------------------------------------------------------------------------------------


async def test_the_rebuilt_boards_keep_each_tasks_district(service: Service) -> None:
    await service.two_fire_files()
    assert (await service.report(SHANGDANG, FIRE, f"{SHANGDANG_FILE}-t1", "sd-1")).status_code == 200
    snapshot = "SELECT json_agg(x ORDER BY x::text)::text FROM (SELECT * FROM jointmeeting.{t}) x"
    live = [await service.scalar(snapshot.format(t=t)) for t in ("files", "board_tasks")]
    conn = await asyncpg.connect(service.database_url)
    try:
        async with conn.transaction():
            assert await rebuild(conn, "jointmeeting", chunk=1) == 2  # a page and a COPY per file
    finally:
        await conn.close()
    assert [await service.scalar(snapshot.format(t=t)) for t in ("files", "board_tasks")] == live
    shangdang_rows = "SELECT count(*) FROM jointmeeting.board_tasks WHERE district = 'shangdang'"
    assert await service.scalar(shangdang_rows) == 3


async def test_an_installation_from_before_districts_upgrades_in_place_to_the_founding_district(
    database_url: str,
) -> None:
    pool = await create_pool(database_url, max_size=2)
    try:
        await migrate(pool, "jointmeeting", EXTRA_DDL[:1])  # the tables as they were before districts
        async with pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO jointmeeting.files VALUES "
                "('jm-old', 'case-old', '{case-old}', 'fire_hazard', 'CP0001', 'ST01', 'fire_rescue', "
                "false, false, 1, 0)"
            )
        await migrate(pool, "jointmeeting", EXTRA_DDL)
        async with pool.acquire() as conn:
            assert (
                await conn.fetchval("SELECT district FROM jointmeeting.files WHERE file_id = 'jm-old'")
                == LUZHOU
            )
            indexes = await conn.fetchval(
                "SELECT array_agg(indexname::text ORDER BY indexname) FROM pg_indexes "
                "WHERE schemaname = 'jointmeeting' AND indexname LIKE '%cluster%'"
            )
            assert indexes == ["files_open_cluster_by_district"]
    finally:
        await pool.close()
