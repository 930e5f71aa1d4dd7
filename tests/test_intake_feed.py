"""`caseline feed hotline` and `caseline deadletters replay` as an operator runs them, against real PostgreSQL:
refusals kept with their bytes, fixed and replayed; no complaint twice, even from two feeders at once."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import asyncpg

from district.sample_hotline import write_synthetic_orders
from schemas.hotline import CSV_HEADERS_ZH


def caseline(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "COLUMNS": "200", "CASELINE_LOG_JSON": "true"}
    return subprocess.run(
        [sys.executable, "-m", "caseline", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


async def scalar(database_url: str, sql: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(sql) or 0)
    finally:
        await conn.close()


def gb18030_csv(source: Path, target: Path, broken_at: int) -> None:
    """The JSON-lines orders as the platform's CSV export, one description with a stray control character
    (a mistyped phone number is no longer a refusal: it is flagged no_callback_number)."""
    with source.open(encoding="utf-8") as lines, target.open("w", encoding="gb18030", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_HEADERS_ZH)
        for index, line in enumerate(lines):
            order = json.loads(line)
            if index == broken_at:
                order["description"] = "漏水\u0007" + order["description"]
            writer.writerow(order.get(field, "") for field in CSV_HEADERS_ZH.values())


async def test_a_gb18030_export_is_fed_its_bad_row_kept_fixed_and_replayed(
    database_url: str, tmp_path: Path
) -> None:
    orders, export = tmp_path / "orders.jsonl", tmp_path / "工单导出.csv"
    write_synthetic_orders(orders, 120, prefix="CSV")
    gb18030_csv(orders, export, broken_at=41)

    fed = caseline(database_url, "feed", "hotline", str(export), "--no-check-future")
    assert fed.returncode == 0, fed.stdout + fed.stderr
    assert _row(fed.stdout, "accepted (new complaints)") == 119
    assert _row(fed.stdout, "rejected: control_characters") == 1
    assert "line 43: field 'description' (问题描述)" in fed.stdout  # header is line 1, row 42 is line 43

    letter_id = await scalar(database_url, "SELECT id FROM intake.dead_letters")
    listed = caseline(database_url, "deadletters", "list")
    assert "line 43" in listed.stdout
    payload = await _payload(database_url, letter_id)
    assert payload.decode("gb18030").startswith("CSV-") and "\u0007" in payload.decode("gb18030")

    unchanged = caseline(database_url, "deadletters", "replay", str(letter_id))
    assert unchanged.returncode == 1 and "still refused" in unchanged.stdout
    fixed = tmp_path / "fixed.csv"
    fixed.write_bytes(payload.replace(b"\x07", b""))
    replayed = caseline(database_url, "deadletters", "replay", str(letter_id), "--payload", str(fixed))
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "accepted" in replayed.stdout
    assert await scalar(database_url, "SELECT count(*) FROM intake.events") == 120
    assert (
        await scalar(database_url, "SELECT count(*) FROM intake.dead_letters WHERE replayed_at IS NULL") == 0
    )
    chinese = await scalar(
        database_url, "SELECT count(*) FROM intake.events WHERE data->>'description' LIKE '%小区%' "
    )
    assert chinese > 0  # read as GB18030, not as mojibake

    again = caseline(database_url, "feed", "hotline", str(export), "--no-check-future")
    assert _row(again.stdout, "accepted (new complaints)") == 0
    assert _row(again.stdout, "duplicates (already received)") == 119


async def test_two_feeders_sending_the_same_orders_at_once_make_each_complaint_once(
    database_url: str, tmp_path: Path
) -> None:
    forward, backward = tmp_path / "forward.jsonl", tmp_path / "backward.jsonl"
    write_synthetic_orders(forward, 600, prefix="RACE")
    backward.write_text(
        "".join(reversed(forward.read_text(encoding="utf-8").splitlines(True))), encoding="utf-8"
    )
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    caseline(database_url, "feed", "hotline", str(empty))  # the schema first: the race is about the orders
    env = {**os.environ, "DATABASE_URL": database_url, "COLUMNS": "200"}
    feeders = [
        await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "caseline", "feed", "hotline", str(path), "--no-check-future"),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for path in (forward, backward, forward)
    ]
    results = await asyncio.wait_for(asyncio.gather(*(f.communicate() for f in feeders)), timeout=240)
    outputs = [out.decode() for out, _ in results]
    assert all(feeder.returncode == 0 for feeder in feeders), outputs
    accepted = sum(_row(out, "accepted (new complaints)") for out in outputs)
    duplicates = sum(_row(out, "duplicates (already received)") for out in outputs)
    assert (accepted, duplicates) == (600, 1200)
    assert await scalar(database_url, "SELECT count(*) FROM intake.events") == 600
    assert await scalar(database_url, "SELECT count(*) FROM intake.outbox") == 600
    assert await scalar(database_url, "SELECT count(DISTINCT stream_id) FROM intake.events") == 600


def _row(output: str, label: str) -> int:
    for line in output.splitlines():
        if label in line:
            return int(line.rsplit("│", 2)[-2].strip())
    raise AssertionError(f"no {label!r} in:\n{output}")


async def _payload(database_url: str, letter_id: int) -> bytes:
    conn = await asyncpg.connect(database_url)
    try:
        return bytes(await conn.fetchval("SELECT payload FROM intake.dead_letters WHERE id = $1", letter_id))
    finally:
        await conn.close()
