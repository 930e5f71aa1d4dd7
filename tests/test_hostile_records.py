"""Hostile records on the topics are dead-lettered at once, never redelivered: deep nesting, a malformed ce_time,
bad UTF-8, text PostgreSQL cannot store, an event from a service that does not own the topic. The inbox is keyed
by source and id, so a forged id cannot make the real message a duplicate; big dead letters are cut."""

from __future__ import annotations

from functools import partial

import asyncpg

from district.registry import load_districts
from eventcore.consumer import InboundMessage, ServiceStores, consume_batch, decode
from eventcore.database import migrate
from eventcore.deadletters import DeadLetters, Rejection
from eventcore.outbox import OutboxMessage
from eventcore.unit_of_work import UnitOfWork
from schemas.topics import CASES, HOTLINE_RAW, JOINT_MEETING
from services.intake.handlers import IntakeContext, handle_raw_hotline_record
from tests.factories import Record, case_opened


def cloudevent(
    topic: str = CASES, source: str = "/caseline/routing", offset: int = 0, **headers: str
) -> Record:
    message = OutboxMessage.for_event(case_opened(f"case-{offset}"), topic=topic, source=source)
    merged = {**message.headers, **headers}
    return Record(topic, 0, offset, [(k, v.encode()) for k, v in merged.items()], message.payload.encode())


async def recorded(uow: UnitOfWork, message: InboundMessage) -> None:
    uow.start_stream(f"seen-{message.cloudevent.source}-{message.cloudevent.id}", [], publish_to=None)


async def _dead_letters(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as conn:
        return [row["reason"] for row in await conn.fetch("SELECT reason FROM svc.dead_letters ORDER BY id")]


def test_every_undecodable_cloudevent_is_a_rejection_never_an_exception() -> None:
    deep = cloudevent()
    deep = Record(deep.topic, 0, 1, deep.headers, b"[" * 100_000 + b"]" * 100_000)
    bad_utf8 = cloudevent()
    bad_utf8 = Record(bad_utf8.topic, 0, 2, bad_utf8.headers, b'{"case_id": "\xff\xfe"}')
    nul = cloudevent()
    nul = Record(nul.topic, 0, 3, nul.headers, nul.value.replace(b'"p-test"', b'"p-\\u0000"'))  # type: ignore[union-attr]
    records = [deep, bad_utf8, nul, cloudevent(ce_time="last tuesday"), cloudevent(JOINT_MEETING)]
    decoded = [decode(r) for r in records]
    assert all(isinstance(d, Rejection) for d in decoded), decoded
    reasons = [d.reason for d in decoded if isinstance(d, Rejection)]
    assert "U+0000" in reasons[2]
    assert "ce_time must be an RFC 3339 timestamp, got 'last tuesday'" in reasons[3]
    assert "ce_source '/caseline/routing' may not publish on caseline.jointmeeting.v1" in reasons[4]


async def test_a_forged_event_is_dead_lettered_and_its_id_does_not_shadow_the_real_one(
    pool: asyncpg.Pool,
) -> None:
    stores = ServiceStores(pool, "svc", "/caseline/sla")
    real = cloudevent(offset=1)
    forged_id = {k: v.decode() for k, v in real.headers}["ce_id"]
    forged = cloudevent(source="/caseline/intake", offset=0, ce_id=forged_id)
    outcome = await consume_batch(stores, [forged, real], recorded)
    assert (outcome.handled, outcome.dead_lettered) == (1, 1)
    [reason] = await _dead_letters(pool)
    assert "may not publish on caseline.cases.v1 (only /caseline/routing)" in reason
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT source FROM svc.inbox") == "/caseline/routing"


async def test_a_deeply_nested_raw_hotline_record_is_dead_lettered_at_once(pool: asyncpg.Pool) -> None:
    stores = ServiceStores(pool, "svc", "/caseline/intake")
    ctx = IntakeContext(load_districts(), pseudonym_secret="s" * 32)
    records = [
        Record(HOTLINE_RAW, 0, 0, [], b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
        Record(HOTLINE_RAW, 0, 1, [], b'{"order_no": "X", "x": ' + b"[" * 40 + b"]" * 40 + b"}"),
    ]
    outcome = await consume_batch(stores, records, partial(handle_raw_hotline_record, ctx), raw=True)
    assert outcome.dead_lettered == 2 and outcome.handled == 0
    reasons = await _dead_letters(pool)
    assert "nested too deeply" in reasons[0] and "nested deeper than 32 levels" in reasons[1]


async def test_a_big_dead_letter_is_kept_truncated_with_its_original_size(pool: asyncpg.Pool) -> None:
    letters = DeadLetters("svc", max_payload_bytes=64 * 1024)
    async with pool.acquire() as conn:
        await letters.add(conn, [Rejection("http", "too big", b"x" * 3_000_000)])
        [kept] = await letters.list(conn)
    assert len(kept.payload) == 64 * 1024
    assert kept.details == {"original_size": 3_000_000, "truncated": True}


async def test_the_inbox_migration_keeps_messages_processed_before_it_known(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        # The inbox as it was: keyed by message id alone, no source.
        await conn.execute("CREATE SCHEMA old")
        await conn.execute(
            "CREATE TABLE old.inbox (message_id text PRIMARY KEY, topic text NOT NULL, "
            "processed_at timestamptz NOT NULL DEFAULT now())"
        )
        await conn.execute(
            "INSERT INTO old.inbox (message_id, topic) VALUES ('m-1', $1), ('raw-1', $2)", CASES, HOTLINE_RAW
        )
    await migrate(pool, "old")
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT message_id, source FROM old.inbox ORDER BY message_id")
        key = await conn.fetchval(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'inbox_pkey' "
            "AND conrelid = 'old.inbox'::regclass"
        )
    assert [(r["message_id"], r["source"]) for r in rows] == [
        ("m-1", "/caseline/routing"),
        ("raw-1", f"kafka:{HOTLINE_RAW}"),
    ]
    assert key == "PRIMARY KEY (source, message_id)"
    stores = ServiceStores(pool, "old", "/caseline/sla")
    again = cloudevent(offset=5, ce_id="m-1")  # the message processed before the upgrade, redelivered
    assert (await consume_batch(stores, [again], recorded)).duplicates == 1
