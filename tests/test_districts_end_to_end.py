"""One deployment serves a whole city: Luzhou and Shangdang complaints through intake, routing, the joint
meeting and the SLA watch as real processes, each district with its own directory, staff and joint meeting."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from district.registry import load_districts
from district.sample_hotline import write_synthetic_orders
from schemas.topics import CASES
from tests.kafka_reading import read_topic
from tests.system import RunningSystem

pytestmark = pytest.mark.e2e
PER_DISTRICT = 45
SAME_COMPOUND = "CP0007"  # a code both directories use, for two different compounds


def _fire_hazard_at(district: str, written_as: str | None, order_no: str) -> dict[str, Any]:
    compound = load_districts().directory(district).compound(SAME_COMPOUND)
    assert compound is not None
    order = {
        "order_no": order_no,
        "received_at": "2026-11-18T09:30:00+08:00",
        "caller_phone": "13800000002",
        "kind": "report",
        "category": "fire_hazard",
        "description": "楼道里堆满杂物, 消防通道被堵",
        "address": f"{compound.name_zh}2号楼",
        "compound": compound.name_zh,
    }
    return order if written_as is None else {**order, "district": written_as}


def _city_feed(tmp_path: Path) -> Path:
    """Luzhou's records as feeds wrote them before tenancy (no district); Shangdang's name theirs."""
    luzhou, shangdang = tmp_path / "luzhou.jsonl", tmp_path / "shangdang.jsonl"
    # The same order numbers in both districts: district-scoped ids make them different complaints.
    write_synthetic_orders(luzhou, PER_DISTRICT, seed=11, prefix="CITY")
    write_synthetic_orders(shangdang, PER_DISTRICT, seed=12, prefix="CITY", district="shangdang")
    extra = [
        _fire_hazard_at("luzhou", None, "CITY-FIRE-1"),
        _fire_hazard_at("shangdang", "上党区", "CITY-FIRE-1"),
        {**_fire_hazard_at("luzhou", None, "CITY-FIRE-9"), "district": "朝阳区"},  # not a district we serve
    ]
    feed = tmp_path / "city.jsonl"
    lines = luzhou.read_text(encoding="utf-8") + shangdang.read_text(encoding="utf-8")
    lines += "".join(json.dumps(order, ensure_ascii=False) + "\n" for order in extra)
    feed.write_text(lines, encoding="utf-8")
    return feed


async def _events(system: RunningSystem, sql: str) -> list[Any]:
    conn = await asyncpg.connect(system.database_url)
    try:
        return [json.loads(row[0]) if isinstance(row[0], str) else row[0] for row in await conn.fetch(sql)]
    finally:
        await conn.close()


async def test_luzhou_and_shangdang_complaints_are_handled_each_within_its_own_district(
    system: RunningSystem, tmp_path: Path
) -> None:
    system.start()
    summary = await system.feed(_city_feed(tmp_path))
    assert summary.accepted == 2 * PER_DISTRICT + 2
    assert summary.rejected_total == 1  # 朝阳区, kept as a dead letter with the reason
    reasons = await _events(system, "SELECT to_jsonb(reason) FROM intake.dead_letters")
    assert any("朝阳区" in reason and "luzhou, shangdang" in reason for reason in reasons)

    await system.wait_until(system.handled_cases, summary.accepted)
    opened = await _events(system, "SELECT data FROM routing.events WHERE event_type = 'CaseOpened'")
    assert Counter(event["district"] for event in opened) == {
        "luzhou": PER_DISTRICT + 1,
        "shangdang": PER_DISTRICT + 1,
    }

    routed = await _events(
        system,
        "SELECT data || jsonb_build_object('_m', metadata) FROM routing.events "
        "WHERE event_type = 'CaseRouted'",
    )
    for event in routed:
        directory = load_districts().directory(event["_m"]["district"])
        unit = event["unit_code"]
        named = directory.street(unit) or directory.community(unit)
        if named is not None:  # the centre and its triage queue have no directory entry
            assert event["unit_name"] == named.name_zh, event

    # Both fire hazards are about compound CP0007 of their own district: two joint meetings, two files.
    await system.wait_until(
        lambda: system.scalar(
            "SELECT count(*) FROM jointmeeting.events WHERE event_type = 'JointMeetingFileOpened' "
            f"AND data->>'compound_code' = '{SAME_COMPOUND}'"
        ),
        2,
    )
    file_districts = await _events(
        system,
        "SELECT to_jsonb(data->>'district') FROM jointmeeting.events "
        f"WHERE event_type = 'JointMeetingFileOpened' AND data->>'compound_code' = '{SAME_COMPOUND}'",
    )
    assert set(file_districts) == {"luzhou", "shangdang"}

    # Every fact on the case topic names its district in the ce_district header, as its case does.
    delivered = await read_topic(
        system.broker.bootstrap_servers, CASES, expect=2 * summary.accepted, timeout=60
    )
    district_of_case = {event["case_id"]: event["district"] for event in opened}
    assert {m.headers["ce_district"] for m in delivered} == {"luzhou", "shangdang"}
    assert all(m.headers["ce_district"] == district_of_case[m.key] for m in delivered)

    # The SLA watch judges each case by its own district's policy.
    clocks = await system.wait_until(
        lambda: system.scalar(
            "SELECT count(DISTINCT data->'scope'->>'district') FROM sla.events WHERE event_type = 'SlaClockStarted'"
        ),
        2,
    )
    assert clocks == 2

    await _staff_see_only_their_own_district(system, district_of_case)


async def _staff_see_only_their_own_district(system: RunningSystem, district_of_case: dict[str, str]) -> None:
    shangdang_case = next(case for case, district in district_of_case.items() if district == "shangdang")
    base = f"http://127.0.0.1:{system.ports['routing']}"
    async with httpx.AsyncClient(base_url=base, timeout=20) as api:
        theirs = await api.get(
            f"/cases/{shangdang_case}", headers={"Authorization": "Bearer dev-shangdang-centre"}
        )
        assert theirs.status_code == 200, theirs.text
        assert theirs.json()["district"] == "shangdang"
        luzhou_centre = await api.get(
            f"/cases/{shangdang_case}", headers={"Authorization": "Bearer dev-centre"}
        )
        assert luzhou_centre.status_code == 404
        listed = (await api.get("/cases", headers={"Authorization": "Bearer dev-centre"})).json()
        assert listed and {case["case_id"] for case in listed} <= {
            case for case, district in district_of_case.items() if district == "luzhou"
        }
