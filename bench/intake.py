"""Intake benchmark: a large hotline file -> committed ComplaintReceived, on a fresh embedded PostgreSQL.

    .venv/bin/python bench/intake.py [--records N] [--format jsonl|csv] [--encoding utf-8|gb18030]
                                     [--batch-size B] [--merge-window-hours H]

Writes N valid synthetic work orders (fixed seed; CSV with the platform's Chinese headers), feeds them
through intake in this process exactly as `caseline feed hotline` does (read, detect encoding, validate,
resolve compounds, claim, write events + outbox + personal data, commit per batch) and prints records per
second from first read to last commit, the CPU seconds the feed cost this process and PostgreSQL (postmaster
and backends), and this process's peak memory. No broker is needed: the figure ends at the committed outbox
rows the relay would publish. CPU per record is the steadier figure on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import csv
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import psutil

from caseline.embedded import start_postgres
from district.sample_hotline import write_synthetic_orders
from eventcore.consumer import ServiceStores
from eventcore.database import create_pool, migrate
from eventcore.settings import Settings
from schemas.hotline import CSV_HEADERS_ZH
from services.intake.app import EXTRA_DDL, SCHEMA, SERVICE, intake_context
from services.intake.handlers import feed_hotline_file
from services.intake.settings import IntakeSettings


def write_input(work_dir: Path, records: int, fmt: str, encoding: str) -> Path:
    jsonl = work_dir / "orders.jsonl"
    write_synthetic_orders(jsonl, records, prefix="IB")
    if fmt == "jsonl":
        return jsonl
    target = work_dir / f"orders.{encoding}.csv"
    with jsonl.open(encoding="utf-8") as source, target.open("w", encoding=encoding, newline="") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_HEADERS_ZH)
        for line in source:
            order = json.loads(line)
            writer.writerow(order.get(field, "") for field in CSV_HEADERS_ZH.values())
    return target


def postgres_cpu_seconds(work_dir: Path) -> float:
    """User + system seconds of the embedded PostgreSQL's postmaster and all its live backends."""
    postmaster = psutil.Process(int((work_dir / "pg" / "postmaster.pid").read_text().split()[0]))
    total = 0.0
    for process in [postmaster, *postmaster.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


async def feed(
    dsn: str, work_dir: Path, path: Path, batch_size: int, merge_window_hours: float
) -> tuple[float, float, float, int, int]:
    """Wall seconds, this process's CPU seconds and PostgreSQL's for the feed alone; accepted; committed."""
    pool = await create_pool(dsn, max_size=2)
    try:
        await migrate(pool, SCHEMA, EXTRA_DDL)
        stores = ServiceStores(pool, SCHEMA, source=f"/caseline/{SERVICE}")
        ctx = intake_context(Settings(), IntakeSettings(merge_window_hours=merge_window_hours))
        _ = ctx.categories  # trained before the clock starts, as a running service has it
        # The pool's connections stay open, so their backends' CPU is counted from here to the end.
        postgres_before, started, cpu_started = postgres_cpu_seconds(work_dir), time.perf_counter(), time.process_time()
        summary = await feed_hotline_file(stores, ctx, path, batch_size=batch_size)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        postgres_cpu = postgres_cpu_seconds(work_dir) - postgres_before
        async with pool.acquire() as conn:
            committed = int(await conn.fetchval(f"SELECT count(*) FROM {SCHEMA}.outbox"))
        return seconds, cpu, postgres_cpu, summary.accepted, committed
    finally:
        await pool.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    parser.add_argument("--encoding", choices=("utf-8", "utf-8-sig", "gb18030"), default="utf-8")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--merge-window-hours", type=float, default=0.0)
    args = parser.parse_args(argv)

    work_dir = Path(tempfile.mkdtemp(prefix="clib-", dir="/tmp"))
    atexit.register(shutil.rmtree, work_dir, ignore_errors=True)
    path = write_input(work_dir, args.records, args.format, args.encoding)
    dsn = start_postgres(work_dir)
    seconds, cpu, postgres_cpu, accepted, committed = asyncio.run(
        feed(dsn, work_dir, path, args.batch_size, args.merge_window_hours)
    )
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(
        f"input: {args.records} records, {args.format} {args.encoding}, {path.stat().st_size / 2**20:.1f} MiB"
    )
    print(f"batch size {args.batch_size}, merge window {args.merge_window_hours} h")
    print(f"accepted: {accepted} (ComplaintReceived/ComplaintMerged committed with outbox rows: {committed})")
    print(f"file -> committed: {seconds:.2f} s, {accepted / seconds:,.0f} records/s")
    per_record = 1000 / max(accepted, 1)
    print(
        f"CPU: feeding process {cpu:.2f} s ({cpu * per_record:.3f} ms/record), "
        f"PostgreSQL {postgres_cpu:.2f} s ({postgres_cpu * per_record:.3f} ms/record)"
    )
    print(f"peak memory of the feeding process (max RSS): {peak_mib:.0f} MiB")
    return 0 if accepted == args.records == committed else 1


if __name__ == "__main__":
    raise SystemExit(main())
