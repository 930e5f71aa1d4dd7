"""Intake's HTTP channels and topics against a real intake process, real PostgreSQL and a real broker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from caseline.embedded import EmbeddedBroker
from eventcore.outbox import OutboxMessage
from eventcore.store import PendingEvent
from schemas.base import EventMetadata
from schemas.cases import CallbackOutcome, CaseClosed
from schemas.topics import CASES, HOTLINE_RAW
from services.intake.settings import DEVELOPMENT_OPEN311_KEY
from tests.dev_credentials import HOTLINE_PLATFORM, bearer, petition_office, walk_in_desk
from tests.system import RunningSystem

pytestmark = pytest.mark.e2e
NOW = datetime.now(UTC).replace(microsecond=0)


def order(order_no: str, **changes: Any) -> dict[str, Any]:
    return {
        "order_no": order_no,
        "received_at": (NOW - timedelta(hours=1)).isoformat(),
        "caller_name": "李四",
        "caller_phone": "13900001111",
        "kind": "投诉",
        "category": "环境卫生",
        "description": "垃圾桶满了三天没人清运",
        "address": "东街街道丰河华庭3号楼",
        "urgency": "一般",
        **changes,
    }


@pytest.fixture
def intake(database_url: str, broker: EmbeddedBroker, tmp_path: Path) -> Iterator[RunningSystem]:
    running = RunningSystem(database_url, broker, tmp_path / "logs")
    running.start("intake")
    yield running
    running.stop()


def _url(system: RunningSystem, path: str) -> str:
    return f"http://127.0.0.1:{system.ports['intake']}{path}"


async def test_hotline_push_answers_each_record_and_a_redelivered_batch_is_all_duplicates(
    intake: RunningSystem,
) -> None:
    batch = [
        order("PUSH-1"),
        order("PUSH-2", caller_phone="12345", category="城乡建设＞物业管理＞化粪池堵塞", kind="求助类"),
        order("PUSH-3", description="<script>alert(1)</script>"),
        order("PUSH-4", received_at=(NOW + timedelta(days=2)).isoformat()),
        order("PUSH-1"),
        order("PUSH-5", description="", category="城乡建设>物业管理>其他物业问题"),
    ]
    async with httpx.AsyncClient(timeout=30) as client:
        first = await client.post(
            _url(intake, "/v1/hotline/orders"), json={"orders": batch}, headers=HOTLINE_PLATFORM
        )
        again = await client.post(
            _url(intake, "/v1/hotline/orders"), json=batch[:1], headers=HOTLINE_PLATFORM
        )
        broken = await client.post(
            _url(intake, "/v1/hotline/orders"),
            content=b'[{"order_no": ',
            headers={**HOTLINE_PLATFORM, "content-type": "application/json"},
        )
    assert first.status_code == 200
    statuses = [(r["status"], r.get("kind")) for r in first.json()["results"]]
    assert statuses == [
        ("accepted", None),
        ("accepted", None),  # a platform path, a kind in its words and no callback number: read, flagged
        ("rejected", "markup"),
        ("rejected", "future_time"),
        ("duplicate", None),
        ("rejected", "no_problem_stated"),
    ]
    lenient = first.json()["results"][1]
    assert lenient["category"] == "sanitation" and lenient["flags"] == ["no_callback_number"]
    assert first.json()["results"][5]["reason"].startswith("record 6: nothing says what the problem is")
    assert again.json()["results"][0]["status"] == "duplicate"
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "invalid_json"
    assert await intake.scalar("SELECT count(*) FROM intake.events") == 2
    assert await intake.scalar("SELECT count(*) FROM intake.dead_letters") == 4


async def test_without_a_credential_no_complaint_is_written_and_a_cross_site_form_post_is_refused(
    intake: RunningSystem,
) -> None:
    walk_in = {
        "staff_id": "staff-1",
        "registration_no": "SM-NOAUTH-1",
        "visited_at": (NOW - timedelta(minutes=5)).isoformat(),
        "category": "sanitation",
        "description": "楼道垃圾",
    }
    async with httpx.AsyncClient(timeout=30) as client:
        anonymous = [
            await client.post(_url(intake, "/v1/hotline/orders"), json=[order("NOAUTH-1")]),
            await client.post(_url(intake, "/v1/walk-ins"), json=walk_in),
            await client.post(_url(intake, "/v1/petitions"), json={}, headers=bearer("guess-" * 8)),
            # The platform header names nobody: the actor comes from a credential only.
            await client.post(
                _url(intake, "/v1/hotline/orders"),
                json=[order("NOAUTH-2")],
                headers={"X-Hotline-Platform": "12345"},
            ),
            # A desk's token is no hotline platform's.
            await client.post(
                _url(intake, "/v1/hotline/orders"), json=[order("NOAUTH-3")], headers=walk_in_desk()
            ),
        ]
        # What a page elsewhere can send without a preflight: a form post, even with a stolen token.
        form = await client.post(
            _url(intake, "/v1/web/complaints"),
            content=b"phone=13600003333&category=sanitation&description=x",
            headers={"content-type": "application/x-www-form-urlencoded", "Idempotency-Key": "xs-1"},
        )
        plain = await client.post(
            _url(intake, "/v1/walk-ins"),
            content=b"{}",
            headers={**walk_in_desk(), "content-type": "text/plain"},
        )
    assert [a.status_code for a in anonymous] == [401, 401, 401, 401, 403]
    assert anonymous[0].json()["error"]["code"] == "unauthorized"
    assert anonymous[0].headers["www-authenticate"] == "Bearer"
    assert (form.status_code, plain.status_code) == (415, 415)
    assert form.json()["error"]["code"] == "unsupported_media_type"
    assert await intake.scalar("SELECT count(*) FROM intake.events") == 0
    async with httpx.AsyncClient(timeout=30) as client:
        metrics = (await client.get(_url(intake, "/metrics"))).text
    assert 'caseline_auth_failures_total{reason="missing",service="intake"} 3.0' in metrics
    assert 'caseline_auth_failures_total{reason="unknown",service="intake"} 1.0' in metrics
    assert "guess-guess" not in (intake.log_dir / "intake.log").read_text()  # tokens are never logged


async def test_petition_web_and_walk_in_each_become_one_complaint_with_their_own_keys(
    intake: RunningSystem,
) -> None:
    petition = {
        "petition_no": "XF-2026-0042",
        "received_at": (NOW - timedelta(days=1)).isoformat(),
        "form": "letter",
        "petitioner_name": "赵六",
        "petitioner_phone": "13700002222",
        "matter": "小区物业收费不合理，多次反映无果",
        "category": "unreasonable_fees",
        "compound": "丰河华庭",
        "attachments": [{"ref": "doc://xf/2026/0042/letter.pdf", "name": "来信扫描件"}],
        "is_repeat": True,
        "previous_petition_no": "XF-2026-0007",
    }
    web = {"phone": "13600003333", "category": "noise_pollution", "description": "夜间施工噪音扰民"}
    walk_in = {
        "staff_id": "staff-0815",
        "registration_no": "SM-20261125-001",
        "visited_at": (NOW - timedelta(minutes=5)).isoformat(),
        "visitor_phone": "13500004444",
        "kind": "举报",  # no category: the counter did not pick one; intake classifies the description
        "description": "楼道里堆放杂物堵塞消防通道",
        "address": "英雄中路某小区",
    }
    async with httpx.AsyncClient(timeout=30) as client:
        answers = [
            await client.post(_url(intake, "/v1/petitions"), json=petition, headers=petition_office()),
            await client.post(_url(intake, "/v1/petitions"), json=petition, headers=petition_office()),
            await client.post(
                _url(intake, "/v1/web/complaints"), json=web, headers={"Idempotency-Key": "form-1"}
            ),
            await client.post(
                _url(intake, "/v1/web/complaints"), json=web, headers={"Idempotency-Key": "form-1"}
            ),
            await client.post(_url(intake, "/v1/walk-ins"), json=walk_in, headers=walk_in_desk()),
        ]
        changed = await client.post(
            _url(intake, "/v1/web/complaints"),
            json={**web, "description": "夜间施工噪音扰民，已经一周了"},
            headers={"Idempotency-Key": "form-1"},
        )
        no_key = await client.post(_url(intake, "/v1/web/complaints"), json=web)
        invalid = await client.post(
            _url(intake, "/v1/petitions"), json={**petition, "form": "fax"}, headers=petition_office()
        )
        duplicate_keys = await client.post(
            _url(intake, "/v1/walk-ins"),
            content=b'{"staff_id": "a", "staff_id": "b"}',
            headers={**walk_in_desk(), "content-type": "application/json"},
        )
    assert [a.status_code for a in answers] == [201, 200, 201, 200, 201]
    assert [a.json()["status"] for a in answers] == [
        "accepted",
        "duplicate",
        "accepted",
        "duplicate",
        "accepted",
    ]
    assert changed.status_code == 409 and changed.json()["error"]["code"] == "conflict"
    assert no_key.status_code == 400 and no_key.json()["error"]["code"] == "idempotency_key_required"
    assert invalid.status_code == 422 and "field 'form'" in invalid.json()["error"]["message"]
    assert duplicate_keys.status_code == 422 and duplicate_keys.json()["error"]["code"] == "duplicate_key"
    actor = await intake.scalar(
        "SELECT count(*) FROM intake.events WHERE metadata->>'actor' = 'desk-1/staff-0815' "
        "AND data->>'channel' = 'walk_in'"
    )
    assert actor == 1
    classified = await intake.scalar(
        "SELECT count(*) FROM intake.events WHERE data->>'channel' = 'walk_in' AND data->>'category' = 'fire_hazard' "
        "AND data->'category_decision'->>'source' = 'classifier' AND data->>'kind' = 'report'"
    )
    assert classified == 1
    repeat = await intake.scalar(
        "SELECT count(*) FROM intake.events WHERE (data->'channel_details'->>'is_repeat')::boolean "
        "AND data->>'compound_code' IS NOT NULL"
    )
    assert repeat == 1
    assert await intake.scalar("SELECT count(*) FROM intake.dead_letters") == 4
    leaked = await intake.scalar(
        "SELECT count(*) FROM intake.outbox WHERE payload LIKE '%13700002222%' OR payload LIKE '%赵六%'"
    )
    assert leaked == 0


async def test_open311_round_trip_create_read_back_search_and_see_the_case_close(
    intake: RunningSystem,
) -> None:
    base = _url(intake, "/open311/v2")
    form = {
        "api_key": DEVELOPMENT_OPEN311_KEY,
        "service_code": "elevator_equipment",
        "address_string": "丰河华庭5号楼电梯",
        "description": "电梯停在两层之间",
        "attribute[trapped]": "yes",
        "phone": "13800138000",
        "lat": "36.19",
        "long": "113.12",
    }
    async with httpx.AsyncClient(timeout=30) as client:
        services = (await client.get(f"{base}/services.json")).json()
        definition = (await client.get(f"{base}/services/elevator_equipment.json")).json()
        created = await client.post(f"{base}/requests.json", data=form)
        [receipt] = created.json()
        request_id = receipt["service_request_id"]
        one = (await client.get(f"{base}/requests/{request_id}.json")).json()
        by_id = (await client.get(f"{base}/requests.json", params={"service_request_id": request_id})).json()
        start, end = (NOW - timedelta(days=1)).isoformat(), (NOW + timedelta(days=1)).isoformat()
        search = {
            "service_code": "elevator_equipment",
            "status": "open",
            "start_date": start,
            "end_date": end,
        }
        found = (await client.get(f"{base}/requests.json", params=search)).json()
        none_closed = (
            await client.get(f"{base}/requests.json", params={**search, "status": "closed"})
        ).json()
        errors = [
            await client.post(f"{base}/requests.json", data={**form, "api_key": "wrong"}),
            await client.post(
                f"{base}/requests.json", data={k: v for k, v in form.items() if k != "service_code"}
            ),
            await client.post(f"{base}/requests.json", data={**form, "service_code": "traffic"}),
            await client.post(f"{base}/requests.json", data={**form, "attribute[trapped]": "maybe"}),
            await client.get(f"{base}/requests/o311-nope.json"),
            await client.get(f"{base}/requests.json", params={"start_date": "yesterday"}),
        ]
        xml = await client.get(f"{base}/requests/{request_id}.xml")
        keyed = [
            await client.post(f"{base}/requests.json", data=body, headers={"Idempotency-Key": "app-42"})
            for body in (form, form, {**form, "description": "电梯困人"})
        ]
    assert len(services) == 15 and {"service_code", "metadata", "type", "keywords", "group"} <= set(
        services[0]
    )
    assert (
        definition["attributes"][0]["code"] == "trapped" and definition["attributes"][0]["required"] is True
    )
    assert created.status_code == 200 and request_id.startswith("o311-")
    assert one[0]["status"] == "open" and one[0]["service_code"] == "elevator_equipment"
    assert one[0]["lat"] == 36.19 and one[0]["address"] == "丰河华庭5号楼电梯"
    assert by_id == one and [r["service_request_id"] for r in found] == [request_id] and none_closed == []
    assert [e.status_code for e in errors] == [403, 400, 404, 400, 404, 400]
    assert all(isinstance(e.json(), list) and {"code", "description"} == set(e.json()[0]) for e in errors)
    assert ElementTree.fromstring(xml.content).find("request/service_request_id").text == request_id  # type: ignore[union-attr]
    assert keyed[0].json() == keyed[1].json() and keyed[0].status_code == keyed[1].status_code == 200
    assert keyed[2].status_code == 400 and keyed[2].json()[0]["description"].startswith("duplicate request")
    urgent = await intake.scalar("SELECT count(*) FROM intake.events WHERE data->>'urgency' = 'urgent'")
    assert urgent == 2

    case_id = one_case_id = str(await _case_of(intake, request_id))
    await _publish_case_closed(intake, case_id)
    deadline = datetime.now(UTC) + timedelta(seconds=60)
    status = "open"
    async with httpx.AsyncClient(timeout=30) as client:
        while status != "closed" and datetime.now(UTC) < deadline:
            status = (await client.get(f"{base}/requests/{request_id}.json")).json()[0]["status"]
    assert status == "closed", one_case_id


async def test_a_platform_publishing_on_the_raw_topic_gets_complaints_and_its_bad_records_kept(
    intake: RunningSystem,
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=intake.broker.bootstrap_servers)
    await producer.start()
    try:
        unusable = order("RAW-2", category="traffic", description="")  # nothing says what the problem is
        for record in (order("RAW-1"), unusable, order("RAW-3", category="traffic"), order("RAW-1")):
            await producer.send_and_wait(
                HOTLINE_RAW, json.dumps(record, ensure_ascii=False).encode(), key=b"k"
            )
        await producer.send_and_wait(HOTLINE_RAW, b"\xff\xfe not json", key=b"k")
    finally:
        await producer.stop()
    await intake.wait_until(lambda: intake.scalar("SELECT count(*) FROM intake.dead_letters"), 2, timeout=60)
    assert await intake.scalar("SELECT count(*) FROM intake.events") == 2  # RAW-3's unknown label: classified
    kinds = await intake.scalar(
        f"SELECT count(*) FROM intake.dead_letters WHERE source = 'kafka:{HOTLINE_RAW}' "
        "AND reason LIKE '%nothing says what the problem is%'"
    )
    assert kinds == 1


async def _case_of(system: RunningSystem, request_id: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(system.database_url)
    try:
        return str(
            await conn.fetchval("SELECT case_id FROM intake.complaints WHERE source_ref = $1", request_id)
        )
    finally:
        await conn.close()


async def _publish_case_closed(system: RunningSystem, case_id: str) -> None:
    closed = CaseClosed(case_id=case_id, outcome=CallbackOutcome.SATISFIED, reopen_count=0)
    message = OutboxMessage.for_event(
        PendingEvent(closed, EventMetadata(correlation_id=case_id, actor="routing")),
        topic=CASES,
        source="/caseline/routing",
    )
    producer = AIOKafkaProducer(bootstrap_servers=system.broker.bootstrap_servers)
    await producer.start()
    try:
        headers = [(k, v.encode()) for k, v in message.headers.items()]
        await producer.send_and_wait(CASES, message.payload.encode(), key=case_id.encode(), headers=headers)
    finally:
        await producer.stop()


async def test_two_intake_processes_given_the_same_batch_at_once_make_each_complaint_once(
    database_url: str, broker: EmbeddedBroker, tmp_path: Path
) -> None:
    first = RunningSystem(database_url, broker, tmp_path / "first")
    second = RunningSystem(database_url, broker, tmp_path / "second")
    first.start("intake")
    second.start("intake")
    try:
        batch = [order(f"TWICE-{n}", caller_phone=f"1380000{n:04d}") for n in range(200)]
        async with httpx.AsyncClient(timeout=60) as client:
            answers = await asyncio.gather(
                *(
                    client.post(_url(system, "/v1/hotline/orders"), json=part, headers=HOTLINE_PLATFORM)
                    for system in (first, second, second, first)
                    for part in (batch, batch[::-1])
                )
            )
        assert all(answer.status_code == 200 for answer in answers)
        assert sum(answer.json()["accepted"] for answer in answers) == 200
        assert sum(answer.json()["duplicates"] for answer in answers) == 7 * 200
        assert await first.scalar("SELECT count(*) FROM intake.events") == 200
        assert await first.scalar("SELECT count(*) FROM intake.outbox") == 200
    finally:
        first.stop()
        second.stop()
