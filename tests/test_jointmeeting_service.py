"""The joint-meeting service in-process against real PostgreSQL and Tansu: HTTP, bureau topics, read models."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import traceback
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
import asyncpg
import httpx
import pytest

from caseline.embedded import EmbeddedBroker
from eventcore.service import build_app
from eventcore.settings import Settings
from schemas.bureau import BUREAU_REPORTS, bureau_tasks_topic
from schemas.cases import EscalationTrigger
from schemas.reference import Bureau, Category
from services.jointmeeting.adapters.read_models import rebuild
from services.jointmeeting.app import spec
from services.jointmeeting.domain.tasks import proposed_due
from services.jointmeeting.settings import JointMeetingSettings
from tests.kafka_reading import read_topic
from tests.test_jointmeeting_support import (
    OFFICE,
    TIMING,
    bureau_auth,
    eventually,
    fire_hazard_escalation,
    publish_escalation,
    send,
)

FIRE, STREET, CENTRE = Bureau.FIRE_RESCUE, Bureau.STREET_OFFICE, Bureau.CENTRE
FILE = "jm-fire-1"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "bureau_subscriber.py"


class Service:
    def __init__(self, client: httpx.AsyncClient, database_url: str, bootstrap: str) -> None:
        self.client, self.database_url, self.bootstrap = client, database_url, bootstrap

    async def scalar(self, sql: str, *args: Any) -> Any:
        conn = await asyncpg.connect(self.database_url)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    async def board(self, bureau: Bureau) -> dict[str, Any]:
        response = await self.client.get(
            f"/jointmeeting/bureaus/{bureau.value}/board", headers=bureau_auth(bureau)
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def escalated_fire_file(self) -> None:
        await publish_escalation(self.bootstrap, fire_hazard_escalation())

        async def file_opened() -> bool:
            response = await self.client.get(f"/jointmeeting/files/{FILE}", headers=OFFICE)
            return response.status_code == 200

        await eventually(file_opened)

    async def report(
        self, bureau: Bureau, task: str, kind: str, report_id: str, **extra: Any
    ) -> httpx.Response:
        body = {"report_id": report_id, "kind": kind, "reported_at": datetime.now(UTC).isoformat(), **extra}
        return await self.client.post(
            f"/jointmeeting/bureaus/{bureau.value}/tasks/{task}/reports",
            json=body,
            headers=bureau_auth(bureau),
        )


@pytest.fixture
async def service(database_url: str, broker: EmbeddedBroker) -> AsyncIterator[Service]:
    settings = Settings.model_validate(
        {
            "DATABASE_URL": database_url,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "topic_partitions": 2,
        }
    )
    app = build_app(spec(JointMeetingSettings(overdue_check_seconds=0.5)), settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://jointmeeting") as client:
            yield Service(client, database_url, broker.bootstrap_servers)


async def test_an_escalated_fire_hazard_puts_one_task_on_each_bureaus_board_and_topic(
    service: Service,
) -> None:
    await service.escalated_fire_file()
    boards = {bureau: await service.board(bureau) for bureau in (FIRE, STREET, CENTRE)}
    assert [t["task_id"] for t in boards[FIRE]["open"]] == [f"{FILE}-t1"]
    assert [t["task_id"] for t in boards[STREET]["open"]] == [f"{FILE}-t2"]
    assert (await service.board(Bureau.JUSTICE))["open"] == []
    notices = await read_topic(service.bootstrap, bureau_tasks_topic(FIRE), expect=1)
    assert [(n.data["task_id"], n.data["notice"]) for n in notices] == [(f"{FILE}-t1", "assigned")]
    assert notices[0].headers["ce_type"] == "caseline.BureauTaskNotice.v1"
    assert "phone" not in json.dumps(notices[0].data) and "complainant" not in json.dumps(notices[0].data)


async def test_an_escalation_is_consumed_on_the_event_loop_without_a_hop_through_a_worker_thread(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FastStream would inject its message context into the handler through a worker thread, costing every
    batch ~0.2 CPU-ms and a thread switch: the handler takes the fetch's records as they are instead."""
    hops_for_messages: list[str] = []
    run_sync = anyio.to_thread.run_sync

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        stack = "".join(traceback.format_stack())
        if "faststream" in stack or "fast_depends" in stack:
            hops_for_messages.append(stack.splitlines()[-3])
        return await run_sync(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    await service.escalated_fire_file()
    assert hops_for_messages == []


async def test_a_bureau_cannot_read_or_report_another_bureaus_task(service: Service) -> None:
    await service.escalated_fire_file()
    fire_task = f"{FILE}-t1"
    street = bureau_auth(STREET)
    base = "/jointmeeting/bureaus"
    assert (await service.client.get(f"{base}/fire_rescue/board", headers=street)).status_code == 403
    assert (
        await service.client.get(f"{base}/street_office/tasks/{fire_task}", headers=street)
    ).status_code == 403
    report = await service.report(STREET, fire_task, "accepted", "steal-1")
    assert report.status_code == 403 and report.json()["detail"]["error"] == "forbidden"
    spoofed = await service.client.post(
        f"{base}/fire_rescue/tasks/{fire_task}/reports",
        json={"report_id": "steal-2", "kind": "accepted", "reported_at": datetime.now(UTC).isoformat()},
        headers=street,
    )
    assert spoofed.status_code == 403
    assert (await service.client.get(f"{base}/fire_rescue/board")).status_code == 401
    # A bureau's valid token is not the office's: forbidden, not unauthenticated.
    assert (await service.client.get("/jointmeeting/files", headers=bureau_auth(FIRE))).status_code == 403
    assert (await service.board(FIRE))["open"][0]["status"] == "assigned"  # nothing was recorded


async def test_a_report_over_http_and_over_the_topic_record_the_same_facts_once(service: Service) -> None:
    await service.escalated_fire_file()
    first = await service.report(FIRE, f"{FILE}-t1", "accepted", "fire-1")
    again = await service.report(FIRE, f"{FILE}-t1", "accepted", "fire-1")
    assert (first.status_code, again.status_code) == (200, 200) and again.json()["status"] == "accepted"
    topic_report = {
        "report_id": "street-1",
        "task_id": f"{FILE}-t2",
        "bureau": "street_office",
        "kind": "done",
        "evidence": [{"kind": "photo", "ref": "street-dms://2026/11/0042"}],
        "reported_at": datetime.now(UTC).isoformat(),
    }
    for _ in range(2):
        await send(service.bootstrap, BUREAU_REPORTS, f"{FILE}-t2", json.dumps(topic_report).encode())

    async def street_done() -> bool:
        return bool((await service.board(STREET))["completed"])

    await eventually(street_done)
    await asyncio.sleep(1.0)  # let the resend arrive too
    reported = await service.scalar(
        "SELECT array_agg(data->>'via' ORDER BY global_position) FROM jointmeeting.events "
        "WHERE event_type = 'EnforcementTaskReported'"
    )
    assert reported == ["http", "topic"]
    journeys = await service.scalar(
        "SELECT array_agg(DISTINCT metadata->>'correlation_id') FROM jointmeeting.events"
    )
    assert journeys == ["case-fire-1"]  # the bureaus' facts stay on the journey of the escalated case


async def test_a_bad_report_gets_a_clear_error_over_http_and_a_dead_letter_on_the_topic(
    service: Service,
) -> None:
    await service.escalated_fire_file()
    response = await service.report(FIRE, f"{FILE}-t1", "done", "fire-9")  # done without evidence
    assert response.status_code == 422 and "evidence" in response.json()["detail"]["detail"]
    wrong_bureau = {
        "report_id": "x-1",
        "task_id": f"{FILE}-t1",
        "bureau": "street_office",
        "kind": "accepted",
        "reported_at": datetime.now(UTC).isoformat(),
    }
    await send(service.bootstrap, BUREAU_REPORTS, "x", json.dumps(wrong_bureau).encode())
    await send(service.bootstrap, BUREAU_REPORTS, "x", b'{"report_id": "x-2", "kind": "finished"}')

    async def dead_letters() -> list[str] | None:
        reasons = await service.scalar("SELECT array_agg(reason ORDER BY id) FROM jointmeeting.dead_letters")
        return reasons if reasons and len(reasons) == 2 else None

    reasons = await eventually(dead_letters)
    assert any("is not a task of street_office" in r for r in reasons)
    assert any("invalid BureauReport" in r and "kind" in r for r in reasons)


async def test_a_task_past_its_deadline_is_marked_overdue_by_the_service_once_until_extended(
    service: Service,
) -> None:
    await service.escalated_fire_file()
    soon = datetime.now(UTC) + timedelta(seconds=2)
    added = await service.client.post(
        f"/jointmeeting/files/{FILE}/tasks",
        json={
            "bureau": "public_security",
            "action": "Clear the corridor",
            "due_at": soon.isoformat(),
            "done_when": "Corridor clear",
        },
        headers=OFFICE,
    )
    assert added.status_code == 201, added.text

    async def overdue() -> list[Any]:
        board: list[Any] = (await service.board(Bureau.PUBLIC_SECURITY))["overdue"]
        return board

    [task] = await eventually(overdue, timeout=20)
    await asyncio.sleep(1.5)  # several more checks: still one fact for this deadline
    count_sql = "SELECT count(*) FROM jointmeeting.events WHERE event_type = 'EnforcementTaskOverdue'"
    assert await service.scalar(count_sql) == 1
    referred = await service.client.get("/jointmeeting/files", params={"needs_meeting": True}, headers=OFFICE)
    assert [f["file_id"] for f in referred.json()] == [FILE]
    extended = await service.client.post(
        f"/jointmeeting/tasks/{task['task_id']}/extension",
        json={"due_at": (datetime.now(UTC) + timedelta(days=2)).isoformat(), "reason": "Owner away"},
        headers=OFFICE,
    )
    assert extended.status_code == 200 and not extended.json()["tasks"][-1]["overdue"]
    assert (await service.board(Bureau.PUBLIC_SECURITY))["open"][0]["task_id"] == task["task_id"]


async def test_office_commands_that_do_not_fit_the_file_are_refused_with_a_reason(service: Service) -> None:
    await service.escalated_fire_file()
    early = await service.client.post(
        f"/jointmeeting/files/{FILE}/verification", json={"summary": "ok"}, headers=OFFICE
    )
    assert early.status_code == 409 and "not done" in early.json()["detail"]["detail"]
    missing = await service.client.post(
        "/jointmeeting/tasks/nope/cancellation", json={"reason": "x"}, headers=OFFICE
    )
    assert missing.status_code == 404
    past = await service.client.post(
        f"/jointmeeting/files/{FILE}/meetings",
        json={"scheduled_for": "2020-01-01T09:00:00+08:00"},
        headers=OFFICE,
    )
    assert past.status_code == 422 and "future" in past.json()["detail"]["detail"]


async def test_a_task_the_office_gives_without_a_date_is_due_by_the_sla_policy_in_working_days(
    service: Service,
) -> None:
    await service.escalated_fire_file()
    before = datetime.now(UTC)
    added = await service.client.post(
        f"/jointmeeting/files/{FILE}/tasks",
        json={"bureau": "public_security", "action": "Secure the site", "done_when": "Patrol log"},
        headers=OFFICE,
    )
    after = datetime.now(UTC)
    assert added.status_code == 201, added.text
    due = datetime.fromisoformat(added.json()["tasks"][-1]["due_at"])
    # a fire hazard's task: 5 working days (deadlines/sla_policy.yaml), counted on the working calendar
    earliest, latest = (proposed_due(TIMING, "luzhou", Category.FIRE_HAZARD, t) for t in (before, after))
    assert earliest <= due <= latest


async def test_the_files_and_boards_rebuilt_from_the_event_store_equal_the_live_read_models(
    service: Service,
) -> None:
    await service.escalated_fire_file()
    await publish_escalation(service.bootstrap, fire_hazard_escalation("case-fire-2"))  # same compound: joins
    await eventually(lambda: service.scalar("SELECT cardinality(case_ids) = 2 FROM jointmeeting.files"))
    await service.report(FIRE, f"{FILE}-t1", "accepted", "a-1")
    await service.report(STREET, f"{FILE}-t2", "unable", "u-1", reason="Residents refuse entry")
    await service.client.post(
        f"/jointmeeting/tasks/{FILE}-t3/reassignment",
        json={"bureau": "justice", "reason": "mediation"},
        headers=OFFICE,
    )
    await service.report(
        Bureau.JUSTICE, f"{FILE}-t4", "done", "d-1", evidence=[{"kind": "record", "ref": "m-1"}]
    )
    snapshot = "SELECT json_agg(x ORDER BY x::text)::text FROM (SELECT * FROM jointmeeting.{t}) x"
    live = [await service.scalar(snapshot.format(t=t)) for t in ("files", "board_tasks")]
    conn = await asyncpg.connect(service.database_url)
    try:
        async with conn.transaction():
            assert await rebuild(conn, "jointmeeting") == 1
    finally:
        await conn.close()
    replayed = [await service.scalar(snapshot.format(t=t)) for t in ("files", "board_tasks")]
    assert replayed == live
    assert '"status": "reassigned"' in live[1] or '"status":"reassigned"' in live[1]


async def test_the_example_bureau_subscriber_sees_its_task_and_its_acceptance_is_recorded(
    service: Service,
) -> None:
    spec_ = importlib.util.spec_from_file_location("bureau_subscriber", EXAMPLE)
    assert spec_ is not None and spec_.loader is not None
    example = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(example)
    await service.escalated_fire_file()
    tasks = await asyncio.wait_for(
        example.follow(
            service.bootstrap, "fire_rescue", district="luzhou", accept=True, group=None, max_notices=1
        ),
        timeout=60,
    )
    assert list(tasks) == [f"{FILE}-t1"]

    async def accepted() -> bool:
        return bool((await service.board(FIRE))["open"][0]["status"] == "accepted")

    await eventually(accepted)


async def test_a_case_escalated_again_while_its_file_is_open_opens_no_second_file(service: Service) -> None:
    await service.escalated_fire_file()
    again = fire_hazard_escalation().model_copy(update={"trigger": EscalationTrigger.SLA_WATCH})
    await publish_escalation(service.bootstrap, again)
    elsewhere = fire_hazard_escalation("case-fire-9", compound="CP0999")  # another compound: its own file
    await publish_escalation(service.bootstrap, elsewhere)
    await eventually(lambda: service.scalar("SELECT count(*) = 3 FROM jointmeeting.inbox"))  # all consumed
    opened = "SELECT count(*) FROM jointmeeting.events WHERE event_type IN ('JointMeetingFileOpened', 'CaseAddedToFile')"
    assert await service.scalar(opened) == 2
    assert await service.scalar("SELECT count(*) FROM jointmeeting.files") == 2
