"""How long each service's consumer lets a record wait: on quiet partitions, short where a person waits on
the next step (routing a complaint), longer where nobody does, because on Tansu every idle fetch costs the
broker and the client a round over every partition; batches gathered by the broker where each batch's cost
matters more than a fifth of a second (the SLA watch's clocks, counted from their facts' own times); within a
fetch, what a person waits on first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from caseline.embedded import EmbeddedBroker
from eventcore.consumer import InboundMessage
from eventcore.service import FetchGathering, ServiceSpec, Subscription, build_app, by_subscription
from eventcore.settings import Settings
from eventcore.unit_of_work import UnitOfWork
from schemas.cases import CaseOpened
from schemas.topics import CASES, COMPLAINTS, SLA
from services.intake.app import spec as intake_spec
from services.jointmeeting.app import spec as jointmeeting_spec
from services.routing.app import spec as routing_spec
from services.sla.app import spec as sla_spec
from tests.factories import Record
from tests.sla_support import opened_and_routed, publish
from tests.test_jointmeeting_support import eventually


def consumer_args(service: Any, settings: Settings) -> tuple[dict[str, Any], int]:
    """The client arguments and the poll of the service's one subscriber (FastStream keeps them as given)."""
    spec = jointmeeting_spec() if service is jointmeeting_spec else service(settings=settings)
    [subscriber] = build_app(spec, settings).state.runtime.subscribers
    return subscriber._connection_args, subscriber.batch_timeout_ms


def consumer_waits(service: Any, settings: Settings) -> tuple[int, int]:
    """The fetch wait and poll the service's one subscriber was built with."""
    args, poll = consumer_args(service, settings)
    return args["fetch_max_wait_ms"], poll


def test_routing_takes_a_quiet_partitions_complaint_within_the_settings_wait() -> None:
    settings = Settings()
    args, poll = consumer_args(routing_spec, settings)
    assert args["fetch_max_wait_ms"] == settings.consumer_fetch_wait_ms
    assert poll == settings.consumer_batch_timeout_ms
    assert args["fetch_min_bytes"] == 1  # answered as soon as one record is there


@pytest.mark.parametrize("service", [intake_spec, jointmeeting_spec])
def test_intake_and_the_joint_meeting_whose_records_nobody_waits_on_fetch_ten_times_less_often(service: Any) -> None:
    settings = Settings()
    fetch_wait, poll = consumer_waits(service, settings)
    assert fetch_wait >= 10 * settings.consumer_fetch_wait_ms and poll > settings.consumer_batch_timeout_ms


@pytest.mark.parametrize("service", [sla_spec, intake_spec, jointmeeting_spec])
def test_the_sla_watch_intake_and_the_joint_meeting_take_their_facts_in_batches_the_broker_gathers(
    service: Any,
) -> None:
    """The broker holds a fetch until tens of kilobytes wait, for at most a fifth of a second."""
    args, _ = consumer_args(service, Settings())
    assert args["fetch_min_bytes"] >= 32 * 1024
    assert args["fetch_max_wait_ms"] <= 250


def test_the_sla_watch_takes_a_gathered_batch_as_soon_as_the_broker_answers() -> None:
    """Its poll stays the settings' short one: the gathering is the broker's wait, not one more of ours."""
    settings = Settings()
    assert consumer_waits(sla_spec, settings)[1] == settings.consumer_batch_timeout_ms


def test_an_operators_longer_wait_applies_to_every_consumer() -> None:
    """On Apache Kafka a fetch is answered as records arrive, so a long wait costs no latency there."""
    settings = Settings(consumer_fetch_wait_ms=500)
    for service in (routing_spec, jointmeeting_spec):
        assert consumer_waits(service, settings)[0] == 500


def test_a_fetch_holding_sla_facts_before_complaints_hands_routing_the_complaints_first() -> None:
    fetched = [Record(SLA, 0, 7, [], b"clock"), Record(COMPLAINTS, 3, 1, [], b"a"), Record(SLA, 0, 8, [], b"clock")]
    fetched.append(Record(COMPLAINTS, 3, 2, [], b"b"))
    routing = [s.topic for s in routing_spec(settings=Settings()).subscriptions]

    grouped = by_subscription(fetched, routing)

    assert [(topic, [r.offset for r in records]) for topic, records in grouped] == [(COMPLAINTS, [1, 2]), (SLA, [7, 8])]


async def test_a_trickle_of_case_facts_reaches_a_gathering_consumer_in_a_few_batches_on_the_real_broker(
    database_url: str, broker: EmbeddedBroker
) -> None:
    """Twenty facts 25 ms apart, each answered at once without gathering: the broker holds the fetches, so
    the consumer's batches (one transaction each) hold many of them."""
    batches: list[int] = []

    async def count_batch(uow: UnitOfWork, messages: Sequence[InboundMessage]) -> None:
        batches.append(len(messages))

    async def handle_nothing(uow: UnitOfWork, message: InboundMessage) -> None:
        return None

    settings = Settings.model_validate(
        {"DATABASE_URL": database_url, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers}
    )
    gatherer = ServiceSpec(
        name="gatherer",
        schema="gatherer",
        subscriptions=[Subscription(CASES, handle_nothing, (CaseOpened,), preload=count_batch)],
        gathering=FetchGathering(wait_ms=1000),
    )
    app = build_app(gatherer, settings)
    async with app.router.lifespan_context(app):
        # One fact first, so the trickle finds the consumer fetching rather than starting up.
        await publish(broker.bootstrap_servers, opened_and_routed("WARM-1")[:1])
        await eventually(lambda: _handled(batches, 1))
        batches.clear()
        trickle = [opened_and_routed(f"TRICKLE-{n}")[0] for n in range(20)]
        await publish(broker.bootstrap_servers, trickle, spacing_seconds=0.025)
        await eventually(lambda: _handled(batches, 20))

    assert len(batches) <= 3, batches


async def _handled(batches: list[int], count: int) -> bool:
    return sum(batches) >= count
