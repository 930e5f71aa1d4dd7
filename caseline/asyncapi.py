"""`python -m caseline.asyncapi`: docs/asyncapi.json, the AsyncAPI 3.0 document of every topic, from the
services' own wiring (FastStream renders it).

What each service receives is its `ServiceSpec.subscriptions`, the very list eventcore.service hands to
FastStream's consumer; what it sends is every topic whose owner (schemas.topics.TOPIC_SOURCES, the source the
consumers check) is that service, with the contracts the topic carries; a CloudEvents message's headers are
the ones eventcore.cloudevents.headers_for writes. So the document cannot describe a subscription, a header
or an event the code does not have: tests/test_asyncapi_drift.py regenerates it and compares.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from uuid import UUID

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from caseline.services import create_service_app
from eventcore.cloudevents import headers_for
from eventcore.service import ServiceSpec, Subscription, group_id
from eventcore.settings import Settings
from schemas.base import EventMetadata
from schemas.bureau import BUREAU_REPORTS, BureauReport
from schemas.cases import CaseClosed
from schemas.hotline import HotlineOrder
from schemas.reference import Channel
from schemas.topics import HOTLINE_RAW, TOPIC_EVENTS, TOPIC_SOURCES
from services import ServiceName

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "asyncapi.json"
# What the headers headers_for writes mean; a header without a line here is still documented, by name.
HEADER_MEANINGS = {
    "ce_specversion": "CloudEvents spec version, 1.0",
    "ce_id": "The event's id (a UUID); consumers drop a second delivery of the same id",
    "ce_source": "The publishing service, /caseline/<service>; consumers refuse any other for the topic",
    "ce_type": "caseline.<EventType>.v<schema version>",
    "ce_time": "When it happened, RFC 3339",
    "ce_subject": "The case id, also the Kafka key",
    "content-type": "application/json: the value is the event's JSON",
    "ce_correlationid": "Shared by every event of one complaint's journey",
    "ce_causationid": "The message or command that caused it",
    "ce_actor": "Who acted: a service name, staff id or bureau code",
    "ce_district": "The district (tenant) the case belongs to",
    "ce_channel": "The intake channel the journey began on",
}
HEADERS_SCHEMA = "CloudEventHeaders"
RAW_DESCRIPTIONS = {
    HOTLINE_RAW: "Work orders a hotline platform publishes as plain JSON (not CloudEvents), one per record.",
    BUREAU_REPORTS: (
        "Member bureaus publish their reports here as plain JSON (no CloudEvents headers needed), keyed by "
        "task id. The joint meeting validates each; an unusable one is dead-lettered with its reason. "
        "Resending the same report_id is harmless."
    ),
}


async def _hotline_order(order: HotlineOrder) -> None:  # documents the payload; never run
    return


async def _bureau_report(report: BureauReport) -> None:  # documents the payload; never run
    return


async def _cloudevent(value: bytes) -> None:  # documents the payload; never run
    return


RAW_PAYLOADS: Mapping[str, Callable[..., Any]] = {HOTLINE_RAW: _hotline_order, BUREAU_REPORTS: _bureau_report}


def service_specs(settings: Settings | None = None) -> dict[str, ServiceSpec]:
    """Each service's spec, as `caseline service NAME` builds it (development settings: no infrastructure)."""
    settings = settings or Settings(env="development")
    return {name.value: create_service_app(name.value, settings).state.runtime.spec for name in ServiceName}


def publisher_of(topic: str) -> str:
    return TOPIC_SOURCES[topic].removeprefix("/caseline/")


def documented_broker(specs: Mapping[str, ServiceSpec]) -> KafkaBroker:
    broker = KafkaBroker("localhost:9092")  # never connected: FastStream reads its subscribers and publishers
    for name, spec in specs.items():
        for subscription in spec.subscriptions:
            broker.subscriber(
                subscription.topic,
                group_id=group_id(name),
                title=f"{subscription.topic}/{name}",
                description=_received(name, subscription),
            )(RAW_PAYLOADS.get(subscription.topic, _cloudevent))
    for topic, events in TOPIC_EVENTS.items():
        for event in events:
            broker.publisher(
                topic,
                title=f"{topic}/{event.cloudevent_type()}",
                description=f"{(event.__doc__ or event.event_type).strip()}\n\nSent by {publisher_of(topic)}.",
                schema=event,
            )
    return broker


def _received(service: str, subscription: Subscription) -> str:
    if subscription.raw:
        return f"{RAW_DESCRIPTIONS.get(subscription.topic, 'Plain records.')}\n\nConsumed by {service}."
    handled = ", ".join(sorted(event.cloudevent_type() for event in subscription.handles))
    return f"Consumed by {service} (consumer group {group_id(service)}), which acts on: {handled}."


def cloudevent_headers() -> dict[str, Any]:
    """JSON Schema of the headers headers_for writes: always the ones of a bare event, optionally the rest."""
    probe = CaseClosed.model_construct(case_id="case")  # any event: headers_for reads its type and subject
    bare_metadata = EventMetadata(correlation_id="c", actor="a")
    full_metadata = EventMetadata(correlation_id="c", causation_id="c", actor="a", channel=Channel.HOTLINE)
    bare, full = (
        headers_for(event_id=UUID(int=0), event=probe, metadata=metadata, source="/caseline/probe")
        for metadata in (bare_metadata, full_metadata)
    )
    return {
        "type": "object",
        "properties": {
            name: {"type": "string", "description": HEADER_MEANINGS.get(name, name)} for name in full
        },
        "required": list(bare),
    }


def asyncapi_document(specs: Mapping[str, ServiceSpec] | None = None) -> dict[str, Any]:
    spec = AsyncAPI(
        documented_broker(specs or service_specs()),
        title="Caseline topics",
        version="1",
        description="What intake, routing, the joint meeting and the SLA watch send and receive; member "
        "bureaus' task and report topics; the hotline platform's work orders.",
    )
    document: dict[str, Any] = json.loads(spec.to_specification().to_json())
    _add_headers(document, cloudevent_topics=[topic for topic, events in TOPIC_EVENTS.items() if events])
    return document


def _add_headers(document: dict[str, Any], cloudevent_topics: Iterable[str]) -> None:
    """FastStream documents payloads only; CloudEvents messages travel with headers_for's headers."""
    topics = set(cloudevent_topics)
    document["components"].setdefault("schemas", {})[HEADERS_SCHEMA] = cloudevent_headers()
    headers = {"$ref": f"#/components/schemas/{HEADERS_SCHEMA}"}
    for channel in document["channels"].values():
        if channel["address"] not in topics:
            continue
        for reference in channel["messages"].values():
            name = reference["$ref"].removeprefix("#/components/messages/")
            document["components"]["messages"][name]["headers"] = headers


def rendered_document() -> str:
    return json.dumps(asyncapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_document() -> bool:
    """Write docs/asyncapi.json; True when it changed."""
    text = rendered_document()
    if DOCUMENT.exists() and DOCUMENT.read_text(encoding="utf-8") == text:
        return False
    DOCUMENT.parent.mkdir(exist_ok=True)
    DOCUMENT.write_text(text, encoding="utf-8")
    return True


def main() -> None:
    print(f"{DOCUMENT}: {'written' if write_document() else 'unchanged'}", file=sys.stderr)


if __name__ == "__main__":
    main()
