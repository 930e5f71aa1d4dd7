"""A member bureau's system, minimal: follow its own task topic and acknowledge new tasks.

    python examples/bureau_subscriber.py --bureau fire_rescue --district luzhou --bootstrap 127.0.0.1:9092 --accept

Reads `caseline.bureau.<bureau>.tasks.v1` (CloudEvents in Kafka binary mode: the type is in the `ce_type`
header, the value is the notice's JSON), keeps the latest state of each task (every notice carries the
whole task) and, with --accept, reports `accepted` for each newly assigned task on
`caseline.bureau.reports.v1` as plain JSON. Only aiokafka is needed; nothing here imports Caseline.

The topic is one per bureau kind, shared by every district's bureau of that kind: a bureau system keeps
only its own district's notices (`--district`, or CASELINE_BUREAU_DISTRICT), by the `ce_district` header
(absent on notices from before Caseline served several districts: those are the founding district's).
Without a district it only watches, every district's notices; --accept needs one, so that a bureau never
accepts another district's task.

On a secured cluster (deploy/README.md: each bureau's principal may read only its task topic and write reports),
set KAFKA_SECURITY_PROTOCOL (SASL_SSL), KAFKA_SASL_MECHANISM (SCRAM-SHA-512), KAFKA_SASL_USERNAME
(`bureau-<bureau>`), KAFKA_SASL_PASSWORD and, for a private CA, KAFKA_SSL_CAFILE.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

REPORTS = "caseline.bureau.reports.v1"
NOTICE_TYPE = "caseline.BureauTaskNotice.v1"
FOUNDING_DISTRICT = "luzhou"  # notices without ce_district were written before there were several
DISTRICT_ENV = "CASELINE_BUREAU_DISTRICT"


def security() -> dict[str, Any]:
    """aiokafka's security options from the environment; plaintext when none is set."""
    protocol = os.environ.get("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    options: dict[str, Any] = {"security_protocol": protocol}
    if protocol.startswith("SASL"):
        options |= {
            "sasl_mechanism": os.environ.get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
            "sasl_plain_username": os.environ.get("KAFKA_SASL_USERNAME"),
            "sasl_plain_password": os.environ.get("KAFKA_SASL_PASSWORD"),
        }
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl.create_default_context(cafile=os.environ.get("KAFKA_SSL_CAFILE"))
    return options


def tasks_topic(bureau: str) -> str:
    return f"caseline.bureau.{bureau}.tasks.v1"


def district_of(headers: dict[str, str]) -> str:
    return headers.get("ce_district") or FOUNDING_DISTRICT


def accepted_report(notice: dict[str, Any]) -> dict[str, Any]:
    """The report for a new task; its report_id is derived from the task, so a resend is harmless."""
    return {
        "report_id": f"{notice['task_id']}-accepted",
        "task_id": notice["task_id"],
        "bureau": notice["bureau"],
        # Naming the district makes Caseline refuse the report if the task were another district's.
        "district": notice.get("district", "luzhou"),
        "kind": "accepted",
        "note": "Received by the bureau's duty desk",
        "reported_at": datetime.now(UTC).isoformat(),
    }


async def follow(
    bootstrap: str,
    bureau: str,
    *,
    district: str | None,
    accept: bool,
    group: str | None,
    max_notices: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Consume this district's notices until stopped (or `max_notices` of them arrived); returns the latest
    state per task id. `district` None: every district's (watching only)."""
    if accept and district is None:
        raise ValueError(
            "accepting tasks needs the bureau's district, or it would accept other districts' tasks"
        )
    consumer = AIOKafkaConsumer(
        tasks_topic(bureau),
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        **security(),
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, **security())
    await consumer.start()
    await producer.start()
    tasks: dict[str, dict[str, Any]] = {}
    seen = 0
    try:
        async for record in consumer:
            headers = {name: value.decode() for name, value in record.headers}
            if headers.get("ce_type") != NOTICE_TYPE:
                continue  # a newer notice version: skip it until this system is upgraded
            if district is not None and district_of(headers) != district:
                continue  # the same bureau kind in another district: not this system's work
            notice = json.loads(record.value)
            tasks[notice["task_id"]] = notice
            print(
                f"{notice['notice']:>16}  {district_of(headers):<10} {notice['task_id']}  {notice['status']}"
                f"  due {notice['due_at']}"
            )
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
    parser.add_argument(
        "--district",
        default=os.environ.get(DISTRICT_ENV) or None,
        help=f"the bureau's district code, e.g. luzhou (default: ${DISTRICT_ENV}; none: watch every district)",
    )
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--group", default=None, help="consumer group (default: none, read from the start)")
    parser.add_argument("--accept", action="store_true", help="report 'accepted' for every new task")
    parser.add_argument("--max-notices", type=int, default=None)
    args = parser.parse_args()
    if args.accept and not args.district:
        parser.error(f"--accept needs --district (or ${DISTRICT_ENV}): accept only your own district's tasks")
    asyncio.run(
        follow(
            args.bootstrap,
            args.bureau,
            district=args.district,
            accept=args.accept,
            group=args.group,
            max_notices=args.max_notices,
        )
    )


if __name__ == "__main__":
    main()
