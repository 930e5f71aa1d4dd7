"""Two replicas of every service share the partitions; a killed replica's partitions are taken over;
every complaint is routed exactly once and each case's messages stay in order."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from pathlib import Path

import pytest

from district.sample_hotline import write_synthetic_orders
from schemas.topics import CASES, COMPLAINTS
from tests.kafka_reading import read_topic
from tests.system import HANDLED, RunningSystem

pytestmark = pytest.mark.e2e
PARTITIONS = 8  # CASELINE_TOPIC_PARTITIONS default
REPLICAS = ("intake", "intake#2", "routing", "routing#2", "jointmeeting", "jointmeeting#2")


async def _partitions(system: RunningSystem, replica: str) -> set[int]:
    body = await asyncio.to_thread(system.health, replica)
    return set(body["partitions"].get(COMPLAINTS, []))


async def _wait_for_assignment(
    system: RunningSystem, replicas: tuple[str, ...], timeout: float = 60
) -> list[set[int]]:
    deadline = time.monotonic() + timeout
    while True:
        owned = [await _partitions(system, r) for r in replicas]
        union = set().union(*owned)
        disjoint = sum(len(o) for o in owned) == len(union)
        if union == set(range(PARTITIONS)) and disjoint and all(owned):
            return owned
        if time.monotonic() > deadline:
            raise AssertionError(f"partitions never settled between {replicas}: {owned}")
        await asyncio.sleep(0.5)


async def test_two_replicas_share_the_load_and_a_killed_one_is_taken_over_without_loss_or_doubling(
    system: RunningSystem, tmp_path: Path
) -> None:
    system.start(*REPLICAS)
    shared = await _wait_for_assignment(system, ("routing", "routing#2"))
    assert all(0 < len(part) < PARTITIONS for part in shared)  # both replicas really work
    leaders = [(await asyncio.to_thread(system.health, r))["relay"] for r in ("intake", "intake#2")]
    assert sorted(leaders) == ["leader", "standby"]  # one relay per service publishes

    orders = tmp_path / "orders.jsonl"
    write_synthetic_orders(orders, 1500, prefix="SCALE")
    feeding = asyncio.create_task(system.feed(orders, batch_size=100))
    await system.wait_until(system.handled_cases, 100)
    system.kill("routing#2")  # kill -9 while the feed is still running
    fed = await feeding
    [survivor] = await _wait_for_assignment(system, ("routing",))
    assert survivor == set(range(PARTITIONS))

    await system.wait_until(system.handled_cases, fed.accepted, timeout=120)
    assert await system.settle(system.handled_cases) == fed.accepted == 1500
    doubled = await system.scalar(
        f"SELECT count(*) FROM (SELECT data->>'case_id' FROM routing.events WHERE event_type IN {HANDLED} "
        "GROUP BY 1 HAVING count(*) > 1) AS twice"
    )
    assert doubled == 0

    delivered = await read_topic(system.broker.bootstrap_servers, CASES, expect=2 * fed.accepted, timeout=60)
    first_seen: dict[str, dict[str, int]] = defaultdict(dict)
    for message in sorted(delivered, key=lambda d: (d.partition, d.offset)):
        kind = message.headers["ce_type"].split(".")[1]
        first_seen[message.key].setdefault(kind, message.offset)
    out_of_order = [
        case
        for case, kinds in first_seen.items()
        if min(kinds.get("CaseRouted", 1 << 62), kinds.get("CaseEscalated", 1 << 62)) < kinds["CaseOpened"]
    ]
    assert len(first_seen) == fed.accepted and not out_of_order

    # Both joint-meeting replicas filed escalations: each escalated case is in exactly one file, and
    # neighbours' cases handled on different replicas still share their compound's one open file.
    escalated = await system.scalar(
        "SELECT count(DISTINCT data->>'case_id') FROM routing.events WHERE event_type = 'CaseEscalated'"
    )
    assert escalated > 0

    async def filed() -> int:
        return await system.scalar("SELECT count(*) FROM jointmeeting.files, unnest(case_ids)")

    assert await system.wait_until(filed, escalated, timeout=60) == escalated
    assert await system.settle(filed) == escalated
    clusters_doubled = await system.scalar(
        "SELECT count(*) FROM (SELECT 1 FROM jointmeeting.files WHERE compound_code IS NOT NULL "
        "AND NOT completed GROUP BY district, compound_code, category HAVING count(*) > 1) AS twice"
    )
    assert clusters_doubled == 0
