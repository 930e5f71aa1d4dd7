"""Open-loop latency: work orders pushed over HTTP at fixed offered rates, measured without coordinated omission.

    .venv/bin/python bench/latency.py                         # 50, 300 and 1,000 orders/s, 30 s each
    .venv/bin/python bench/latency.py --rates 300 --seconds 60

Starts its own PostgreSQL, Tansu broker and the four services (as bench/pipeline.py does). For each offered
rate it pushes work orders to intake's `POST /v1/hotline/orders`, one request every 1/rate seconds (or
`--per-request` orders every per-request/rate seconds) on a schedule fixed before the run starts: a slow
answer never delays the next send, so a stall shows up as latency instead of as fewer samples (no
coordinated omission). In-flight requests are capped (`--max-in-flight`); a send that finds the cap full is
counted as late, and its latency still counts from its scheduled time.

After each rate it waits until routing has acted on every accepted order, then reads the services' own
event times from the stores:
- scheduled → received: the order's scheduled send time to intake's ComplaintReceived/ComplaintMerged
  `recorded_at` (includes the HTTP request and intake's commit);
- received → routed: intake's event to routing's CaseOpened/CoComplainantAdded caused by it;
- received → clock started: intake's event to the SLA watch's first SlaClockStarted for that case
  (new cases only: a merged complaint starts no clock).
Prints p50/p99/p99.9/max per rate and writes bench/out/latency-<timestamp>.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from pipeline import (
    OUT_DIR,
    Infrastructure,
    ResourceSampler,
    console,
    make_work_dir,
    plans_of,
    profiled,
    reset_statement_statistics,
    start_infrastructure,
    statement_statistics,
    watched_processes,
)
from rich.table import Table
from soak import _token, order_factory

from caseline.embedded import EMBEDDED_BROKER_PARTITIONS
from eventcore.logging import configure_logging


@dataclass
class Phase:
    """One offered rate: what was sent, when it was meant to go, and what came back."""

    rate: int
    scheduled: dict[str, float] = field(default_factory=dict)  # order_no → scheduled send time (epoch s)
    accepted: int = 0
    refused: int = 0
    late_sends: int = 0
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # per process, from the first send to routed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="50,300,1000", help="offered orders per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=30, help="how long each rate is offered")
    parser.add_argument("--per-request", type=int, default=1, help="orders per HTTP request")
    parser.add_argument("--max-in-flight", type=int, default=256)
    parser.add_argument("--compounds", type=int, default=300, help="compounds the orders are spread over")
    parser.add_argument("--drain-timeout", type=float, default=120)
    parser.add_argument(
        "--partitions",
        type=int,
        default=EMBEDDED_BROKER_PARTITIONS,
        help="partitions per topic (default: the embedded broker's, as `caseline up` runs)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="write py-spy raw stacks per process and PostgreSQL's statement statistics per rate here",
    )
    return parser.parse_args()


def build_requests(
    client: KeepAliveClient, phase: Phase, seconds: float, per_request: int, make_order: Any
) -> list[tuple[list[str], bytes]]:
    """Every request of the phase (its order numbers and its bytes), built before the first send: the load
    generator shares the machine's cores with everything it measures, so while measuring it only writes
    bytes and reads answers. The orders' times are from the build, seconds before they go, as a hotline
    platform's orders are."""
    sends = int(seconds * phase.rate / per_request)
    return [_request(client, phase, make_order, per_request) for _ in range(sends)]


async def offer(
    client: KeepAliveClient, phase: Phase, requests: list[tuple[list[str], bytes]], per_request: int
) -> None:
    """Send on a schedule fixed in advance; never wait for an answer before the next send."""
    interval = per_request / phase.rate
    start_wall, start_mono = time.time(), time.monotonic()
    try:
        tasks = []
        for n, (orders, request) in enumerate(requests):
            await asyncio.sleep(max(0.0, start_mono + n * interval - time.monotonic()))
            for order_no in orders:
                phase.scheduled[order_no] = start_wall + n * interval
            if client.busy:
                phase.late_sends += 1
            tasks.append(asyncio.create_task(_send(client, request, len(orders), phase)))
        await asyncio.gather(*tasks)
    finally:
        client.close()


def _request(
    client: KeepAliveClient, phase: Phase, make_order: Any, per_request: int
) -> tuple[list[str], bytes]:
    orders = [make_order() for _ in range(per_request)]
    for order in orders:
        order["order_no"] = f"LAT{phase.rate}-{order['order_no']}"
    body = json.dumps(orders).encode()
    return [o["order_no"] for o in orders], client.post_request(body, _token("hotline-platform"))


async def _send(client: KeepAliveClient, request: bytes, orders: int, phase: Phase) -> None:
    try:
        ok = await client.send(request) < 300
    except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError):
        ok = False
    if ok:
        phase.accepted += orders
    else:
        phase.refused += orders


IDLE_CONNECTION_SECONDS = 3.0  # a kept connection idle longer is not reused: uvicorn closes them after 5 s


class KeepAliveClient:
    """HTTP/1.1 POSTs to one URL over at most `cap` kept-alive connections, one request at a time on each.

    Not aiohttp or httpx: a general client's request building, header handling and connection pool cost
    0.5-8 CPU-ms a request here, which at a few hundred requests a second is a large share of the two cores
    the services need. This one writes prebuilt bytes and reads the status, the head and the body."""

    def __init__(self, url: str, cap: int) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        self._slots = asyncio.Semaphore(cap)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []  # and when last used
        self._open: set[asyncio.StreamWriter] = set()

    @property
    def busy(self) -> bool:
        return self._slots.locked()

    def post_request(self, body: bytes, headers: dict[str, str]) -> bytes:
        head = [f"POST {self.path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Content-Type: application/json"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        return ("\r\n".join(head) + "\r\n\r\n").encode() + body

    async def send(self, request: bytes) -> int:
        """The answer's status; the connection goes back to the pool unless the server closes it."""
        async with self._slots:
            reader, writer = self._kept() or await self._connect()
            try:
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=60)
                status, length, closing = _parse_head(head)
                await reader.readexactly(length)
            except BaseException:
                self._drop(writer)
                raise
            if closing:
                self._drop(writer)
            else:
                self._idle.append((reader, writer, time.monotonic()))
            return status

    def _kept(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """The connection used last, if the server has not had time to close it as idle (uvicorn: 5 s)."""
        while self._idle:
            reader, writer, since = self._idle.pop()
            if time.monotonic() - since < IDLE_CONNECTION_SECONDS and not reader.at_eof():
                return reader, writer
            self._drop(writer)
        return None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        self._open.add(writer)
        return reader, writer

    def _drop(self, writer: asyncio.StreamWriter) -> None:
        self._open.discard(writer)
        writer.close()

    def close(self) -> None:
        for writer in list(self._open):
            self._drop(writer)
        self._idle.clear()


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    """Status, Content-Length and whether the server closes the connection, from a response head."""
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    fields = dict(line.split(":", 1) for line in lines[1:] if ":" in line)
    fields = {name.strip().lower(): value.strip() for name, value in fields.items()}
    return status, int(fields.get("content-length", "0")), fields.get("connection", "").lower() == "close"


_TIMES = """
WITH received AS (
    SELECT event_id::text AS id, subject, data->>'source_ref' AS ref, recorded_at FROM intake.events
    WHERE event_type IN ('ComplaintReceived', 'ComplaintMerged') AND data->>'source_ref' LIKE $1
), routed AS (
    SELECT metadata->>'causation_id' AS cause, min(recorded_at) AS at FROM routing.events
    WHERE event_type IN ('CaseOpened', 'CoComplainantAdded') GROUP BY 1
), first_routed AS (
    SELECT DISTINCT ON (metadata->>'causation_id') metadata->>'causation_id' AS cause, event_type
    FROM routing.events ORDER BY metadata->>'causation_id', global_position
), clocked AS (
    SELECT subject, min(recorded_at) AS at FROM sla.events WHERE event_type = 'SlaClockStarted' GROUP BY 1
)
SELECT r.ref, extract(epoch FROM r.recorded_at) AS received,
       extract(epoch FROM d.at - r.recorded_at) AS to_routed,
       CASE WHEN o.event_type = 'CaseOpened' THEN extract(epoch FROM c.at - r.recorded_at) END AS to_clock,
       extract(epoch FROM p.published_at - r.recorded_at) AS to_published,
       extract(epoch FROM i.processed_at - r.recorded_at) AS to_claimed
FROM received r
LEFT JOIN routed d ON d.cause = r.id
LEFT JOIN first_routed o ON o.cause = r.id
LEFT JOIN clocked c ON c.subject = r.subject
LEFT JOIN intake.outbox p ON p.message_id::text = r.id
LEFT JOIN routing.inbox i ON i.message_id = r.id AND i.source = '/caseline/intake'
"""
# While waiting: how many of the phase's orders routing acted on, in one pass over each table (the query
# above, polled, took a core of PostgreSQL away from the services being measured).
_ROUTED_COUNT = """
SELECT count(*) FROM intake.events r
JOIN (SELECT DISTINCT metadata->>'causation_id' AS cause FROM routing.events
      WHERE event_type IN ('CaseOpened', 'CoComplainantAdded')) d ON d.cause = r.event_id::text
WHERE r.event_type IN ('ComplaintReceived', 'ComplaintMerged') AND r.data->>'source_ref' LIKE $1
"""
# Rows written by one transaction share its xmin: how many transactions intake took for the phase's orders.
_INTAKE_TRANSACTIONS = """
SELECT count(DISTINCT xmin::text) FROM intake.events
WHERE event_type IN ('ComplaintReceived', 'ComplaintMerged') AND data->>'source_ref' LIKE $1
"""


async def wait_until_routed(dsn: str, phase: Phase, timeout: float) -> tuple[list[asyncpg.Record], int]:
    """The phase's times once routing acted on every accepted order, and intake's transactions for them."""
    deadline = time.monotonic() + timeout
    conn = await asyncpg.connect(dsn)
    try:
        while True:
            done = await conn.fetchval(_ROUTED_COUNT, f"LAT{phase.rate}-%")
            if done >= phase.accepted or time.monotonic() > deadline:
                await asyncio.sleep(2)  # the SLA's clocks follow routing's facts
                transactions = await conn.fetchval(_INTAKE_TRANSACTIONS, f"LAT{phase.rate}-%")
                return list(await conn.fetch(_TIMES, f"LAT{phase.rate}-%")), int(transactions)
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


def percentiles(values: list[float]) -> dict[str, float | None]:
    """Nearest-rank percentiles in milliseconds."""
    if not values:
        return {"n": 0, "p50": None, "p99": None, "p99.9": None, "max": None}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))] * 1000, 1)

    return {"n": len(ordered), "p50": rank(0.5), "p99": rank(0.99), "p99.9": rank(0.999), "max": rank(1.0)}


def summarise(phase: Phase, rows: list[asyncpg.Record], intake_transactions: int) -> dict[str, Any]:
    to_received = [
        float(r["received"]) - phase.scheduled[r["ref"]] for r in rows if r["ref"] in phase.scheduled
    ]
    return {
        "offered_per_s": phase.rate,
        "sent": len(phase.scheduled),
        "accepted": phase.accepted,
        "refused": phase.refused,
        "late_sends": phase.late_sends,
        "not_routed": sum(1 for r in rows if r["to_routed"] is None),
        "intake_transactions": intake_transactions,
        "cpu_seconds": {name: round(seconds, 2) for name, seconds in phase.cpu_seconds.items()},
        "scheduled_to_received_ms": percentiles(to_received),
        "received_to_routed_ms": percentiles(
            [float(r["to_routed"]) for r in rows if r["to_routed"] is not None]
        ),
        "received_to_clock_started_ms": percentiles(
            [float(r["to_clock"]) for r in rows if r["to_clock"] is not None]
        ),
        # The received → routed hop, split where the stores record a time: intake's relay marked the message
        # published (after the broker's acknowledgement), routing claimed it in its inbox (the start of its
        # transaction), routing recorded its event.
        "received_to_published_ms": percentiles(
            [float(r["to_published"]) for r in rows if r["to_published"] is not None]
        ),
        "received_to_claimed_ms": percentiles(
            [float(r["to_claimed"]) for r in rows if r["to_claimed"] is not None]
        ),
    }


async def run_rates(args: argparse.Namespace, infra: Infrastructure) -> list[dict[str, Any]]:
    intake = next(s.health_url.rsplit("/", 1)[0] for s in infra.services if s.name == "intake")
    make_order = order_factory(args.compounds)
    plans = plans_of(infra)  # one log reader for the run: each rate's summary starts at that rate's mark
    results = []
    for rate in (int(r) for r in args.rates.split(",")):
        phase = Phase(rate)
        console.print(f"offering {rate}/s for {args.seconds:.0f} s ...")
        profile = args.profile / f"rate-{rate}" if args.profile else None
        client = KeepAliveClient(f"{intake}/v1/hotline/orders", args.max_in_flight)
        requests = build_requests(client, phase, args.seconds, args.per_request, make_order)
        if profile is not None:
            await reset_statement_statistics(infra.dsn, plans)
        with ResourceSampler(watched_processes(infra), interval=1.0) as sampler, profiled(infra, profile):
            await offer(client, phase, requests, args.per_request)
            rows, transactions = await wait_until_routed(infra.dsn, phase, args.drain_timeout)
        if profile is not None:
            await statement_statistics(infra.dsn, profile, plans)
        phase.cpu_seconds = {
            name.replace("(feed)", "(load)"): usage.cpu_seconds for name, usage in sampler.usage.items()
        }
        results.append(summarise(phase, rows, transactions))
    return results


def print_report(report: dict[str, Any]) -> None:
    table = Table(title=f"open-loop latency, {report['cpus']} CPUs, ms (p50 / p99 / p99.9 / max)")
    for column in (
        "offered/s",
        "accepted",
        "late sends",
        "scheduled → received",
        "received → routed",
        "received → clock started",
    ):
        table.add_column(column, justify="right")
    for r in report["rates"]:
        table.add_row(
            str(r["offered_per_s"]),
            f"{r['accepted']} (refused {r['refused']}, not routed {r['not_routed']})",
            str(r["late_sends"]),
            *(
                _cell(r[k])
                for k in ("scheduled_to_received_ms", "received_to_routed_ms", "received_to_clock_started_ms")
            ),
        )
    console.print(table)
    for r in report["rates"]:
        cpu = ", ".join(f"{name} {seconds:g}" for name, seconds in r["cpu_seconds"].items())
        console.print(
            f"{r['offered_per_s']}/s: {r['accepted']} orders in {r['intake_transactions']} intake transactions; "
            f"CPU s (first send to last routed): {cpu}"
        )
        console.print(
            f"  received → routed, hop by hop (p50 / p99 / p99.9 / max): published by intake's relay "
            f"{_cell(r['received_to_published_ms'])}, claimed by routing {_cell(r['received_to_claimed_ms'])}, "
            f"routed {_cell(r['received_to_routed_ms'])}"
        )


def _cell(p: dict[str, float | None]) -> str:
    return " / ".join("-" if p[k] is None else f"{p[k]:g}" for k in ("p50", "p99", "p99.9", "max"))


def main() -> int:
    args = parse_args()
    configure_logging("latency", json=False, level="WARNING")
    os.environ.setdefault("CASELINE_LOG_LEVEL", "WARNING")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the embedded PostgreSQL is stopped at exit
    work_dir = make_work_dir()
    profiling = args.profile is not None
    infra = start_infrastructure(work_dir, partitions=args.partitions, statement_statistics=profiling)
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S}"
    try:
        rates = asyncio.run(run_rates(args, infra))
    finally:
        infra.stop()
        shutil.copytree(work_dir / "logs", OUT_DIR / f"latency-logs-{stamp}", dirs_exist_ok=True)
    report = {"cpus": os.cpu_count(), "python": sys.version.split()[0], "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}, "rates": rates}
    print_report(report)
    OUT_DIR.mkdir(exist_ok=True)
    out = OUT_DIR / f"latency-{stamp}.json"
    out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    console.print(f"written {out}")
    return 0 if all(r["not_routed"] == 0 and r["refused"] == 0 for r in rates) else 1


if __name__ == "__main__":
    sys.exit(main())
