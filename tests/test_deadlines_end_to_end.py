"""One deadline and one lead everywhere, through the four services as real processes and the real broker:
a meeting that revises a bureau's deadline moves its SLA clock, and the bureau board, the ops page and the
clocks API show that date; a reopened case shows its fresh resolve clock's deadline, not a second formula;
an access-control case routing proposed for the centre is led by public security on every topic after."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from rich.console import Console

from caseline.history import print_case_history
from caseline.routing_commands import relearn
from deadlines.calendar import BEIJING
from district.directory import load_directory
from schemas.bureau import bureau_tasks_topic
from schemas.reference import Bureau, Management
from schemas.topics import JOINT_MEETING, SLA
from tests.kafka_reading import read_topic
from tests.system import RunningSystem
from tests.test_jointmeeting_support import OFFICE, bureau_auth, eventually

pytestmark = pytest.mark.e2e
DIRECTORY = load_directory()
CENTRE = {"Authorization": "Bearer dev-centre"}


def _orders(path: Path) -> tuple[Path, str]:
    where = next(c for c in DIRECTORY.compounds if c.management is Management.PROFESSIONAL)
    common = {"received_at": "2026-11-18T09:30:00+08:00", "caller_name": "测试", "kind": "complaint"}
    fire = {
        **common,
        "order_no": "12345-20261118-DL-FIRE",
        "caller_phone": "13800000011",
        "category": "消防隐患",
        "description": "楼道堆满杂物，消防通道被堵。",
        "address": "英雄中路12号",
        "urgency": "normal",
    }
    gate = {
        **common,
        "order_no": "12345-20261118-DL-GATE",
        "caller_phone": "13800000012",
        "category": "security_access",
        "description": "小区门禁坏了一周，外人随意进出",
        "address": f"{where.name_zh}1号楼",
        "compound": where.name_zh,
        "urgency": "normal",
    }
    lines = [json.dumps(order, ensure_ascii=False) for order in (fire, gate)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, where.community_code


def _at(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def _same_instant(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and datetime.fromisoformat(a) == datetime.fromisoformat(b)


async def test_a_meetings_revised_deadline_and_a_reopening_show_the_clocks_deadline_in_every_view(
    system: RunningSystem, tmp_path: Path
) -> None:
    orders, community = _orders(tmp_path / "orders.jsonl")
    system.start()
    assert (await system.feed(orders)).accepted == 2
    ports = system.ports
    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports['routing']}", timeout=10) as routing,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports['jointmeeting']}", timeout=10) as jm,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports['sla']}", timeout=10) as sla,
    ):

        async def clock(case_id: str, clock_id: str) -> dict[str, Any] | None:
            answer = await sla.get(f"/v1/cases/{case_id}/clocks")
            found = (
                [c for c in answer.json()["clocks"] if c["clock_id"] == clock_id] if answer.is_success else []
            )
            return found[0] if found else None

        async def case_view(case_id: str, unit: str = "centre") -> dict[str, Any]:
            answer = await routing.get(f"/cases/{case_id}", headers={"Authorization": f"Bearer dev-{unit}"})
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            return body

        # -- a fire hazard: the meeting revises two bureaus' deadlines --------------------------------------
        async def the_file() -> dict[str, Any] | None:
            files = (await jm.get("/jointmeeting/files", headers=OFFICE)).json()
            return files[0] if files else None

        file = await eventually(the_file, timeout=90)
        file_id, [fire_case] = file["file_id"], file["case_ids"]
        fire_task, street_task = f"{file_id}-t1", f"{file_id}-t2"
        proposed = await eventually(lambda: clock(fire_case, f"{fire_case}/task/{fire_task}"))
        scheduled = await jm.post(
            f"/jointmeeting/files/{file_id}/meetings",
            json={"scheduled_for": _at(timedelta(minutes=5))},
            headers=OFFICE,
        )
        assert scheduled.status_code == 201, scheduled.text
        fire_due, street_due = _at(timedelta(seconds=8)), _at(timedelta(days=2))  # sooner, and later
        held = await jm.post(
            f"/jointmeeting/files/{file_id}/meetings/{file_id}-m1/held",
            json={
                "attendees": ["fire_rescue", "street_office"],
                "decisions": [
                    {
                        "task_id": fire_task,
                        "action": "Clear the lane",
                        "due_at": fire_due,
                        "done_when": "Clear",
                    },
                    {
                        "task_id": street_task,
                        "action": "Move bikes",
                        "due_at": street_due,
                        "done_when": "Moved",
                    },
                ],
                "minutes": "deadlines revised",
            },
            headers=OFFICE,
        )
        assert held.status_code == 200, held.text

        async def moved(task_id: str, due: str) -> dict[str, Any] | None:
            found = await clock(fire_case, f"{fire_case}/task/{task_id}")
            return found if found and _same_instant(found["deadline"], due) else None

        assert not _same_instant(proposed["deadline"], fire_due)
        await eventually(lambda: moved(fire_task, fire_due), timeout=30)
        await eventually(lambda: moved(street_task, street_due), timeout=30)
        for bureau, task_id, due in (
            (Bureau.FIRE_RESCUE, fire_task, fire_due),
            (Bureau.STREET_OFFICE, street_task, street_due),
        ):
            board = (
                await jm.get(f"/jointmeeting/bureaus/{bureau.value}/board", headers=bureau_auth(bureau))
            ).json()
            [shown] = [t for t in board["open"] + board["overdue"] if t["task_id"] == task_id]
            assert _same_instant(shown["due_at"], due)

        async def on_the_ops_page() -> (
            dict[str, Any] | None
        ):  # the fire task breaches at its revised deadline
            alerts = (await sla.get("/v1/ops/alerts")).json()["alerts"]
            found = [a for a in alerts if a["clock_id"] == f"{fire_case}/task/{fire_task}"]
            return found[0] if found and found[0]["status"] == "breached" else None

        assert _same_instant((await eventually(on_the_ops_page, timeout=30))["deadline"], fire_due)
        fire_view = await case_view(fire_case)
        resolve = await clock(fire_case, f"{fire_case}/resolve/0")
        assert resolve is not None and resolve["policy_rule"] == "joint-meeting"
        assert _same_instant(fire_view["due_at"], resolve["deadline"])
        assert (fire_view["lead_bureau"], fire_view["lead_decided"]) == ("fire_rescue", True)

        # -- an access-control case: resolved, the complainant dissatisfied, reopened ---------------------
        [gate] = [
            c for c in (await routing.get("/cases", headers=CENTRE)).json() if c["case_id"] != fire_case
        ]
        gate_case = gate["case_id"]
        first = await eventually(lambda: clock(gate_case, f"{gate_case}/resolve/0"))
        version = gate["version"]
        for unit, action, body in (
            (community, "accept", {}),
            (community, "resolve", {"resolution": "门禁已修"}),
            ("centre", "callback", {"outcome": "dissatisfied", "note": "又坏了"}),
        ):
            acted = await routing.post(
                f"/cases/{gate_case}/{action}",
                json={"expected_version": version, "staff_id": "s-1", **body},
                headers={"Authorization": f"Bearer dev-{unit}"},
            )
            assert acted.status_code == 200, acted.text
            version = acted.json()["version"]

        async def reopened_deadline() -> dict[str, Any] | None:
            view = await case_view(gate_case)
            return view if view["deadline_clock"] == f"{gate_case}/resolve/1" else None

        reopened = await eventually(reopened_deadline, timeout=30)
        fresh = await clock(gate_case, f"{gate_case}/resolve/1")
        assert fresh is not None and fresh["state"] == "running" and fresh["policy_rule"] == "ordinary"
        assert _same_instant(reopened["due_at"], fresh["deadline"])
        assert (reopened["reopen_count"], reopened["deadline_status"]) == (1, "running")
        assert not _same_instant(fresh["deadline"], first["deadline"])

        # -- ... and escalated: routing proposes the centre, the joint meeting decides public security ------
        escalated = await routing.post(
            f"/cases/{gate_case}/escalate",
            json={
                "expected_version": reopened["version"],
                "staff_id": "s-1",
                "reason": "gate keeps breaking",
            },
            headers={"Authorization": f"Bearer dev-{community}"},
        )
        assert escalated.status_code == 200, escalated.text

        async def lead_decided() -> dict[str, Any] | None:
            view = await case_view(gate_case)
            joint = await clock(gate_case, f"{gate_case}/resolve/1")
            unit = joint["scope"]["unit_code"] if joint else None
            return view if view["lead_decided"] and unit == "public_security" else None

        decided = await eventually(lead_decided, timeout=30)
        assert decided["lead_bureau"] == "public_security" and "overridden" in decided["lead_decision_reason"]
        opened = [
            m
            for m in await read_topic(system.broker.bootstrap_servers, JOINT_MEETING, expect=12)
            if m.key == gate_case and m.headers["ce_type"] == "caseline.JointMeetingFileOpened.v1"
        ]
        [decision] = [m.data["lead_decision"] for m in opened]
        assert (decision["lead_bureau"], decision["proposed_lead_bureau"], decision["overrode_proposal"]) == (
            "public_security",
            "centre",
            True,
        )
        notices = await read_topic(
            system.broker.bootstrap_servers, bureau_tasks_topic(Bureau.STREET_OFFICE), expect=3
        )
        assert {n.data["lead_bureau"] for n in notices if n.key == gate_case} == {"public_security"}
        clock_facts = [
            m for m in await read_topic(system.broker.bootstrap_servers, SLA, expect=20) if m.key == gate_case
        ]
        decided_at = next(
            i for i, m in enumerate(clock_facts) if m.headers["ce_type"].endswith("SlaLeadBureauRecorded.v1")
        )
        after = [
            m.data["scope"]["unit_code"]
            for m in clock_facts[decided_at:]
            if "scope" in m.data and "/task/" not in m.data["clock_id"]  # a task clock is its bureau's
        ]
        assert after and set(after) == {"public_security"}
        shown = Console(record=True, width=240)
        assert await print_case_history(system.database_url, gate_case, shown)  # `caseline case show`
        fresh_row = next(
            line for line in shown.export_text().splitlines() if f"{gate_case}/resolve/1" in line
        )
        now_due = await clock(
            gate_case, f"{gate_case}/resolve/1"
        )  # the joint meeting's 15 days, since escalated
        assert now_due is not None and now_due["policy_rule"] == "joint-meeting"
        beijing = datetime.fromisoformat(now_due["deadline"]).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
        assert beijing in fresh_row and "running" in fresh_row

        # an installation from before routing learnt clocks fills its view by replaying the stores
        before = await case_view(gate_case)
        conn = await asyncpg.connect(system.database_url)
        try:
            learnt_clocks = await conn.fetch("SELECT * FROM routing.case_clock ORDER BY case_id, clock_id")
            await conn.execute("TRUNCATE routing.case_clock, routing.case_joint_decision")
        finally:
            await conn.close()
        assert (await case_view(gate_case))["deadline_status"] == "pending"
        assert await relearn(system.database_url) == (len(learnt_clocks), 2)
        assert await case_view(gate_case) == before
        conn = await asyncpg.connect(system.database_url)
        try:  # every clock (dispatch, contact, resolve, tasks) as the consumer had learnt it
            assert (
                await conn.fetch("SELECT * FROM routing.case_clock ORDER BY case_id, clock_id")
                == learnt_clocks
            )
        finally:
            await conn.close()
