"""A hotline record to a closed, called-back case: intake, routing and the joint meeting as real processes,
the staff acting over routing's HTTP API, the facts arriving on the case topic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from district.directory import load_directory
from schemas.reference import Management
from schemas.topics import CASES
from tests.kafka_reading import read_topic
from tests.system import RunningSystem

pytestmark = pytest.mark.e2e
DIRECTORY = load_directory()


def _hotline_file(path: Path) -> tuple[Path, str]:
    where = next(c for c in DIRECTORY.compounds if c.management is Management.PROFESSIONAL)
    street = DIRECTORY.street(where.street_code)
    assert street is not None
    order = {
        "order_no": "12345-20261118-E2E001",
        "received_at": "2026-11-18T09:30:00+08:00",
        "caller_name": "测试",
        "caller_phone": "13800000001",
        "kind": "complaint",
        "category": "sanitation",
        "description": "楼下垃圾三天没人清运",
        "address": f"{where.name_zh}3号楼",
        "street": street.name_zh,
        "compound": where.name_zh,
        "urgency": "normal",
    }
    path.write_text(json.dumps(order, ensure_ascii=False) + "\n", encoding="utf-8")
    return path, where.community_code


async def test_a_hotline_complaint_is_accepted_resolved_called_back_and_closed_through_the_staff_api(
    system: RunningSystem, tmp_path: Path
) -> None:
    feed, community = _hotline_file(tmp_path / "one.jsonl")
    system.start()
    assert (await system.feed(feed)).accepted == 1
    await system.wait_until(lambda: system.scalar("SELECT count(*) FROM routing.case_view"), 1)

    base = f"http://127.0.0.1:{system.ports['routing']}"
    async with httpx.AsyncClient(base_url=base, timeout=20) as api:
        [case] = (await api.get("/cases", headers=_as(community))).json()
        case_id = case["case_id"]
        assert (case["state"], case["unit_code"], case["rule_id"]) == ("routed", community, "community-daily")

        version = case["version"]
        steps: list[tuple[str, str, dict[str, Any]]] = [
            (community, "accept", {}),
            (community, "progress", {"note": "清运车已派出", "photo_refs": ["photos/e2e-1.jpg"]}),
            (community, "resolve", {"resolution": "垃圾已清运, 增设两个垃圾桶"}),
            ("centre", "callback", {"outcome": "satisfied", "note": "居民满意"}),
        ]
        for unit, action, body in steps:
            acted = await api.post(
                f"/cases/{case_id}/{action}",
                json={"expected_version": version, "staff_id": f"{action}-staff", **body},
                headers=_as(unit),
            )
            assert acted.status_code == 200, acted.text
            version = acted.json()["version"]
        closed = (await api.get(f"/cases/{case_id}", headers=_as("centre"))).json()
        assert (closed["state"], closed["callback_outcome"]) == ("closed", "satisfied")
        assert (await api.get("/docs")).status_code == 200

    published = await read_topic(system.broker.bootstrap_servers, CASES, expect=version, timeout=60)
    mine = [m for m in published if m.key == case_id]
    types = [m.headers["ce_type"] for m in mine]
    assert types == [
        f"caseline.{name}.v1"
        for name in (
            "CaseOpened",
            "CaseRouted",
            "CaseAccepted",
            "CaseProgressNoted",
            "CaseResolved",
            "CaseCalledBack",
            "CaseClosed",
        )
    ]
    assert mine[-1].headers["ce_actor"] == "centre/callback-staff"
    assert "13800000001" not in json.dumps([m.data for m in mine], ensure_ascii=False)


def _as(unit: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer dev-{unit}"}


async def test_five_neighbours_reporting_one_problem_become_a_group_complaint_escalated_to_the_joint_meeting(
    system: RunningSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASELINE_MERGE_WINDOW_HOURS", "72")  # intake merges co-complainants into one case
    where = next(c for c in DIRECTORY.compounds if c.management is Management.PROFESSIONAL)
    street = DIRECTORY.street(where.street_code)
    assert street is not None
    orders = [
        {
            "order_no": f"12345-20261118-GRP00{i}",
            "received_at": f"2026-11-18T0{i}:30:00+08:00",
            "caller_phone": f"1390000000{i}",
            "kind": "complaint",
            "category": "common_area_repair",
            "description": "围墙倒塌, 很危险",
            "address": f"{where.name_zh}{i}号楼",
            "street": street.name_zh,
            "compound": where.name_zh,
        }
        for i in range(1, 6)
    ]
    feed = tmp_path / "group.jsonl"
    feed.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in orders), encoding="utf-8")
    system.start()
    await system.feed(feed)
    escalated = await system.wait_until(
        lambda: system.scalar(
            "SELECT count(*) FROM routing.events WHERE event_type = 'CaseEscalated' "
            "AND data->>'trigger' = 'group_complaint'"
        ),
        1,
    )
    assert escalated == 1
    assert await system.scalar("SELECT count(*) FROM routing.events WHERE event_type = 'CaseOpened'") == 1
    assert await system.scalar("SELECT max(complainant_count) FROM routing.case_view") == 5
    files = await system.wait_until(
        lambda: system.scalar(
            "SELECT count(*) FROM jointmeeting.events WHERE event_type = 'JointMeetingFileOpened'"
        ),
        1,
    )
    assert files == 1
