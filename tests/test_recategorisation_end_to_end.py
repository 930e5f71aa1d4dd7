"""A complaint whose category intake cannot tell goes to the centre's triage; the centre recategorises it
over the staff API; routing escalates it; intake learns the correction, merges the next neighbour's report
into that case under the corrected category, and offers the correction as a mapping suggestion."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from caseline.category_commands import suggestions_from
from district.directory import load_directory
from schemas.reference import Management
from tests.system import RunningSystem

pytestmark = pytest.mark.e2e
DIRECTORY = load_directory()
CENTRE = {"Authorization": "Bearer dev-centre"}


def _orders(path: Path, *orders: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in orders), encoding="utf-8")
    return path


async def test_the_centre_recategorises_a_triaged_case_which_escalates_and_intake_merges_under_the_new_category(
    system: RunningSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASELINE_MERGE_WINDOW_HOURS", "48")
    where = next(c for c in DIRECTORY.compounds if c.management is Management.PROFESSIONAL)
    base = {
        "caller_phone": "13800000001",
        "kind": "投诉",
        "compound": where.name_zh,
        "address": f"{where.name_zh}2号楼",
    }
    vague = {
        **base,
        "order_no": "RC-1",
        "received_at": "2026年11月18日 09:30",
        "category": "城乡建设>物业管理>综合类",
        "description": "你好，我想反映一下我们楼的情况",
    }
    system.start("intake", "routing")
    assert (await system.feed(_orders(tmp_path / "first.jsonl", vague))).accepted == 1
    await system.wait_until(lambda: system.scalar("SELECT count(*) FROM routing.case_view"), 1)

    api = f"http://127.0.0.1:{system.ports['routing']}"
    async with httpx.AsyncClient(base_url=api, timeout=20) as client:
        [case] = (await client.get("/cases", headers=CENTRE)).json()
        assert (case["unit_code"], case["rule_id"]) == ("centre-triage", "category-triage")
        history = (await client.get(f"/cases/{case['case_id']}/history", headers=CENTRE)).json()
        assert "candidates:" in history[1]["data"]["reason"]
        body = {
            "expected_version": case["version"],
            "staff_id": "triage-01",
            "category": "fire_hazard",
            "reason": "回访确认：楼道电动车充电",
        }
        street_unit = {"Authorization": f"Bearer dev-{where.street_code}"}
        refused = await client.post(f"/cases/{case['case_id']}/recategorise", json=body, headers=street_unit)
        assert refused.status_code == 404  # a street cannot even see the centre's triage queue
        acted = await client.post(f"/cases/{case['case_id']}/recategorise", json=body, headers=CENTRE)
        assert acted.status_code == 200, acted.text
        assert acted.json()["events"] == ["CaseRecategorised", "CaseEscalated"]
        stale = await client.post(f"/cases/{case['case_id']}/recategorise", json=body, headers=CENTRE)
        assert stale.status_code == 409 and stale.json()["detail"]["error"] == "stale_version"

    case_id = case["case_id"]
    learnt = f"SELECT count(*) FROM intake.cases WHERE case_id = '{case_id}' AND category = 'fire_hazard'"
    await system.wait_until(lambda: system.scalar(learnt), 1, timeout=60)
    neighbour = {
        **base,
        "order_no": "RC-2",
        "caller_phone": "13800000002",
        "received_at": "2026-11-18 15:00",
        "category": "城乡建设 › 物业管理 › 电动车楼道充电",
        "description": "楼道里天天有人给电瓶车充电",
    }
    second = await system.feed(_orders(tmp_path / "second.jsonl", neighbour))
    assert (second.accepted, second.merged) == (1, 1)
    merged_into = await system.scalar(
        f"SELECT count(*) FROM intake.events WHERE event_type = 'ComplaintMerged' AND stream_id = 'complaint-hotline:RC-2' "
        f"AND data->>'case_id' = '{case_id}'"
    )
    assert merged_into == 1

    conn = await asyncpg.connect(system.database_url)
    try:
        offered = await suggestions_from(conn)
    finally:
        await conn.close()
    [suggestion] = offered["mapping_suggestions"]
    assert (suggestion["platform"], suggestion["platform_label"], suggestion["category"]) == (
        "12345-default",
        "城乡建设>物业管理>综合类",
        "fire_hazard",
    )
    assert suggestion["corrections"] == 1 and suggestion["was"] == [case["category"]]
    assert offered["labelled_examples"][0]["text"] == vague["description"]
    assert offered["labelled_examples"][0]["category"] == "fire_hazard"
