"""The outbox relay against real PostgreSQL and a real Kafka-protocol broker."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg

from caseline.embedded import EmbeddedBroker, start_broker
from eventcore.consumer import ServiceStores
from eventcore.database import DbConnection, connect
from eventcore.kafka import ensure_topics, new_producer
from eventcore.outbox import REWIND, Outbox, OutboxMessage, notify_channel
from eventcore.relay import OutboxRelay
from eventcore.store import EventStore, PendingEvent
from tests.factories import case_opened
from tests.kafka_reading import read_topic

TOPIC = "caseline.cases.v1"
STORE, OUTBOX = EventStore("svc"), Outbox("svc")


async def _commit_case_events(conn: DbConnection, case_id: str, count: int) -> list[PendingEvent]:
    events = [case_opened(case_id) for _ in range(count)]
    version = await STORE.stream_version(conn, f"case-{case_id}")
    await STORE.append(conn, f"case-{case_id}", version, events)
    await OUTBOX.add(conn, [OutboxMessage.for_event(e, topic=TOPIC, source="/test") for e in events])
    return events


async def _relay_pass(relay: OutboxRelay, database_url: str) -> int:
    conn = await connect(database_url)
    producer = new_producer(relay.bootstrap_servers)
    await producer.start()
    try:
        return await relay.publish_pending(conn, producer)
    finally:
        await producer.stop()
        await conn.close()


async def test_relay_publishes_every_committed_event_exactly_once_in_case_order_when_commits_overtake(
    pool: asyncpg.Pool, database_url: str, broker: EmbeddedBroker
) -> None:
    await ensure_topics(broker.bootstrap_servers, [TOPIC], 4)
    relay = OutboxRelay(database_url, "svc", broker.bootstrap_servers)
    async with pool.acquire() as slow, pool.acquire() as fast:
        slow_tx = slow.transaction()
        await slow_tx.start()
        held_back = await _commit_case_events(
            slow, "slow", 3
        )  # takes the lower outbox positions, not committed
        async with fast.transaction():
            overtaking = await _commit_case_events(fast, "fast", 3)
        first_pass = await _relay_pass(relay, database_url)
        await slow_tx.commit()
    second_pass = await _relay_pass(relay, database_url)
    third_pass = await _relay_pass(relay, database_url)

    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT message_id::text AS id, position FROM svc.outbox")
    positions: dict[str, int] = {row["id"]: row["position"] for row in rows}
    # The scenario really is out of order: the late commit holds lower positions than what went out first.
    assert max(positions[str(e.event_id)] for e in held_back) < min(
        positions[str(e.event_id)] for e in overtaking
    )
    assert (first_pass, second_pass, third_pass) == (3, 3, 0)

    delivered = await read_topic(broker.bootstrap_servers, TOPIC, expect=6)
    assert sorted(d.event_id for d in delivered) == sorted(str(e.event_id) for e in held_back + overtaking)
    per_case: dict[str, list[str]] = defaultdict(list)
    for message in sorted(delivered, key=lambda d: (d.partition, d.offset)):
        per_case[message.key].append(message.event_id)
    assert per_case["slow"] == [str(e.event_id) for e in held_back]
    assert per_case["fast"] == [str(e.event_id) for e in overtaking]


async def test_messages_carry_cloudevents_binary_mode_headers_keyed_by_case(
    pool: asyncpg.Pool, database_url: str, broker: EmbeddedBroker
) -> None:
    await ensure_topics(broker.bootstrap_servers, [TOPIC], 2)
    async with pool.acquire() as conn:
        [event] = await _commit_case_events(conn, "ce", 1)
    await _relay_pass(OutboxRelay(database_url, "svc", broker.bootstrap_servers), database_url)
    [message] = await read_topic(broker.bootstrap_servers, TOPIC, expect=1)
    assert message.key == "ce"
    assert message.headers["ce_specversion"] == "1.0"
    assert message.headers["ce_id"] == str(event.event_id)
    assert message.headers["ce_type"] == "caseline.CaseOpened.v1"
    assert message.headers["ce_source"] == "/test"
    assert message.headers["ce_subject"] == "ce"
    assert message.headers["content-type"] == "application/json"
    assert message.headers["ce_correlationid"] == "ce"
    assert "ce_time" in message.headers
    assert message.data["case_id"] == "ce" and message.data["category"] == "sanitation"


async def test_a_fresh_broker_that_lost_the_log_gets_everything_republished(
    pool: asyncpg.Pool, database_url: str, broker: EmbeddedBroker, scratch_dir: Path
) -> None:
    host, port = broker.bootstrap_servers.split(":")
    await ensure_topics(broker.bootstrap_servers, [TOPIC], 2)
    async with pool.acquire() as conn:
        events = await _commit_case_events(conn, "lost", 4)
    stop = asyncio.Event()
    relay = OutboxRelay(database_url, "svc", broker.bootstrap_servers, idle_seconds=0.1)
    running = asyncio.create_task(relay.run(stop))
    await _wait_for(lambda: relay.published_total == 4)
    stop.set()
    await running

    broker.stop()  # the in-memory broker forgets everything
    fresh = start_broker(host, int(port), scratch_dir / "fresh-broker.log")
    try:
        await ensure_topics(fresh.bootstrap_servers, [TOPIC], 2)
        restarted = OutboxRelay(database_url, "svc", fresh.bootstrap_servers, idle_seconds=0.1)
        stop = asyncio.Event()
        running = asyncio.create_task(restarted.run(stop))
        await _wait_for(lambda: restarted.published_total == 4)
        stop.set()
        await running
        delivered = await read_topic(fresh.bootstrap_servers, TOPIC, expect=4)
    finally:
        fresh.stop()
    assert sorted(d.event_id for d in delivered) == sorted(str(e.event_id) for e in events)


@contextlib.asynccontextmanager
async def _running(relay: OutboxRelay) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


def _empty_broker_instead_of(broker: EmbeddedBroker, log: Path) -> EmbeddedBroker:
    """The broker stops and forgets its log; an empty one takes its port. The relay is not restarted."""
    host, port = broker.bootstrap_servers.split(":")
    broker.stop()
    return start_broker(host, int(port), log)


async def test_a_broker_that_loses_its_log_while_the_relay_runs_gets_everything_again_within_seconds(
    pool: asyncpg.Pool, database_url: str, broker: EmbeddedBroker, scratch_dir: Path
) -> None:
    """The relay is idle when the broker goes: its periodic check notices, not a restart."""
    await ensure_topics(broker.bootstrap_servers, [TOPIC], 2)
    async with pool.acquire() as conn:
        before = await _commit_case_events(conn, "before", 3) + await _commit_case_events(conn, "b2", 2)
    relay = OutboxRelay(
        database_url, "svc", broker.bootstrap_servers, idle_seconds=0.1, log_check_seconds=0.5
    )
    async with _running(relay):
        await _wait_for(lambda: relay.published_total == 5)
        fresh = _empty_broker_instead_of(broker, scratch_dir / "fresh-broker-running.log")
        try:
            await _wait_for(lambda: relay.log_losses[TOPIC] == 1)
            async with pool.acquire() as conn:
                after = await _commit_case_events(conn, "after", 2)
            await _wait_for(lambda: relay.published_total >= 5 + 5 + 2)
            delivered = await read_topic(fresh.bootstrap_servers, TOPIC, expect=7)
        finally:
            fresh.stop()
    assert {d.event_id for d in delivered} == {str(e.event_id) for e in before + after}
    per_case: dict[str, list[str]] = defaultdict(list)
    for message in sorted(delivered, key=lambda d: (d.partition, d.offset)):
        if message.event_id not in per_case[message.key]:
            per_case[message.key].append(message.event_id)
    assert per_case["before"] == [str(e.event_id) for e in before[:3]]  # each case still in its order


async def test_messages_published_to_a_new_log_before_the_check_make_the_relay_send_the_older_ones_again(
    pool: asyncpg.Pool, database_url: str, broker: EmbeddedBroker, scratch_dir: Path
) -> None:
    await ensure_topics(broker.bootstrap_servers, [TOPIC], 1)
    async with pool.acquire() as conn:
        older = await _commit_case_events(conn, "older", 4)
    # A check interval far longer than the test: only the acknowledged offsets can tell.
    relay = OutboxRelay(
        database_url, "svc", broker.bootstrap_servers, idle_seconds=0.1, log_check_seconds=600
    )
    async with _running(relay):
        await _wait_for(lambda: relay.published_total == 4)
        fresh = _empty_broker_instead_of(broker, scratch_dir / "fresh-broker-offsets.log")
        try:
            await ensure_topics(fresh.bootstrap_servers, [TOPIC], 1)
            async with pool.acquire() as conn:
                newer = await _commit_case_events(conn, "newer", 1)  # offset 0 of the new log: below 3
            await _wait_for(lambda: relay.log_losses[TOPIC] == 1)
            delivered = await read_topic(fresh.bootstrap_servers, TOPIC, expect=6)
        finally:
            fresh.stop()
    assert {d.event_id for d in delivered} == {str(e.event_id) for e in older + newer}


async def test_a_broker_that_kept_its_log_gets_nothing_twice(
    pool: asyncpg.Pool, database_url: str, broker: EmbeddedBroker
) -> None:
    await ensure_topics(broker.bootstrap_servers, [TOPIC], 2)
    async with pool.acquire() as conn:
        await _commit_case_events(conn, "kept", 3)
    for _ in range(2):  # a restart of the relay against the same broker
        stop = asyncio.Event()
        relay = OutboxRelay(database_url, "svc", broker.bootstrap_servers, idle_seconds=0.1)
        running = asyncio.create_task(relay.run(stop))
        await asyncio.sleep(1.5)
        stop.set()
        await running
    assert len(await read_topic(broker.bootstrap_servers, TOPIC, expect=3)) == 3


async def test_only_one_relay_per_service_publishes_at_a_time(
    pool: asyncpg.Pool, database_url: str, broker: EmbeddedBroker
) -> None:
    await ensure_topics(broker.bootstrap_servers, [TOPIC], 2)
    stop = asyncio.Event()
    relays = [OutboxRelay(database_url, "svc", broker.bootstrap_servers, idle_seconds=0.1) for _ in range(2)]
    tasks = [asyncio.create_task(r.run(stop)) for r in relays]
    await asyncio.sleep(1.0)
    leaders = [r.is_leader for r in relays]
    stop.set()
    await asyncio.gather(*tasks)
    assert sorted(leaders) == [False, True]


async def test_a_commit_wakes_the_relay_leading_in_its_own_process_directly_and_notifies_only_otherwise(
    pool: asyncpg.Pool, database_url: str, broker: EmbeddedBroker
) -> None:
    await ensure_topics(broker.bootstrap_servers, [TOPIC], 2)
    # Idle passes and log checks a minute apart: only a wake-up makes this relay publish within seconds.
    relay = OutboxRelay(database_url, "svc", broker.bootstrap_servers, idle_seconds=60, log_check_seconds=60)
    channel = notify_channel("svc")
    stores = ServiceStores(pool, "svc", "/test", wake_locally={channel: relay.wake_if_leading})
    listener = await connect(database_url)  # another replica's relay would hear what goes through PostgreSQL
    heard: list[object] = []
    await listener.add_listener(channel, lambda *notified: heard.append(notified))
    stop, running = asyncio.Event(), None
    try:
        async with stores.unit_of_work() as uow:  # the relay is not running, so not leading: NOTIFY
            uow.start_stream("case-a", [case_opened("a")], publish_to=TOPIC)
        await _wait_for(lambda: len(heard) == 1)
        running = asyncio.create_task(relay.run(stop))
        await _wait_for(lambda: relay.published_total == 1)  # its first pass on taking the lead
        async with stores.unit_of_work() as uow:
            uow.start_stream("case-b", [case_opened("b")], publish_to=TOPIC)
        await _wait_for(lambda: relay.published_total == 2, timeout=5)
        await asyncio.sleep(0.3)  # time for a notification, had one been sent, to arrive
        assert len(heard) == 1
    finally:
        stop.set()
        relay.wake_if_leading()  # so that it sees the stop now, not after a minute idle
        if running is not None:
            await running
        await listener.close()


async def test_rows_an_audit_marks_unpublished_below_the_floor_are_sent_again_once_it_says_rewind(
    pool: asyncpg.Pool, database_url: str, broker: EmbeddedBroker
) -> None:
    await ensure_topics(broker.bootstrap_servers, [TOPIC], 2)
    # Idle passes and log checks a minute apart: only a notification makes this relay read again.
    relay = OutboxRelay(database_url, "svc", broker.bootstrap_servers, idle_seconds=60, log_check_seconds=60)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        async with pool.acquire() as conn:
            [first] = await _commit_case_events(conn, "audited", 1)
            await conn.execute("SELECT pg_notify($1, '')", notify_channel("svc"))
            await _wait_for(lambda: relay.published_total == 1)
            for _ in range(3):  # later rows, and passes that move the floor past the first
                await _commit_case_events(conn, "later", 1)
                await conn.execute("SELECT pg_notify($1, '')", notify_channel("svc"))
            await _wait_for(lambda: relay.published_total == 4)
            await conn.execute(
                "UPDATE svc.outbox SET published_at = NULL WHERE message_id = $1", first.event_id
            )
            await conn.execute("SELECT pg_notify($1, $2)", notify_channel("svc"), REWIND)
            await _wait_for(lambda: relay.published_total == 5, timeout=3)
    finally:
        stop.set()
        relay.wake_if_leading()
        await running


async def _wait_for(condition: object, timeout: float = 15) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_a_pass_after_thousands_of_published_rows_reads_only_the_index_past_what_it_published(
    pool: asyncpg.Pool, database_url: str, broker: EmbeddedBroker
) -> None:
    """Published rows keep their entries in the unpublished index until VACUUM. A pass reading from the
    start of it would walk them all; one from the relay's floor reads a page or two, and a position a
    rolled-back transaction took does not hold the floor back."""
    await ensure_topics(broker.bootstrap_servers, [TOPIC], 2)
    async with pool.acquire() as conn:
        rolled_back = conn.transaction()
        await rolled_back.start()
        await _commit_case_events(conn, "given-up", 1)
        await rolled_back.rollback()
        for batch in range(12):
            await _bulk_outbox_rows(conn, f"bulk-{batch}", 500)
    relay = OutboxRelay(database_url, "svc", broker.bootstrap_servers, batch_size=500)
    relay_conn = await connect(database_url)
    producer = new_producer(broker.bootstrap_servers)
    await producer.start()
    try:
        while await relay.publish_pending(relay_conn, producer):
            pass
        async with pool.acquire() as writer:
            await _commit_case_events(writer, "next", 1)
        async with relay_conn.transaction():
            index_blocks = "SELECT pg_stat_get_xact_blocks_fetched('svc.outbox_unpublished'::regclass)"
            before = await relay_conn.fetchval(index_blocks)
            assert await relay.publish_pending(relay_conn, producer) == 1
            read = await relay_conn.fetchval(index_blocks) - before
    finally:
        await producer.stop()
        await relay_conn.close()
    assert relay.published_total == 6001
    assert read <= 3, f"the pass read {read} blocks of the unpublished index"


async def _bulk_outbox_rows(conn: DbConnection, key: str, count: int) -> None:
    messages = [
        OutboxMessage(str(uuid.uuid4()), TOPIC, f"{key}-{i}", {"ce_id": str(i)}, "{}") for i in range(count)
    ]
    await OUTBOX.add(conn, messages)
