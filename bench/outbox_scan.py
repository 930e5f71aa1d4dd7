"""Outbox scan: what one relay pass's read costs as published rows pile up, from the start of the
unpublished index against from the relay's floor (eventcore/scan_floor.py).

    .venv/bin/python bench/outbox_scan.py                  # 120,000 rows, 350 a commit, as routing's outbox
    .venv/bin/python bench/outbox_scan.py --rows 300000 --report-every 50000

A published row keeps its entry in the unpublished index until VACUUM removes it. Here a reader holds a
REPEATABLE READ snapshot open the whole time (a report, a backup: VACUUM may not remove what it may still
see), so the entries pile up as they would between autovacuum's visits, or for as long as such a reader
runs. Each round commits `--batch` outbox rows, reads them with the relay's own statement twice (from the
start, from the floor: the position it published up to), timing each read (median of 3), and marks them
published as the relay does. Prints a table; writes bench/out/outbox-scan-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import UTC, datetime

import asyncpg
from pipeline import OUT_DIR, console, make_work_dir
from rich.table import Table

from caseline.embedded import start_postgres, stop_postgres
from eventcore.database import connect, create_pool, migrate
from eventcore.relay import unpublished_after

SCHEMA = "bench"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=120_000, help="outbox rows in all (default 120000)")
    parser.add_argument("--batch", type=int, default=350, help="rows per commit and pass (default 350)")
    parser.add_argument("--report-every", type=int, default=20_000, help="a table row every N rows")
    return parser.parse_args()


async def timed_read(conn: asyncpg.Connection, scan: str, batch: int, after: int) -> float:
    """Milliseconds, the median of three reads."""
    seconds = []
    for _ in range(3):
        started = time.perf_counter()
        await conn.fetch(scan, batch, after)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds) * 1000


async def measure(dsn: str, args: argparse.Namespace) -> list[dict[str, float]]:
    pool = await create_pool(dsn)
    await migrate(pool, SCHEMA)
    scan = unpublished_after(SCHEMA)  # the statement the relay runs
    reader, conn = await connect(dsn), await connect(dsn)
    payload = "x" * 600
    figures: list[dict[str, float]] = []
    try:
        held = reader.transaction(isolation="repeatable_read", readonly=True)
        await held.start()
        await reader.fetchval(f"SELECT count(*) FROM {SCHEMA}.outbox")  # takes the snapshot it holds
        floor = 0
        for done in range(args.batch, args.rows + 1, args.batch):
            await conn.execute(
                f"INSERT INTO {SCHEMA}.outbox (message_id, topic, message_key, headers, payload) "
                "SELECT gen_random_uuid(), 'caseline.cases.v1', 'case-' || g, '{}'::jsonb, $1 "
                "FROM generate_series(1, $2) AS g",
                payload,
                args.batch,
            )
            from_start = await timed_read(conn, scan, args.batch, 0)
            from_floor = await timed_read(conn, scan, args.batch, floor)
            rows = await conn.fetch(scan, args.batch, floor)
            positions = [r["position"] for r in rows if r["position"] is not None]
            await conn.execute(
                f"UPDATE {SCHEMA}.outbox SET published_at = clock_timestamp() WHERE position = ANY($1::bigint[])",
                positions,
            )
            floor = max(positions)
            if done % args.report_every < args.batch:
                figures.append(
                    {"published_before": done - args.batch, "from_start_ms": from_start, "from_floor_ms": from_floor}
                )
        await held.rollback()
    finally:
        await reader.close()
        await conn.close()
        await pool.close()
    return figures


def print_report(figures: list[dict[str, float]], batch: int) -> None:
    table = Table(title=f"one relay read of {batch} rows (median of 3), a snapshot held open")
    for column in ("rows published before it", "from the start", "from the floor"):
        table.add_column(column, justify="right")
    for f in figures:
        table.add_row(
            f"{f['published_before']:,.0f}", f"{f['from_start_ms']:.2f} ms", f"{f['from_floor_ms']:.2f} ms"
        )
    console.print(table)


def main() -> int:
    args = parse_args()
    work_dir = make_work_dir()
    dsn = start_postgres(work_dir)
    try:
        figures = asyncio.run(measure(dsn, args))
    finally:
        stop_postgres(work_dir)
    print_report(figures, args.batch)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"outbox-scan-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps({"parameters": vars(args), "reads": figures}, indent=1))
    console.print(f"written {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
