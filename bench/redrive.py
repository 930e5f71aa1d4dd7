"""Re-drive benchmark: how long the system takes to recover from a broker that lost a large published log.

    .venv/bin/python bench/redrive.py [--records 50000]

Starts its own PostgreSQL, Tansu broker and the four services (bench/pipeline.py), feeds N complaints and
waits until routing has handled them all, then kills the broker and starts an empty one on the same port,
leaving the services running. It measures how long until the relays notice (the first outbox row marked
unpublished again), until intake's relay has sent its N messages again, and until routing has consumed
them all again (counted from its /metrics: duplicates dropped by the inbox). Every retained outbox row of
a lost topic is re-sent, so the re-drive grows with the outbox retention (CASELINE_OUTBOX_RETENTION_HOURS):
these figures give the rate to size it by. Writes bench/out/redrive-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
from pipeline import (
    OUT_DIR,
    Infrastructure,
    console,
    feed,
    make_work_dir,
    start_infrastructure,
    wait_until_handled,
)
from rich.table import Table

from caseline.embedded import EMBEDDED_BROKER_PARTITIONS, start_broker
from district.sample_hotline import write_synthetic_orders
from eventcore.logging import configure_logging

UNPUBLISHED = "SELECT count(*) FROM intake.outbox WHERE published_at IS NULL"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--timeout", type=float, default=900.0)
    return parser.parse_args()


async def _poll(condition: Any, timeout: float) -> float:
    """Seconds until `condition()` holds (the timeout as a failure)."""
    started = time.monotonic()
    while not await condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError("the re-drive did not finish in time")
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def _duplicates(client: httpx.AsyncClient, metrics_url: str) -> int:
    text = (await client.get(metrics_url)).text
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith("caseline_messages_consumed_total{")
        and 'outcome="duplicate"' in line
        and "caseline.complaints.v1" in line
    )


async def redrive(args: argparse.Namespace, infra: Infrastructure) -> dict[str, Any]:
    orders = infra.work_dir / "orders.jsonl"
    write_synthetic_orders(orders, args.records, prefix="REDRIVE")
    fed = await feed(infra.dsn, orders, 1000)
    accepted = fed.summary.accepted
    handled = await wait_until_handled(infra.dsn, accepted, args.timeout)
    if handled < accepted:
        raise TimeoutError(f"routing handled {handled} of {accepted} before the broker was touched")
    routing = next(s for s in infra.services if s.name == "routing")
    metrics_url = routing.health_url.replace("/healthz", "/metrics")
    conn = await asyncpg.connect(infra.dsn)
    async with httpx.AsyncClient(timeout=10) as client:
        before = await _duplicates(client, metrics_url)
        host, port = infra.broker.bootstrap_servers.split(":")
        infra.broker.kill()
        lost_at = time.monotonic()
        infra.broker = start_broker(host, int(port), infra.work_dir / "logs" / "broker-after-loss.log")
        noticed = await _poll(lambda: _positive(conn, UNPUBLISHED), args.timeout)
        republished = await _poll(lambda: _zero(conn, UNPUBLISHED), args.timeout) + noticed
        consumed = (
            await _poll(lambda: _at_least(_duplicates(client, metrics_url), before + accepted), args.timeout)
            + republished
        )
    await conn.close()
    total = time.monotonic() - lost_at
    return {
        "records": args.records,
        "accepted": accepted,
        "noticed_after_s": round(noticed, 2),
        "intake_republished_after_s": round(republished, 2),
        "routing_caught_up_after_s": round(consumed, 2),
        "total_s": round(total, 2),
        "republish_rate_per_s": round(accepted / max(republished - noticed, 1e-6)),
        "redrive_rate_per_s": round(accepted / max(consumed - noticed, 1e-6)),
    }


async def _positive(conn: asyncpg.Connection, sql: str) -> bool:
    return int(await conn.fetchval(sql)) > 0


async def _zero(conn: asyncpg.Connection, sql: str) -> bool:
    return int(await conn.fetchval(sql)) == 0


async def _at_least(count: Any, target: int) -> bool:
    return int(await count) >= target


def main() -> int:
    args = parse_args()
    configure_logging("redrive", json=False, level="WARNING")
    # the partitions Tansu gives the topics its clients re-create at once after it lost them
    infra = start_infrastructure(make_work_dir(), partitions=EMBEDDED_BROKER_PARTITIONS)
    try:
        result = asyncio.run(redrive(args, infra))
    finally:
        infra.stop()
    table = Table(title=f"re-drive of {result['accepted']} complaints after the broker lost its log")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, value in result.items():
        table.add_row(name.replace("_", " "), str(value))
    console.print(table)
    OUT_DIR.mkdir(exist_ok=True)
    out = OUT_DIR / f"redrive-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
