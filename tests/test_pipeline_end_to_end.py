"""Intake → routing → joint meeting as three real processes, on embedded PostgreSQL and Tansu."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from caseline.cli import SAMPLE_HOTLINE
from caseline.embedded import start_broker
from district.sample_hotline import write_synthetic_orders
from tests.system import HANDLED, RunningSystem

pytestmark = pytest.mark.e2e
EXPECTED = json.loads(SAMPLE_HOTLINE.with_suffix(".expected.json").read_text(encoding="utf-8"))


async def test_sample_hotline_file_is_routed_and_escalated_and_a_second_feed_opens_no_case(
    system: RunningSystem,
) -> None:
    system.start()
    first = await system.feed(SAMPLE_HOTLINE)
    assert first.accepted == EXPECTED["unique_valid"]
    assert first.duplicates == EXPECTED["duplicates"]
    assert first.rejected_total == EXPECTED["bad_lines"]
    await system.wait_until(system.handled_cases, first.accepted)
    escalated = await system.scalar("SELECT count(*) FROM routing.events WHERE event_type = 'CaseEscalated'")
    # Every complaint intake put in a cross-department category with confidence escalates; uncertain ones
    # wait in the centre's triage first.
    sure_cross_department = await system.scalar(
        "SELECT count(*) FROM intake.events WHERE data->>'category' = ANY(ARRAY['unreasonable_fees', "
        "'illegal_construction', 'fire_hazard']) AND NOT (data->'category_decision'->>'needs_triage')::boolean"
    )
    assert escalated == sure_cross_department >= EXPECTED["escalated_at_least"]
    # one file per escalated case, except that a case about the same compound and problem as an open
    # file joins that file (CaseAddedToFile), so one meeting handles the cluster
    files_or_added = await system.wait_until(
        lambda: system.scalar(
            "SELECT count(*) FROM jointmeeting.events "
            "WHERE event_type IN ('JointMeetingFileOpened', 'CaseAddedToFile')"
        ),
        escalated,
    )
    assert files_or_added == escalated
    files = await system.scalar(
        "SELECT count(*) FROM jointmeeting.events WHERE event_type = 'JointMeetingFileOpened'"
    )
    tasks = await system.scalar(
        "SELECT count(*) FROM jointmeeting.events WHERE event_type = 'EnforcementTaskAssigned'"
    )
    assert tasks >= 2 * files  # every cross-department file involves at least two bureaus

    second = await system.feed(SAMPLE_HOTLINE)
    assert (second.accepted, second.duplicates) == (0, EXPECTED["unique_valid"] + EXPECTED["duplicates"])
    assert await system.settle(system.handled_cases) == first.accepted
    assert await system.scalar("SELECT count(*) FROM intake.dead_letters") == 2 * EXPECTED["bad_lines"]


async def test_routing_killed_mid_feed_still_handles_every_complaint_exactly_once(
    system: RunningSystem, tmp_path: Path
) -> None:
    orders = tmp_path / "big.jsonl"
    write_synthetic_orders(orders, 4000, prefix="CRASH")
    system.start()
    first_half = await system.feed(_head(orders, tmp_path / "first.jsonl", 2000), batch_size=250)
    await system.wait_until(system.handled_cases, 200)
    system.kill("routing")  # kill -9, mid-stream: batches in flight, offsets not committed
    second_half = await system.feed(orders, batch_size=250)
    system.start("routing")
    accepted = first_half.accepted + second_half.accepted
    assert accepted == 4000
    await system.wait_until(system.handled_cases, accepted)
    assert await system.settle(system.handled_cases) == accepted
    per_case = await system.scalar(
        f"SELECT count(*) FROM (SELECT data->>'case_id' FROM routing.events WHERE event_type IN {HANDLED} "
        "GROUP BY 1 HAVING count(*) <> 1) AS twice"
    )
    assert per_case == 0
    assert (
        await system.scalar("SELECT count(*) FROM routing.events WHERE event_type = 'CaseOpened'") == accepted
    )


async def test_stop_between_published_and_consumed_then_a_fresh_broker_loses_nothing(
    system: RunningSystem, tmp_path: Path
) -> None:
    system.start("intake")  # routing is down: complaints get published but nobody consumes them
    fed = await system.feed(SAMPLE_HOTLINE)
    await system.wait_until(
        lambda: system.scalar("SELECT count(*) FROM intake.outbox WHERE published_at IS NOT NULL"),
        fed.accepted,
    )
    system.stop()
    system.broker.stop()  # the in-memory broker forgets every published complaint

    host, port = system.broker.bootstrap_servers.split(":")
    system.broker = start_broker(host, int(port), tmp_path / "fresh-broker.log")
    try:
        system.start()
        await system.wait_until(system.handled_cases, fed.accepted)
        assert await system.settle(system.handled_cases) == fed.accepted
    finally:
        system.stop()
        system.broker.stop()


def _head(source: Path, target: Path, lines: int) -> Path:
    with source.open(encoding="utf-8") as reader:
        target.write_text("".join(line for _, line in zip(range(lines), reader)), encoding="utf-8")
    return target
