"""docs/asyncapi.json is what the services' wiring says, not a hand-kept description of it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from caseline.asyncapi import DOCUMENT, HEADERS_SCHEMA, asyncapi_document, rendered_document, service_specs
from eventcore.service import ServiceSpec, group_id
from schemas.topics import ALL_TOPICS, TOPIC_EVENTS

FIX = "run `.venv/bin/python -m schemas.export` (or `python -m caseline.asyncapi`) and check in docs/asyncapi.json"


@pytest.fixture(scope="module")
def specs() -> dict[str, ServiceSpec]:
    return service_specs()


@pytest.fixture(scope="module")
def document(specs: dict[str, ServiceSpec]) -> dict[str, Any]:
    return asyncapi_document(specs)


def test_the_committed_document_is_the_one_the_code_generates() -> None:
    assert DOCUMENT.read_text(encoding="utf-8") == rendered_document(), FIX


def test_every_topic_is_a_channel(document: dict[str, Any]) -> None:
    assert {channel["address"] for channel in document["channels"].values()} == set(ALL_TOPICS)


def test_cloudevents_messages_carry_the_headers_the_publishers_write_district_included(
    document: dict[str, Any],
) -> None:
    headers = document["components"]["schemas"][HEADERS_SCHEMA]
    assert {"ce_district", "ce_type", "ce_subject", "ce_correlationid"} <= set(headers["properties"])
    assert "ce_district" in headers["required"]
    cloudevent_topics = {topic for topic, events in TOPIC_EVENTS.items() if events}
    for channel in document["channels"].values():
        for reference in channel["messages"].values():
            message = document["components"]["messages"][reference["$ref"].rsplit("/", 1)[-1]]
            carries = message.get("headers") == {"$ref": f"#/components/schemas/{HEADERS_SCHEMA}"}
            assert carries == (channel["address"] in cloudevent_topics), channel["address"]


def test_each_service_is_documented_receiving_exactly_what_it_subscribes_to(
    specs: dict[str, ServiceSpec], document: dict[str, Any]
) -> None:
    received = {
        (channel["address"], channel["description"].split("Consumed by ", 1)[1].split(" ", 1)[0].rstrip("."))
        for channel in document["channels"].values()
        if "Consumed by " in channel.get("description", "")
    }
    subscribed = {(s.topic, name) for name, spec in specs.items() for s in spec.subscriptions}
    assert received == subscribed
    assert all(group_id(name) in json.dumps(document) for name in specs)


def test_every_event_a_topic_carries_is_documented_as_sent_with_its_schema(document: dict[str, Any]) -> None:
    sent = {
        (document["channels"][op["channel"]["$ref"].rsplit("/", 1)[-1]]["address"], op["channel"]["$ref"])
        for op in document["operations"].values()
        if op["action"] == "send"
    }
    expected = {(topic, event.cloudevent_type()) for topic, events in TOPIC_EVENTS.items() for event in events}
    assert {(topic, ref.rsplit("/", 1)[-1].removeprefix(f"{topic}.")) for topic, ref in sent} == expected
