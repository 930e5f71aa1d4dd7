"""Replay: how fast each read model is rebuilt from its service's event store.

    .venv/bin/python bench/replay.py                      # 20,000 complaints' worth of events
    .venv/bin/python bench/replay.py --records 5000 --runs 3
    .venv/bin/python bench/replay.py --hold               # then, from another shell, again and again:
    .venv/bin/python bench/replay.py --dsn ADDRESS        # replay the database the held run filled

Fills a fresh store the way production does (bench/pipeline.py: synthetic hotline records fed through
intake, routed by routing, escalations filed by the joint meeting, clocks started by the SLA watch), stops
the services, then runs each `caseline replay NAME` command `--runs` times against that database and
prints, per read model, the events it folds (from every store it reads, and of those its own store's), the
command's wall time (median), the same less the CLI's start-up (`caseline --help`, timed the same way) and
events per second of that replay time, and the CPU
seconds the replay cost its process and PostgreSQL. Writes bench/out/replay-<timestamp>.json. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from pipeline import OUT_DIR, console, feed, make_work_dir, start_infrastructure, step, wait_until_handled
from rich.table import Table

from district.sample_hotline import write_synthetic_orders
from eventcore.logging import configure_logging
from schemas.base import DomainEvent
from services.routing.domain.learnt import CLOCK_FACTS, LEAD_FACTS

CASELINE = str(Path(sys.executable).with_name("caseline"))
# What each replay folds: (store, the event types it reads there; None: every event). Routing's replay
# rebuilds its case view from its own store and relearns every case's clocks and decided lead from the
# SLA's and the joint meeting's (caseline/routing_commands.py).
FOLDS: dict[str, tuple[tuple[str, tuple[type[DomainEvent], ...] | None], ...]] = {
    "routing": (("routing", None), ("sla", CLOCK_FACTS), ("jointmeeting", LEAD_FACTS)),
    "jointmeeting": (("jointmeeting", None),),
}
READ_MODELS = tuple(FOLDS)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3, help="replays per read model (the median is shown)")
    parser.add_argument(
        "--settle", type=float, default=10, help="seconds for the joint meeting and SLA to catch up"
    )
    parser.add_argument(
        "--dsn", help="replay against this database, filled by an earlier run (--hold), instead of a new one"
    )
    parser.add_argument(
        "--hold",
        action="store_true",
        help="keep the filled database running after measuring (its address is printed) until interrupted",
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


async def event_counts(dsn: str) -> dict[str, dict[str, int]]:
    """Per read model, the events its replay folds from each store it reads."""
    conn = await asyncpg.connect(dsn)
    try:
        return {
            name: {
                store: int(
                    await conn.fetchval(
                        f"SELECT count(*) FROM {store}.events WHERE $1::text[] IS NULL OR event_type = ANY($1)",
                        None if types is None else [t.event_type for t in types],
                    )
                )
                for store, types in folds
            }
            for name, folds in FOLDS.items()
        }
    finally:
        await conn.close()


@dataclass(frozen=True)
class Timing:
    """One command's wall time and the CPU seconds it cost: its own process's and PostgreSQL's."""

    wall_s: float
    cli_cpu_s: float
    postgres_cpu_s: float


def timed(command: list[str], dsn: str, postmaster: psutil.Process) -> Timing:
    env = os.environ | {"DATABASE_URL": dsn, "CASELINE_LOG_LEVEL": "WARNING"}
    cli_before, pg_before = _children_cpu(), _postgres_cpu(postmaster)
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - started
    time.sleep(0.2)  # until the postmaster has reaped the command's backend, whose CPU it then counts
    return Timing(wall, _children_cpu() - cli_before, _postgres_cpu(postmaster) - pg_before)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _postgres_cpu(postmaster: psutil.Process) -> float:
    """User + system seconds of the postmaster, its live backends and the backends it has reaped (a command's
    own backend ends with it, so sampling the live ones alone would miss it)."""
    times = postmaster.cpu_times()
    total: float = times.user + times.system + times.children_user + times.children_system
    for backend in postmaster.children():
        with contextlib.suppress(psutil.Error):
            used = backend.cpu_times()
            total += used.user + used.system
    return total


async def postmaster_of(dsn: str) -> psutil.Process:
    """The PostgreSQL server behind the address (it runs on this machine): the parent of a backend."""
    conn = await asyncpg.connect(dsn)
    try:  # while the backend lives
        parent = psutil.Process(int(await conn.fetchval("SELECT pg_backend_pid()"))).parent()
    finally:
        await conn.close()
    assert parent is not None
    return parent


def typical_timing(command: list[str], dsn: str, postmaster: psutil.Process, runs: int) -> Timing:
    """The median wall time of the runs and the least CPU time (other work on the machine only adds to it)."""
    timings = [timed(command, dsn, postmaster) for _ in range(runs)]
    return Timing(
        statistics.median(t.wall_s for t in timings),
        min(t.cli_cpu_s for t in timings),
        min(t.postgres_cpu_s for t in timings),
    )


def measure(args: argparse.Namespace, dsn: str) -> dict[str, Any]:
    counts = asyncio.run(event_counts(dsn))
    postmaster = asyncio.run(postmaster_of(dsn))
    start_up = typical_timing([CASELINE, "--help"], dsn, postmaster, args.runs)
    models = {}
    for name in READ_MODELS:
        took = typical_timing([CASELINE, "replay", name], dsn, postmaster, args.runs)
        replay = max(took.wall_s - start_up.wall_s, 1e-6)
        cli_cpu = max(took.cli_cpu_s - start_up.cli_cpu_s, 0.0)
        folded, own = sum(counts[name].values()), counts[name][name]
        models[name] = {
            "events": folded,
            "events_by_store": counts[name],
            "wall_s": round(took.wall_s, 2),
            "replay_s": round(replay, 2),
            "events_per_s": round(folded / replay),
            "own_events_per_s": round(own / replay),
            "cli_cpu_s": round(cli_cpu, 2),
            "postgres_cpu_s": round(took.postgres_cpu_s, 2),
            "events_per_cpu_s": round(folded / max(cli_cpu + took.postgres_cpu_s, 1e-6)),
        }
    return {"cli_start_up_s": round(start_up.wall_s, 2), "read_models": models}


def print_report(report: dict[str, Any]) -> None:
    table = Table(
        title=f"replay, {report['cpus']} CPUs, {report['runs']} runs: median wall, least CPU "
        f"(CLI start-up {report['cli_start_up_s']} s)"
    )
    columns = ("model", "events", "own", "wall s", "replay s", "events/s", "own/s", "CLI CPU", "PG CPU", "per CPU-s")
    for column in columns:
        table.add_column(column, justify="right")
    for name, r in report["read_models"].items():
        table.add_row(
            name,
            f"{r['events']:,}",
            f"{r['events_by_store'][name]:,}",
            str(r["wall_s"]),
            str(r["replay_s"]),
            f"{r['events_per_s']:,}",
            f"{r['own_events_per_s']:,}",
            str(r["cli_cpu_s"]),
            str(r["postgres_cpu_s"]),
            f"{r['events_per_cpu_s']:,}",
        )
    table.caption = (
        "events: those the replay folds, from every store it reads (routing's: its own, and the SLA's clock facts "
        "and the joint meeting's lead decisions it relearns); own: of those, its own store's; events/s and own/s: "
        "per second of replay; PG: PostgreSQL; "
        "CPU: user + system seconds of the replay (the CLI's less its start-up) and of PostgreSQL; "
        "per CPU-s: events per second of both, the figure to compare on a busy machine"
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
    if args.dsn:
        dsn = args.dsn
    else:
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
    if args.hold:
        console.print(f"holding the database for --dsn {dsn} (Ctrl-C or SIGTERM to stop it)")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)
    return 0


if __name__ == "__main__":
    sys.exit(main())
