"""Every service reports on /metrics what it consumed, published and rejected, and what is waiting.

Real processes, real broker: the counts come from the records the service really consumed, redeliveries
and a broken record included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from eventcore.outbox import OutboxMessage
from eventcore.store import PendingEvent
from schemas.base import DomainEvent, EventMetadata
from schemas.topics import CASES
from tests.sla_support import opened_and_routed
from tests.system import RunningSystem

pytestmark = pytest.mark.e2e
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
Record = tuple[bytes, bytes, list[tuple[str, bytes]]]  # key, value, headers


async def test_the_sla_watch_counts_handled_redelivered_and_dead_lettered_records_and_its_published_outbox(
    system: RunningSystem,
) -> None:
    system.start("sla")
    records = [_record(event) for case in ("M-1", "M-2") for event in opened_and_routed(case)]
    await _send(system.broker.bootstrap_servers, records)
    await _send(system.broker.bootstrap_servers, records)  # redelivered, as after a producer retry
    await _send(system.broker.bootstrap_servers, [(b"M-3", b"not a cloudevent", [])])

    consumed = ("caseline_messages_consumed_total", "sla", CASES)
    samples = await _scrape_until(
        system,
        "sla",
        lambda s: (
            _get(s, *consumed, outcome="handled") == 4
            and _get(s, *consumed, outcome="duplicate") == 4
            and _get(s, *consumed, outcome="dead_lettered") == 1
            and _get(s, "caseline_outbox_unpublished", "sla") == 0
        ),
    )
    published = {
        topic: count
        for topic, count in await _rows(system, "SELECT topic, count(*) FROM sla.outbox GROUP BY topic")
    }
    assert published, "the watch started clocks, so it published"
    for topic, count in published.items():
        assert _get(samples, "caseline_messages_published_total", "sla", topic) == count
    assert _get(samples, "caseline_dead_letters", "sla", state="waiting") == 1
    assert _get(samples, "caseline_relay_leader", "sla") == 1
    assert _get(samples, "caseline_store_readable", "sla") == 1
    partitions = system.health("sla")["partitions"]
    assert _get(samples, "caseline_assigned_partitions", "sla", CASES) == len(partitions[CASES])
    assert 'caseline_open_cases{category="sanitation"' in await _text(system, "sla")  # the watch's own


async def test_every_service_serves_its_runtime_figures(system: RunningSystem) -> None:
    system.start("intake", "routing", "jointmeeting")
    for service in ("intake", "routing", "jointmeeting"):
        samples = _parse(await _text(system, service))
        assert _get(samples, "caseline_store_readable", service) == 1, service
        assert _get(samples, "caseline_outbox_unpublished", service) == 0, service
        assert _get(samples, "caseline_dead_letters", service, state="waiting") == 0, service


def _record(event: DomainEvent) -> Record:
    pending = PendingEvent(event, EventMetadata(correlation_id=event.case_id, actor="test-routing"))
    message = OutboxMessage.for_event(pending, topic=CASES, source="/caseline/routing")
    return (
        message.key.encode(),
        message.payload.encode(),
        [(k, v.encode()) for k, v in message.headers.items()],
    )


async def _send(bootstrap: str, records: list[Record]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=False, acks="all")
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(CASES, key=key, value=value, headers=headers)
    finally:
        await producer.stop()


async def _text(system: RunningSystem, service: str) -> str:
    async with httpx.AsyncClient(timeout=10) as http:
        answer = await http.get(f"http://127.0.0.1:{system.ports[service]}/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    return answer.text


async def _scrape_until(
    system: RunningSystem, service: str, ready: Callable[[Samples], bool], timeout: float = 60
) -> Samples:
    samples: Samples = {}
    for _ in range(int(timeout / 0.5)):
        samples = _parse(await _text(system, service))
        if ready(samples):
            return samples
        await asyncio.sleep(0.5)
    raise AssertionError(f"{service} metrics never settled: {_interesting(samples)}")


def _parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _get(samples: Samples, name: str, service: str, topic: str | None = None, **labels: str) -> float | None:
    wanted = {"service": service, **labels, **({"topic": topic} if topic else {})}
    return samples.get((name, frozenset(wanted.items())))


def _interesting(samples: Samples) -> dict[str, float]:
    return {
        f"{name}{dict(labels)}": value for (name, labels), value in samples.items() if "caseline_m" in name
    }


async def _rows(system: RunningSystem, sql: str) -> list[tuple[str, int]]:
    conn = await asyncpg.connect(system.database_url)
    try:
        return [(row[0], int(row[1])) for row in await conn.fetch(sql)]
    finally:
        await conn.close()
