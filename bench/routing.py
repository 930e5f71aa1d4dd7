"""Routing throughput: complaints/s from `caseline.complaints.v1` to committed CaseRouted/CaseEscalated.

    .venv/bin/python bench/routing.py [--complaints N]

Starts its own embedded PostgreSQL and Tansu broker in a temp dir, publishes N ComplaintReceived
CloudEvents (synthetic: every category, compounds from the directory, a tenth with no known place) to the
complaints topic, then starts the routing service alone as a process and measures how fast it turns the
backlog into committed cases (events, outbox rows and case_view rows in one transaction per batch).
The figure is N / (last routing commit - first routing commit); the wall time from the process start is
printed too. Writes bench/out/routing-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import random
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaProducer

from caseline.embedded import free_port, start_broker, start_postgres
from caseline.supervisor import start_service, stop_all, wait_healthy
from district.directory import load_directory
from eventcore.kafka import ensure_topics
from eventcore.outbox import OutboxMessage
from eventcore.store import PendingEvent
from schemas.base import EventMetadata
from schemas.complaints import ComplaintReceived
from schemas.reference import Category, Channel, ComplaintKind, Urgency
from schemas.topics import ALL_TOPICS, COMPLAINTS

HOST = "127.0.0.1"
PARTITIONS = 8
OUT_DIR = Path(__file__).resolve().parent / "out"


def complaints(n: int, seed: int = 4) -> list[ComplaintReceived]:
    rng = random.Random(seed)
    directory = load_directory()
    start = datetime(2026, 11, 1, tzinfo=UTC)
    made = []
    for i in range(n):
        compound = rng.choice(directory.compounds) if rng.random() > 0.1 else None
        made.append(
            ComplaintReceived(
                case_id=f"case-bench-{i:07d}",
                complaint_id=f"hotline:BENCH-{i:07d}",
                channel=Channel.HOTLINE,
                source_ref=f"BENCH-{i:07d}",
                received_at=start + timedelta(seconds=37 * i),
                kind=ComplaintKind.COMPLAINT,
                category=rng.choice(list(Category)),
                description="benchmark complaint",
                address="synthetic",
                compound_code=compound.code if compound else None,
                street_code=compound.street_code if compound else None,
                urgency=Urgency.URGENT if rng.random() < 0.1 else Urgency.NORMAL,
                complainant_id=f"p-{rng.randrange(n)}",
                caller_phone_masked="138****0000",
            )
        )
    return made


async def publish(bootstrap: str, events: list[ComplaintReceived]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=256 * 1024)
    await producer.start()
    try:
        sends = []
        for event in events:
            pending = PendingEvent(event, EventMetadata(correlation_id=event.complaint_id, actor="intake"))
            message = OutboxMessage.for_event(pending, topic=COMPLAINTS, source="/caseline/intake")
            sends.append(
                await producer.send(
                    COMPLAINTS,
                    message.payload.encode(),
                    key=message.key.encode(),
                    headers=[(k, v.encode()) for k, v in message.headers.items()],
                )
            )
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def handled(dsn: str) -> tuple[int, datetime | None, datetime | None]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, min(recorded_at) AS first, max(recorded_at) AS last FROM routing.events "
            "WHERE event_type IN ('CaseRouted', 'CaseEscalated')"
        )
        views = await conn.fetchval("SELECT count(*) FROM routing.case_view")
    except asyncpg.UndefinedTableError:
        return 0, None, None
    finally:
        await conn.close()
    assert row is not None
    return min(int(row["n"]), int(views)), row["first"], row["last"]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--complaints", type=int, default=5000)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="clrbench-", dir="/tmp"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)
    dsn = start_postgres(work)
    broker = start_broker(HOST, free_port(HOST), work / "broker.log")
    services = []
    try:
        asyncio.run(ensure_topics(broker.bootstrap_servers, ALL_TOPICS, PARTITIONS))
        asyncio.run(publish(broker.bootstrap_servers, complaints(args.complaints)))
        port = free_port(HOST)
        env = {
            "DATABASE_URL": dsn,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "CASELINE_LOG_LEVEL": "WARNING",
            "CASELINE_ROUTING_PORT": str(port),
            "CASELINE_TOPIC_PARTITIONS": str(PARTITIONS),
        }
        started = time.monotonic()
        services.append(start_service("routing", env, work / "logs", HOST, port))
        wait_healthy(services)
        healthy_after = time.monotonic() - started
        count, first, last = 0, None, None
        first_seen = None
        while count < args.complaints and time.monotonic() - started < args.timeout:
            time.sleep(0.5)
            count, first, last = asyncio.run(handled(dsn))
            if count and first_seen is None:
                first_seen = time.monotonic() - started  # start-up, migrations and joining the group
        wall = time.monotonic() - started
    finally:
        stop_all(services)
        broker.stop()
    span = (last - first).total_seconds() if first and last else 0.0
    result = {
        "complaints": args.complaints,
        "handled": count,
        "first_to_last_commit_s": round(span, 2),
        "complaints_per_s": round(count / span, 1) if span > 0 else None,
        "wall_from_process_start_s": round(wall, 2),
        "healthy_after_s": round(healthy_after, 2),
        "first_commit_seen_after_s": round(first_seen, 2) if first_seen is not None else None,
    }
    OUT_DIR.mkdir(exist_ok=True)
    out = OUT_DIR / f"routing-{datetime.now(UTC):%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(f"written to {out}")
    return 0 if count >= args.complaints else 1


if __name__ == "__main__":
    raise SystemExit(main())
