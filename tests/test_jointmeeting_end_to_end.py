"""A fire hazard from the hotline to closure, through the real broker and the services as processes:
escalated → file → meeting → tasks for three bureaus → one reports over HTTP, one over the reports topic,
one goes overdue and is extended → all done → verified on site → routing resolves, calls back, closes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from caseline.embedded import EmbeddedBroker
from schemas.bureau import BUREAU_REPORTS, bureau_tasks_topic
from schemas.reference import Bureau
from schemas.topics import JOINT_MEETING
from tests.kafka_reading import read_topic
from tests.system import RunningSystem
from tests.test_jointmeeting_support import OFFICE, bureau_auth, eventually, send

pytestmark = pytest.mark.e2e

FIRE_HAZARD_ORDER = {
    "order_no": "12345-20261118-FIRE01",
    "received_at": "2026-11-18T09:30:00+08:00",
    "caller_name": "测试人",
    "caller_phone": "13800138000",
    "kind": "report",
    "category": "消防隐患",
    "description": "楼道里堆满杂物，消防通道被电动车堵死。",
    "address": "英雄中路12号",
    "street": "",
    "compound": "",
    "urgency": "urgent",
}


@pytest.fixture
def system(
    database_url: str, broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[RunningSystem]:
    monkeypatch.setenv("CASELINE_JOINTMEETING_OVERDUE_CHECK_SECONDS", "1")
    running = RunningSystem(database_url, broker, tmp_path / "logs")
    yield running
    running.stop()


def _in(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def test_fire_hazard_is_enforced_by_three_bureaus_verified_and_the_case_closes(
    system: RunningSystem, tmp_path: Path
) -> None:
    system.start()
    orders = tmp_path / "fire.jsonl"
    orders.write_text(json.dumps(FIRE_HAZARD_ORDER, ensure_ascii=False) + "\n", encoding="utf-8")
    assert (await system.feed(orders)).accepted == 1
    jm = httpx.AsyncClient(base_url=f"http://127.0.0.1:{system.ports['jointmeeting']}", timeout=10)
    routing = httpx.AsyncClient(base_url=f"http://127.0.0.1:{system.ports['routing']}", timeout=10)

    async def the_file() -> list[Any]:
        files: list[Any] = (await jm.get("/jointmeeting/files", headers=OFFICE)).json()
        return files

    [file] = await eventually(the_file, timeout=90)
    file_id, [case_id] = file["file_id"], file["case_ids"]
    fire, street, centre = (f"{file_id}-t{n}" for n in (1, 2, 3))

    meeting = await jm.post(
        f"/jointmeeting/files/{file_id}/meetings", json={"scheduled_for": _in(60)}, headers=OFFICE
    )
    assert meeting.status_code == 201, meeting.text
    held = await jm.post(
        f"/jointmeeting/files/{file_id}/meetings/{file_id}-m1/held",
        json={
            "attendees": ["fire_rescue", "street_office", "centre"],
            "decisions": [
                {
                    "task_id": fire,
                    "action": "Clear the fire lane",
                    "due_at": _in(86400),
                    "done_when": "Lane clear",
                },
                {
                    "task_id": street,
                    "action": "Move the e-bikes",
                    "due_at": _in(86400),
                    "done_when": "Bikes moved",
                },
                {
                    "task_id": centre,
                    "action": "Order the company to patrol",
                    "due_at": _in(3),
                    "done_when": "Order",
                },
            ],
            "minutes": "Joint enforcement agreed",
        },
        headers=OFFICE,
    )
    assert held.status_code == 200, held.text

    # fire and rescue reports over HTTP
    for kind, extra in (
        ("accepted", {}),
        ("done", {"evidence": [{"kind": "photo", "ref": "fire://lane/1"}]}),
    ):
        answer = await jm.post(
            f"/jointmeeting/bureaus/fire_rescue/tasks/{fire}/reports",
            json={"report_id": f"fire-{kind}", "kind": kind, "reported_at": _in(0), **extra},
            headers=bureau_auth(Bureau.FIRE_RESCUE),
        )
        assert answer.status_code == 200, answer.text
    # the street office's system publishes to the reports topic
    street_report = {
        "report_id": "street-done",
        "task_id": street,
        "bureau": "street_office",
        "kind": "done",
        "evidence": [{"kind": "photo", "ref": "street://bikes/7"}],
        "reported_at": _in(0),
    }
    await send(system.broker.bootstrap_servers, BUREAU_REPORTS, street, json.dumps(street_report).encode())

    # the centre misses its deadline: the service marks it overdue, the office extends it
    async def centre_overdue() -> list[Any]:
        board = await jm.get("/jointmeeting/bureaus/centre/board", headers=bureau_auth(Bureau.CENTRE))
        overdue: list[Any] = board.json()["overdue"]
        return overdue

    assert [t["task_id"] for t in await eventually(centre_overdue, timeout=30)] == [centre]
    extended = await jm.post(
        f"/jointmeeting/tasks/{centre}/extension",
        json={"due_at": _in(86400), "reason": "Company manager away"},
        headers=OFFICE,
    )
    assert extended.status_code == 200, extended.text
    done = await jm.post(
        f"/jointmeeting/bureaus/centre/tasks/{centre}/reports",
        json={
            "report_id": "centre-done",
            "kind": "done",
            "reported_at": _in(0),
            "evidence": [{"kind": "order", "ref": "centre://orders/2026-118"}],
        },
        headers=bureau_auth(Bureau.CENTRE),
    )
    assert done.status_code == 200, done.text

    async def verified() -> dict[str, Any] | None:
        answer = await jm.post(
            f"/jointmeeting/files/{file_id}/verification",
            json={"summary": "Fire lane clear on site"},
            headers=OFFICE,
        )
        return answer.json() if answer.status_code == 200 else None  # until the topic report has landed

    assert (await eventually(verified, timeout=30))["completed"] is True

    # opened, 3 assigned, scheduled, held, 3 confirmed, 4 reports, overdue, referred, extended, completed
    published = await read_topic(system.broker.bootstrap_servers, JOINT_MEETING, expect=17)
    [completed] = [m for m in published if m.headers["ce_type"] == "caseline.JointEnforcementCompleted.v1"]
    assert completed.key == case_id and completed.data["tasks_done"] == 3
    notices = await read_topic(system.broker.bootstrap_servers, bureau_tasks_topic(Bureau.CENTRE), expect=5)
    assert [n.data["notice"] for n in notices] == [
        "assigned",
        "confirmed",
        "overdue",
        "extended",
        "report_recorded",
    ]
    assert all(
        "13800138000" not in json.dumps(n.data) and "测试人" not in json.dumps(n.data) for n in notices
    )

    # routing takes the case on to callback and closure
    centre_staff = {"Authorization": "Bearer dev-centre"}

    async def resolved() -> dict[str, Any] | None:
        case: dict[str, Any] = (await routing.get(f"/cases/{case_id}", headers=centre_staff)).json()
        return case if case.get("state") == "resolved" else None

    case = await eventually(resolved, timeout=60)
    closed = await routing.post(
        f"/cases/{case_id}/callback",
        json={"expected_version": case["version"], "staff_id": "callback-01", "outcome": "satisfied"},
        headers=centre_staff,
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["state"] == "closed"
    await jm.aclose()
    await routing.aclose()
