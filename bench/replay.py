"""Replay: how fast each read model is rebuilt from its service's event store.

    .venv/bin/python bench/replay.py                      # 20,000 complaints' worth of events
    .venv/bin/python bench/replay.py --records 5000 --runs 3

Fills a fresh store the way production does (bench/pipeline.py: synthetic hotline records fed through
intake, routed by routing, escalations filed by the joint meeting, clocks started by the SLA watch), stops
the services, then runs each `caseline replay NAME` command `--runs` times against that database and
prints, per read model, the events in the store, the command's wall time (median), the same less the CLI's
start-up (`caseline --help`, timed the same way) and events per second of that replay time. Writes
bench/out/replay-<timestamp>.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from pipeline import OUT_DIR, console, feed, make_work_dir, start_infrastructure, step, wait_until_handled
from rich.table import Table

from district.sample_hotline import write_synthetic_orders
from eventcore.logging import configure_logging

CASELINE = str(Path(sys.executable).with_name("caseline"))
READ_MODELS = ("routing", "jointmeeting")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3, help="replays per read model (the median is shown)")
    parser.add_argument(
        "--settle", type=float, default=10, help="seconds for the joint meeting and SLA to catch up"
    )
    return parser.parse_args()


def fill_store(args: argparse.Namespace, work_dir: Path) -> str:
    input_file = work_dir / "hotline.jsonl"
    write_synthetic_orders(input_file, args.records)
    infra = start_infrastructure(work_dir)
    try:
        fed = asyncio.run(feed(infra.dsn, input_file, 1000))
        asyncio.run(wait_until_handled(infra.dsn, fed.summary.accepted, max(120.0, args.records / 50)))
        time.sleep(args.settle)
    finally:
        infra.stop()  # PostgreSQL stays up until the benchmark exits
    return infra.dsn


async def event_counts(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        return {name: int(await conn.fetchval(f"SELECT count(*) FROM {name}.events")) for name in READ_MODELS}
    finally:
        await conn.close()


def timed(command: list[str], dsn: str) -> float:
    env = os.environ | {"DATABASE_URL": dsn, "CASELINE_LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def measure(args: argparse.Namespace, dsn: str) -> dict[str, Any]:
    counts = asyncio.run(event_counts(dsn))
    start_up = statistics.median(timed([CASELINE, "--help"], dsn) for _ in range(args.runs))
    models = {}
    for name in READ_MODELS:
        wall = statistics.median(timed([CASELINE, "replay", name], dsn) for _ in range(args.runs))
        replay = max(wall - start_up, 1e-6)
        models[name] = {
            "events": counts[name],
            "wall_s": round(wall, 2),
            "replay_s": round(replay, 2),
            "events_per_s": round(counts[name] / replay),
        }
    return {"cli_start_up_s": round(start_up, 2), "read_models": models}


def print_report(report: dict[str, Any]) -> None:
    table = Table(
        title=f"replay, {report['cpus']} CPUs, median of {report['runs']} (CLI start-up {report['cli_start_up_s']} s)"
    )
    for column in ("read model", "events", "wall s", "replay s", "events/s"):
        table.add_column(column, justify="right")
    for name, r in report["read_models"].items():
        table.add_row(
            name, f"{r['events']:,}", str(r["wall_s"]), str(r["replay_s"]), f"{r['events_per_s']:,}"
        )
    console.print(table)
    if any(r["replay_s"] < 1 for r in report["read_models"].values()):
        console.print(
            "[yellow]a replay took under a second: too few events to time against the start-up[/yellow]"
        )


def main() -> int:
    args = parse_args()
    configure_logging("replay", json=False, level="WARNING")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the embedded PostgreSQL is stopped at exit
    work_dir = make_work_dir()
    with step(f"filling the stores with {args.records:,} complaints"):
        dsn = fill_store(args, work_dir)
    with step("replaying"):
        measured = measure(args, dsn)
    report = {"cpus": os.cpu_count(), "python": sys.version.split()[0], "runs": args.runs, **measured}
    print_report(report)
    OUT_DIR.mkdir(exist_ok=True)
    out = OUT_DIR / f"replay-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    console.print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
