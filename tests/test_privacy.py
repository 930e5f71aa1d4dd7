"""Personal data: only known fields reach a topic, contact details in free text are masked on every topic and in
logs, the centre's callback staff read numbers through one logged endpoint, retention purges and a person's
erasure leave nothing to link to."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from caseline.privacy_commands import erase, purge
from district.registry import load_districts
from district.unit_tokens import development_units
from eventcore.auth import Authenticator
from eventcore.consumer import ServiceStores
from eventcore.database import create_pool, migrate
from eventcore.logging import configure_logging, get_logger
from schemas.cases import CaseProgressNoted
from schemas.personal_data import mask_contacts
from services.intake.adapters.credentials import channel_tokens
from services.intake.adapters.hotline_file import FileRecord
from services.intake.adapters.http_common import Channels
from services.intake.adapters.http_contact import contact_router
from services.intake.app import EXTRA_DDL, SCHEMA
from services.intake.handlers import IntakeContext, receive_hotline_records
from services.intake.settings import IntakeSettings
from tests.dev_credentials import unit

DISTRICTS = load_districts()
SECRET = "a-pseudonym-secret-0123456789abcdefghij"
CTX = IntakeContext(DISTRICTS, pseudonym_secret=SECRET)
T0 = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)
PHONE = "13900002222"


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[ServiceStores]:
    pool = await create_pool(database_url, max_size=4)
    await migrate(pool, SCHEMA, EXTRA_DDL)
    yield ServiceStores(pool, SCHEMA, "/caseline/intake")
    await pool.close()


def order(order_no: str, **changes: Any) -> dict[str, Any]:
    return {
        "order_no": order_no,
        "received_at": T0.isoformat(),
        "caller_name": "王五",
        "caller_phone": PHONE,
        "kind": "complaint",
        "category": "sanitation",
        "description": "垃圾没人清运",
        **changes,
    }


async def receive(stores: ServiceStores, *orders: dict[str, Any]) -> None:
    records = [
        FileRecord("hotline-file:p.jsonl", n, json.dumps(o, ensure_ascii=False).encode())
        for n, o in enumerate(orders, start=1)
    ]
    await receive_hotline_records(stores, CTX, records, actor="test")


async def fetch(stores: ServiceStores, sql: str, *args: Any) -> list[dict[str, Any]]:
    async with stores.pool.acquire() as conn:
        return [dict(row) for row in await conn.fetch(sql, *args)]


async def test_only_known_fields_and_masked_free_text_reach_the_topic(stores: ServiceStores) -> None:
    described = "回电请打13800138000，身份证110105199003071234，邮箱 li.si@example.com"
    await receive(stores, order("P-1", description=described, 身份证号="110105199003071234", id_card="x"))
    [message] = await fetch(stores, "SELECT payload FROM intake.outbox")
    [raw] = await fetch(stores, "SELECT raw FROM intake.complaints")
    data = json.loads(message["payload"])
    assert data["description"] == "回电请打138****8000，身份证110*************34，邮箱 l***@example.com"
    assert "身份证号" not in data["original"] and "id_card" not in data["original"]
    assert (
        data["original"]["description"] == data["description"]
        and data["original"]["caller_phone"] == "139****2222"
    )
    for secret in ("13800138000", "110105199003071234", "li.si@example.com", PHONE, "王五"):
        assert secret not in message["payload"]
    assert b"110105199003071234" in raw["raw"]  # the record as sent stays in intake's own store only


def test_a_case_note_is_masked_on_the_event_itself_and_log_lines_are_masked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    note = CaseProgressNoted(
        case_id="c", unit_code="ST01", note="业主电话 0355-2123456 已联系", photo_refs=[]
    )
    assert note.note == "业主电话 0355-***3456 已联系"
    assert mask_contacts(note.note) == note.note  # idempotent: reading it back changes nothing
    configure_logging("test", json=True)
    get_logger("test").warning("record_refused", reason=f"caller {PHONE} wrote zhang@example.com")
    logged = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert logged["reason"] == "caller 139****2222 wrote z***@example.com"


def callback_api(stores: ServiceStores) -> httpx.AsyncClient:
    app = FastAPI()
    tokens = channel_tokens(DISTRICTS, IntakeSettings(), None).merged(development_units(DISTRICTS))
    app.include_router(contact_router(Channels(CTX, auth=Authenticator("intake", tokens))))
    app.state.runtime = SimpleNamespace(stores=stores)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake")


async def test_the_centres_callback_staff_read_a_number_and_every_read_is_logged(
    stores: ServiceStores,
) -> None:
    await receive(stores, order("P-2"))
    [row] = await fetch(stores, "SELECT case_id FROM intake.complaints")
    path = f"/v1/cases/{row['case_id']}/complainants"
    async with callback_api(stores) as api:
        centre = await api.get(path, headers={**unit("centre"), "X-Staff-Id": "hui.fang"})
        street = await api.get(path, headers=unit("ST01"))
        other = await api.get(path, headers=unit("centre", "shangdang"))
        nobody = await api.get(path)
    assert centre.status_code == 200 and centre.headers["cache-control"] == "no-store"
    [person] = centre.json()["complainants"]
    assert (person["name"], person["phone"]) == ("王五", PHONE)
    assert (street.status_code, other.status_code, nobody.status_code) == (403, 404, 401)
    [logged] = await fetch(stores, "SELECT * FROM intake.contact_access_log")
    assert (logged["principal"], logged["staff_id"], logged["purpose"]) == (
        "unit:luzhou/centre",
        "hui.fang",
        "callback",
    )
    assert logged["complainant_id"] == person["complainant_id"] and logged["case_id"] == row["case_id"]


async def test_erasure_removes_a_persons_data_and_their_next_complaint_is_unlinkable(
    stores: ServiceStores, database_url: str
) -> None:
    await receive(stores, order("P-3"), order("P-4", caller_phone="13700001111"))
    # No order number, so no identity to dedupe by: refused, a dead letter holding the number.
    await receive(stores, {**order("BAD"), "order_no": ""})
    before = {r["source_ref"]: r for r in await _people(stores)}
    removed = await erase(database_url, DISTRICTS, SECRET, phone=f"+86 {PHONE}", email=None)
    assert (removed.people, removed.raw_records, removed.dead_letters) == (1, 1, 1)
    people = await fetch(stores, "SELECT caller_phone FROM intake.complainants")
    assert [p["caller_phone"] for p in people] == ["13700001111"]  # the other complainant is untouched
    [raw] = await fetch(stores, "SELECT raw, purged_at FROM intake.complaints WHERE source_ref = 'P-3'")
    assert raw["raw"] == b"" and raw["purged_at"] is not None
    await receive(stores, order("P-5"))
    after = {r["source_ref"]: r for r in await _people(stores)}
    assert after["P-5"]["complainant_id"] != before["P-3"]["complainant_id"]
    await receive(
        stores, order("P-6")
    )  # after the erasure the person is recognisable again, under the new name
    assert {r["source_ref"]: r for r in await _people(stores)}["P-6"]["complainant_id"] == after["P-5"][
        "complainant_id"
    ]
    [action] = await fetch(stores, "SELECT action, details FROM intake.privacy_actions")
    assert action["action"] == "erase" and PHONE not in json.dumps(action["details"])


async def test_retention_purges_people_whose_cases_closed_long_ago_and_keeps_the_rest(
    stores: ServiceStores, database_url: str
) -> None:
    await receive(stores, order("OLD"), order("OPEN", caller_phone="13700001111"))
    async with stores.pool.acquire() as conn:
        await conn.execute(
            "UPDATE intake.cases SET status = 'closed', updated_at = $1 WHERE case_id = "
            "(SELECT case_id FROM intake.complaints WHERE source_ref = 'OLD')",
            T0 - timedelta(days=400),
        )
    removed = await purge(database_url, retention_days=365, now=T0)
    assert (removed.people, removed.raw_records) == (1, 1)
    people = await fetch(stores, "SELECT caller_phone FROM intake.complainants")
    assert [p["caller_phone"] for p in people] == ["13700001111"]
    events = await fetch(stores, "SELECT count(*) AS n FROM intake.events")
    assert events[0]["n"] == 2  # the history stays: pseudonyms and masked numbers only


async def _people(stores: ServiceStores) -> list[dict[str, Any]]:
    return await fetch(
        stores,
        "SELECT c.source_ref, e.data->>'complainant_id' AS complainant_id FROM intake.complaints c "
        "JOIN intake.events e ON e.stream_id = 'complaint-' || c.complaint_id",
    )
