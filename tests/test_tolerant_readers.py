"""Tolerant readers: during a rolling deploy a newer producer's additive change is handled by a consumer that
does not know it yet, an older schema version is upcast to the version the consumer knows, and a service's
own writes stay strict. Real broker, real PostgreSQL, the real consumer path (decode, inbox, handler, store).
"""

from __future__ import annotations

import json
import typing
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from caseline.embedded import EmbeddedBroker
from district.registry import load_districts
from eventcore.consumer import InboundMessage, ServiceStores, consume_batch, decode
from eventcore.database import create_pool, migrate
from eventcore.deadletters import Rejection
from eventcore.kafka import ensure_topics, new_consumer, new_producer
from eventcore.mapper import EventMapper, default_mapper
from eventcore.outbox import OutboxMessage
from eventcore.store import PendingEvent
from eventcore.unit_of_work import UnitOfWork
from schemas.base import Contract, DomainEvent, EventMetadata
from schemas.bureau import EvidenceRef
from schemas.cases import CallbackOutcome, CaseCalledBack, CaseOpened
from schemas.categorisation import CategoryCandidate, CategoryDecision, CategorySource
from schemas.complaints import ComplaintReceived
from schemas.jointmeeting import LeadDecision, MeetingDecision
from schemas.personal_data import FreeText
from schemas.reference import Bureau, Category
from schemas.sla import ClockKind, ClockMeasure, ClockScope, SlaClockStarted
from schemas.topics import CASES, COMPLAINTS, SLA, TOPIC_SOURCES
from services.routing.adapters.case_view import CaseView
from services.routing.app import EXTRA_DDL, SCHEMA
from services.routing.handlers import RoutingContext, handle_complaints_topic, handle_sla_topic
from tests.factories import Record
from tests.test_case_lifecycle import complaint as complaint_received
from tests.test_case_lifecycle import compound

CTX = RoutingContext(load_districts())
VIEW = CaseView(SCHEMA)
DECISION = CategoryDecision(
    category=Category.SANITATION,
    source=CategorySource.CLASSIFIER,
    confidence=0.81,
    evidence=["垃圾"],
    candidates=[
        CategoryCandidate(category=Category.SANITATION, score=0.81),
        CategoryCandidate(category=Category.PROPERTY_FEES, score=0.12),
    ],
)


@pytest.fixture
async def routing(database_url: str) -> AsyncIterator[ServiceStores]:
    """Routing's stores, as the routing service has them."""
    pool = await create_pool(database_url, max_size=4)
    await migrate(pool, SCHEMA, EXTRA_DDL)
    yield ServiceStores(pool, SCHEMA, "/caseline/routing", projector=VIEW.project)
    await pool.close()


def as_published(event: DomainEvent, topic: str, **added: Any) -> OutboxMessage:
    """The message the topic's owner publishes for this event; `added` is what a newer version of that
    producer writes beside the fields this code knows (a dotted name reaches into a nested object)."""
    pending = PendingEvent(event, EventMetadata(correlation_id=event.case_id, actor="newer-producer"))
    message = OutboxMessage.for_event(pending, topic=topic, source=TOPIC_SOURCES[topic])
    data = json.loads(message.payload)
    for dotted, value in added.items():
        *path, name = dotted.split(".")
        target = data
        for step in path:
            target = target[int(step)] if isinstance(target, list) else target[step]
        target[name] = value
    return replace(message, payload=json.dumps(data, ensure_ascii=False))


def as_record(message: OutboxMessage, offset: int, value: bytes | None = None) -> Record:
    """The message as a consumer record, without a broker (for what `decode` alone decides)."""
    headers = [(k, v.encode()) for k, v in message.headers.items()]
    return Record(message.topic, 0, offset, headers, message.payload.encode() if value is None else value)


async def through_the_broker(bootstrap: str, messages: list[OutboxMessage]) -> list[Any]:
    """Publish the messages, then read them back as the consumer's records (one topic at a time)."""
    [topic] = {m.topic for m in messages}
    await ensure_topics(bootstrap, [topic], 1)
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        for m in messages:
            headers = [(k, v.encode()) for k, v in m.headers.items()]
            await producer.send_and_wait(topic, key=m.key.encode(), value=m.payload.encode(), headers=headers)
    finally:
        await producer.stop()
    consumer = new_consumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        for _ in range(60):
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(batch)
            if len(records) >= len(messages):
                return records
    finally:
        await consumer.stop()
    raise AssertionError(f"only {len(records)} of {len(messages)} records came back from {topic}")


async def test_a_complaint_from_a_newer_intake_with_fields_routing_does_not_know_opens_its_case(
    routing: ServiceStores, broker: EmbeddedBroker
) -> None:
    received = complaint_received(where=compound(), case_id="case-newer").model_copy(
        update={"category_decision": DECISION}
    )
    newer = as_published(
        received,
        COMPLAINTS,
        preferred_language="zh-Hans",
        **{"category_decision.model_family": "bert-zh", "category_decision.candidates.0.rank": 1},
    )
    records = await through_the_broker(broker.bootstrap_servers, [newer])

    outcome = await consume_batch(routing, records, partial(handle_complaints_topic, CTX))

    assert outcome.counts() == {"handled": 1, "duplicate": 0, "ignored": 0, "dead_lettered": 0}
    async with routing.pool.acquire() as conn:
        row = await VIEW.get(conn, "case-newer")
        opened = await conn.fetchval(
            "SELECT data FROM routing.events WHERE event_type = 'CaseOpened' AND subject = 'case-newer'"
        )
        assert await conn.fetchval("SELECT count(*) FROM routing.dead_letters") == 0
    assert row is not None and row["state"] == "routed"
    # Routing's own fact carries the decision as routing knows it: nothing it could not read is passed on.
    assert CategoryDecision.model_validate(opened["category_decision"]) == DECISION


async def test_a_clock_from_a_newer_sla_with_a_field_routing_does_not_know_in_its_scope_is_learnt(
    routing: ServiceStores, broker: EmbeddedBroker
) -> None:
    deadline = datetime.now(UTC) + timedelta(days=3)
    started = SlaClockStarted(
        case_id="case-clock",
        clock_id="case-clock/resolve/0",
        kind=ClockKind.RESOLVE,
        started_at=deadline - timedelta(days=7),
        measure=ClockMeasure.WORKING,
        budget_seconds=5 * 86400,
        deadline=deadline,
        at_risk_at=deadline - timedelta(days=1),
        scope=ClockScope(level="community"),
        policy_rule="ordinary",
        policy_version="2026-11",
    )
    newer = as_published(started, SLA, **{"scope.shift": "night"})  # only inside the nested scope
    records = await through_the_broker(broker.bootstrap_servers, [newer])

    outcome = await consume_batch(routing, records, partial(handle_sla_topic, CTX))

    assert (outcome.handled, outcome.dead_lettered) == (1, 0)
    async with routing.pool.acquire() as conn:
        learnt = await conn.fetchval(
            "SELECT deadline FROM routing.case_clock WHERE clock_id = 'case-clock/resolve/0'"
        )
    assert learnt == deadline


class CallbackWithComplainantWords(DomainEvent):
    """CaseCalledBack as a later version might have it: v1's free `note` became `complainant_said`."""

    event_type = "CaseCalledBack"
    schema_version = 2

    outcome: CallbackOutcome
    complainant_said: FreeText = ""


def note_became_complainant_said(data: dict[str, Any]) -> dict[str, Any]:
    upcast = dict(data)
    upcast["complainant_said"] = upcast.pop("note", "")
    return upcast


# Test-local: the real registry (schemas/upcasters.py) stays as it is.
READS_V2 = EventMapper.of(
    [CallbackWithComplainantWords], {("CaseCalledBack", 1): note_became_complainant_said}
)


async def test_an_older_version_of_a_wanted_event_is_upcast_and_handled_as_the_current_one(
    routing: ServiceStores, broker: EmbeddedBroker
) -> None:
    older = CaseCalledBack(case_id="case-old", outcome=CallbackOutcome.SATISFIED, note="fixed, thank you")
    records = await through_the_broker(broker.bootstrap_servers, [as_published(older, CASES)])
    seen: list[DomainEvent | None] = []

    async def callback_recorded(uow: UnitOfWork, message: InboundMessage) -> None:
        seen.append(message.event)
        uow.start_stream(f"callback-{message.cloudevent.id}", [], publish_to=None)

    wanted = {CallbackWithComplainantWords.cloudevent_type()}
    first = await consume_batch(routing, records, callback_recorded, wanted, mapper=READS_V2)
    again = await consume_batch(routing, records, callback_recorded, wanted, mapper=READS_V2)

    assert (first.handled, first.ignored, first.dead_lettered) == (1, 0, 0)
    assert (again.handled, again.duplicates) == (0, 1)
    assert seen == [
        CallbackWithComplainantWords(
            case_id="case-old", outcome=CallbackOutcome.SATISFIED, complainant_said="fixed, thank you"
        )
    ]


def test_an_upcaster_that_changes_what_it_is_given_leaves_the_stored_data_as_it_was() -> None:
    """A stored event's data is read as it is when no upcasting is needed (no copy); an upcaster is given a
    copy, so one written to change its input in place cannot change what the store read."""

    def renames_in_place(data: dict[str, Any]) -> dict[str, Any]:
        data["complainant_said"] = data.pop("note", "")
        return data

    mapper = EventMapper.of([CallbackWithComplainantWords], {("CaseCalledBack", 1): renames_in_place})
    stored = {"case_id": "case-old", "outcome": "satisfied", "note": "fixed"}

    event = mapper.to_event("CaseCalledBack", 1, stored)

    assert event == CallbackWithComplainantWords(
        case_id="case-old", outcome=CallbackOutcome.SATISFIED, complainant_said="fixed"
    )
    assert stored == {"case_id": "case-old", "outcome": "satisfied", "note": "fixed"}


def test_an_older_version_no_upcaster_lifts_is_not_taken_for_the_wanted_type_and_left_unparsed() -> None:
    message = as_published(CaseCalledBack(case_id="c", outcome=CallbackOutcome.SATISFIED), CASES)
    record = as_record(message, 0, b"not parsed")
    v2 = {CallbackWithComplainantWords.cloudevent_type()}
    assert decode(record, v2, EventMapper.of([CallbackWithComplainantWords])) is None


def test_a_newer_version_of_a_wanted_event_waits_as_a_dead_letter_instead_of_being_skipped() -> None:
    """A producer upgraded before its readers: the reader cannot act on the fact, and must not lose it."""
    pending = PendingEvent(
        CallbackWithComplainantWords(case_id="c", outcome=CallbackOutcome.SATISFIED, complainant_said="ok"),
        EventMetadata(correlation_id="c", actor="newer-routing"),
    )
    message = OutboxMessage.for_event(pending, topic=CASES, source=TOPIC_SOURCES[CASES])
    record = as_record(message, 3)
    rejected = decode(record, {CaseCalledBack.cloudevent_type()})
    assert isinstance(rejected, Rejection), rejected
    assert "caseline.CaseCalledBack.v2 is newer than this consumer reads (v1)" in rejected.reason
    assert decode(record, {CaseOpened.cloudevent_type()}) is None  # a subscriber that never wanted it


def _event_models() -> Iterator[tuple[str, type[BaseModel]]]:
    """Every model reachable from an event on Caseline's topics, by where it is first met."""
    seen: set[type[BaseModel]] = set()
    todo: list[tuple[str, Any]] = [(c.event_type, c) for c in default_mapper().contracts.values()]
    while todo:
        where, annotation = todo.pop()
        if typing.get_origin(annotation) is not None:
            todo.extend((where, arg) for arg in typing.get_args(annotation))
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel) and annotation not in seen:
            seen.add(annotation)
            yield where, annotation
            todo.extend((f"{where}.{n}", f.annotation) for n, f in annotation.model_fields.items())


def test_every_model_inside_an_event_is_a_contract_so_tolerant_reading_reaches_it() -> None:
    plain = [
        f"{where}: {model.__name__}" for where, model in _event_models() if not issubclass(model, Contract)
    ]
    assert not plain, plain
    nested = {model for where, model in _event_models() if "." in where}
    assert {
        CategoryDecision,
        CategoryCandidate,
        ClockScope,
        LeadDecision,
        MeetingDecision,
        EvidenceRef,
    } <= nested


NESTED = [
    (CategoryCandidate, {"category": "sanitation", "score": 0.5}),
    (CategoryDecision, DECISION.model_dump(mode="json")),
    (ClockScope, {"level": "community"}),
    (EvidenceRef, {"kind": "photo", "ref": "doc://1"}),
    (
        LeadDecision,
        {
            "lead_bureau": Bureau.FIRE_RESCUE,
            "member_bureaus": [Bureau.FIRE_RESCUE],
            "decided_by": "2026.11.1/fire",
            "proposed_lead_bureau": None,
            "overrode_proposal": False,
            "reason": "the rule's lead",
        },
    ),
    (
        MeetingDecision,
        {
            "task_id": "t-1",
            "bureau": Bureau.FIRE_RESCUE,
            "action": "clear the corridor",
            "due_at": "2026-12-01T09:00:00+08:00",
            "done_when": "corridor clear",
            "confirms_existing": False,
        },
    ),
]


@pytest.mark.parametrize(("contract", "fields"), NESTED, ids=[c.__name__ for c, _ in NESTED])
def test_a_service_writing_a_field_its_contract_lacks_fails_while_reading_one_ignores_it(
    contract: type[Contract], fields: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        contract(**{**fields, "shift": "night"})  # a producer's typo, or a field it has not got yet
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        contract.model_validate({**fields, "shift": "night"})  # not read as another's: a write
    assert contract.read({**fields, "shift": "night"}) == contract(**fields)


def test_an_event_written_with_a_nested_field_its_contract_lacks_fails() -> None:
    fields = complaint_received(case_id="case-typo").model_dump()
    fields["category_decision"] = {**DECISION.model_dump(), "confidance": 0.9}
    with pytest.raises(ValidationError, match="category_decision.confidance"):
        ComplaintReceived(**fields)
    with pytest.raises(ValidationError, match="preferred_language"):
        ComplaintReceived(
            **{**complaint_received(case_id="case-typo").model_dump(), "preferred_language": "zh"}
        )


def test_a_field_this_version_does_not_know_with_text_postgresql_cannot_store_is_still_refused() -> None:
    """Routing's timeline keeps a fact's data as sent, unknown fields and all: those are walked too."""
    message = as_published(complaint_received(case_id="case-nul"), COMPLAINTS, preferred_language="zh\u0000")
    record = as_record(message, 7)
    rejected = decode(record)
    assert isinstance(rejected, Rejection), rejected
    assert "preferred_language" in rejected.reason and "U+0000" in rejected.reason
