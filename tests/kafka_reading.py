"""Reading what actually reached a topic, for assertions."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer


@dataclass(frozen=True)
class Delivered:
    partition: int
    offset: int
    key: str
    headers: dict[str, str]
    data: dict[str, Any]

    @property
    def event_id(self) -> str:
        return self.headers["ce_id"]


async def read_topic(bootstrap: str, topic: str, *, expect: int, timeout: float = 20) -> list[Delivered]:
    """Everything on the topic from the beginning; waits until at least `expect` messages arrived."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    delivered: list[Delivered] = []
    deadline = time.monotonic() + timeout
    try:
        while len(delivered) < expect and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=300)
            for records in batches.values():
                delivered.extend(_delivered(r) for r in records)
        extra = await consumer.getmany(timeout_ms=300)  # anything beyond what was expected is a duplicate
        for records in extra.values():
            delivered.extend(_delivered(r) for r in records)
    finally:
        await consumer.stop()
    return delivered


def _delivered(record: Any) -> Delivered:
    return Delivered(
        partition=record.partition,
        offset=record.offset,
        key=record.key.decode(),
        headers={name: value.decode() for name, value in record.headers},
        data=json.loads(record.value),
    )
