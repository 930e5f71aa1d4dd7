"""A member bureau's system, minimal: follow its own task topic and acknowledge new tasks.

    python examples/bureau_subscriber.py --bureau fire_rescue --bootstrap 127.0.0.1:9092 --accept

Reads `caseline.bureau.<bureau>.tasks.v1` (CloudEvents in Kafka binary mode: the type is in the `ce_type`
header, the value is the notice's JSON), keeps the latest state of each task (every notice carries the
whole task) and, with --accept, reports `accepted` for each newly assigned task on
`caseline.bureau.reports.v1` as plain JSON. Only aiokafka is needed; nothing here imports Caseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

REPORTS = "caseline.bureau.reports.v1"
NOTICE_TYPE = "caseline.BureauTaskNotice.v1"


def tasks_topic(bureau: str) -> str:
    return f"caseline.bureau.{bureau}.tasks.v1"


def accepted_report(notice: dict[str, Any]) -> dict[str, Any]:
    """The report for a new task; its report_id is derived from the task, so a resend is harmless."""
    return {
        "report_id": f"{notice['task_id']}-accepted",
        "task_id": notice["task_id"],
        "bureau": notice["bureau"],
        "kind": "accepted",
        "note": "Received by the bureau's duty desk",
        "reported_at": datetime.now(UTC).isoformat(),
    }


async def follow(
    bootstrap: str, bureau: str, *, accept: bool, group: str | None, max_notices: int | None = None
) -> dict[str, dict[str, Any]]:
    """Consume notices until stopped (or `max_notices` arrived); returns the latest state per task id."""
    consumer = AIOKafkaConsumer(
        tasks_topic(bureau), bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest"
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False)
    await consumer.start()
    await producer.start()
    tasks: dict[str, dict[str, Any]] = {}
    seen = 0
    try:
        async for record in consumer:
            headers = {name: value.decode() for name, value in record.headers}
            if headers.get("ce_type") != NOTICE_TYPE:
                continue  # a newer notice version: skip it until this system is upgraded
            notice = json.loads(record.value)
            tasks[notice["task_id"]] = notice
            print(f"{notice['notice']:>16}  {notice['task_id']}  {notice['status']}  due {notice['due_at']}")
            if accept and notice["notice"] == "assigned":
                report = json.dumps(accepted_report(notice)).encode()
                await producer.send_and_wait(REPORTS, report, key=notice["task_id"].encode())
            seen += 1
            if max_notices is not None and seen >= max_notices:
                break
    finally:
        await producer.stop()
        await consumer.stop()
    return tasks


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bureau", required=True, help="bureau code, e.g. fire_rescue")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--group", default=None, help="consumer group (default: none, read from the start)")
    parser.add_argument("--accept", action="store_true", help="report 'accepted' for every new task")
    parser.add_argument("--max-notices", type=int, default=None)
    args = parser.parse_args()
    asyncio.run(
        follow(
            args.bootstrap, args.bureau, accept=args.accept, group=args.group, max_notices=args.max_notices
        )
    )


if __name__ == "__main__":
    main()
