"""Intake serves several districts: each record is placed in the district it names (所属区), resolved in that
district's directory, deduplicated and merged within it, and an unknown district is refused and kept."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from district.directory import Compound
from district.registry import load_districts
from eventcore.auth import Authenticator
from eventcore.consumer import ServiceStores, consume_batch
from eventcore.database import create_pool, migrate
from eventcore.deadletters import Rejection
from schemas.reference import FOUNDING_DISTRICT
from schemas.topics import HOTLINE_RAW
from services.intake.adapters.credentials import Open311Keys, channel_tokens
from services.intake.adapters.hotline_file import FileRecord, parse_record
from services.intake.adapters.http_channels import channel_router
from services.intake.adapters.http_common import Channels
from services.intake.adapters.http_hotline import hotline_router
from services.intake.adapters.open311 import open311_router
from services.intake.app import EXTRA_DDL, SCHEMA
from services.intake.domain.complaints import case_id_for
from services.intake.domain.merge import MergePolicy
from services.intake.handlers import (
    IntakeContext,
    Outcome,
    Status,
    feed_hotline_file,
    handle_raw_hotline_record,
    hotline_submission,
    receive_hotline_records,
)
from services.intake.replaying import replay
from services.intake.settings import DEVELOPMENT_OPEN311_KEY, IntakeSettings
from tests.dev_credentials import HOTLINE_PLATFORM, petition_office, walk_in_desk
from tests.factories import Record
from tests.test_intake_feed import caseline

DISTRICTS = load_districts()
LUZHOU = DISTRICTS.founding
SHANGDANG = DISTRICTS.get("shangdang")
CTX = IntakeContext(DISTRICTS, "secret")
MERGING = IntakeContext(DISTRICTS, "secret", merge=MergePolicy(timedelta(hours=48)))
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _shared_compound_name() -> tuple[Compound, Compound]:
    """A compound name both districts have, under different codes: only the district tells them apart."""
    luzhou = {c.name_zh: c for c in LUZHOU.directory.compounds}
    for compound in SHANGDANG.directory.compounds:
        twin = luzhou.get(compound.name_zh)
        if twin is not None and twin.code != compound.code:
            return compound, twin
    raise AssertionError("the two directories share no compound name under different codes")


SHARED_IN_SHANGDANG, SHARED_IN_LUZHOU = _shared_compound_name()


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[ServiceStores]:
    pool = await create_pool(database_url, max_size=6)
    await migrate(pool, SCHEMA, EXTRA_DDL)
    yield ServiceStores(pool, SCHEMA, "/caseline/intake")
    await pool.close()


def order(order_no: str, hours: float = 0, **changes: Any) -> dict[str, Any]:
    return {
        "order_no": order_no,
        "received_at": (T0 + timedelta(hours=hours)).isoformat(),
        "caller_name": "王五",
        "caller_phone": "13900002222",
        "kind": "complaint",
        "category": "elevator_equipment",
        "description": "电梯又坏了",
        "compound": SHARED_IN_SHANGDANG.name_zh,
        **changes,
    }


def record(line: int, data: dict[str, Any]) -> FileRecord:
    return FileRecord("hotline-file:d.jsonl", line, json.dumps(data, ensure_ascii=False).encode())


async def receive(stores: ServiceStores, *orders: dict[str, Any], ctx: IntakeContext = CTX) -> list[Outcome]:
    records = [record(n, data) for n, data in enumerate(orders, start=1)]
    _, outcomes = await receive_hotline_records(stores, ctx, records, actor="test")
    return outcomes


async def first_events(stores: ServiceStores) -> dict[str, dict[str, Any]]:
    """complaint id -> its event's data and metadata, and the district header of its outbox message."""
    async with stores.pool.acquire() as conn:
        rows = await conn.fetch(
            f"SELECT e.data, e.metadata, o.headers FROM {SCHEMA}.events e "
            f"JOIN {SCHEMA}.outbox o ON o.message_id = e.event_id"
        )
    return {
        row["data"]["complaint_id"]: {**row["data"], "meta": row["metadata"], "headers": row["headers"]}
        for row in rows
    }


def intake_http(stores: ServiceStores, ctx: IntakeContext = CTX) -> httpx.AsyncClient:
    """Intake's HTTP channels in process, against the real database (no broker needed to receive)."""
    app = FastAPI()
    intake = IntakeSettings()
    channels = Channels(
        ctx,
        auth=Authenticator("intake", channel_tokens(ctx.districts, intake, None)),
        open311=Open311Keys.configured(intake, None),
    )
    for router in (hotline_router(channels), channel_router(channels), open311_router(channels)):
        app.include_router(router)
    app.state.runtime = SimpleNamespace(stores=stores)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake")


# -- placing a record in its district -------------------------------------------------------------------


async def test_shangdang_hotline_order_resolves_its_compound_in_shangdangs_directory(
    stores: ServiceStores,
) -> None:
    in_shangdang, in_luzhou = await receive(stores, order("123", district=SHANGDANG.name_zh), order("124"))
    events = await first_events(stores)
    shangdang = events[f"{SHANGDANG.id_prefix}hotline:123"]
    luzhou = events["hotline:124"]
    assert in_shangdang.complaint_id == "shangdang/hotline:123" and in_luzhou.complaint_id == "hotline:124"
    assert in_shangdang.case_id == case_id_for("shangdang/hotline:123")
    assert (shangdang["district"], shangdang["compound_code"]) == ("shangdang", SHARED_IN_SHANGDANG.code)
    assert (luzhou["district"], luzhou["compound_code"]) == (FOUNDING_DISTRICT, SHARED_IN_LUZHOU.code)
    assert shangdang["street_code"] == SHARED_IN_SHANGDANG.street_code
    assert shangdang["meta"]["district"] == "shangdang" and luzhou["meta"]["district"] == FOUNDING_DISTRICT
    assert shangdang["headers"]["ce_district"] == "shangdang"


async def test_a_district_is_found_by_its_code_its_chinese_name_or_its_short_name(
    stores: ServiceStores,
) -> None:
    short = SHANGDANG.name_zh.removesuffix("区")
    outcomes = await receive(
        stores,
        order("A-1", district=SHANGDANG.code),
        order("A-2", district=SHANGDANG.name_zh),
        order("A-3", district=short),
        order("A-4", district=LUZHOU.name_zh),
        order("A-5", district=""),
    )
    assert [o.status for o in outcomes] == [Status.ACCEPTED] * 5
    assert [o.complaint_id for o in outcomes] == [
        "shangdang/hotline:A-1",
        "shangdang/hotline:A-2",
        "shangdang/hotline:A-3",
        "hotline:A-4",
        "hotline:A-5",
    ]


async def test_a_shangdang_intake_places_records_that_name_no_district_in_shangdang(
    stores: ServiceStores,
) -> None:
    shangdang_intake = IntakeContext(DISTRICTS, "secret", default_district="shangdang")
    [unnamed, named] = await receive(
        stores, order("B-1"), order("B-2", district=LUZHOU.code), ctx=shangdang_intake
    )
    assert unnamed.complaint_id == "shangdang/hotline:B-1" and named.complaint_id == "hotline:B-2"


async def test_a_csv_export_with_a_district_column_places_each_row_in_its_district(
    stores: ServiceStores, tmp_path: Path
) -> None:
    rows = [
        "工单编号,来电时间,联系电话,诉求类型,问题分类,问题描述,所属小区,所属区",
        f"C-1,2026-11-20 09:00,13900000001,投诉,电梯特种设备,电梯坏了,{SHARED_IN_SHANGDANG.name_zh},{SHANGDANG.name_zh}",
        f"C-2,2026-11-20 09:05,13900000002,投诉,电梯特种设备,电梯坏了,{SHARED_IN_SHANGDANG.name_zh},",
        f"C-3,2026-11-20 09:10,13900000003,投诉,电梯特种设备,电梯坏了,{SHARED_IN_SHANGDANG.name_zh},{LUZHOU.name_zh}",
        "C-4,2026-11-20 09:15,13900000004,投诉,电梯特种设备,电梯坏了,某小区,黎城区",
    ]
    export = tmp_path / "orders.csv"
    export.write_bytes("\n".join(rows).encode("gb18030") + b"\n")
    summary = await feed_hotline_file(stores, CTX, export)
    events = await first_events(stores)
    assert summary.accepted == 3 and summary.rejected == {"unknown_district": 1}
    assert events["shangdang/hotline:C-1"]["compound_code"] == SHARED_IN_SHANGDANG.code
    assert events["hotline:C-2"]["compound_code"] == SHARED_IN_LUZHOU.code
    assert events["hotline:C-3"]["district"] == FOUNDING_DISTRICT
    [refused] = summary.rejections
    assert refused.source_ref == "line 5" and "所属区" in refused.reason


# -- ids, dedupe and personal data are per district -------------------------------------------------------


async def test_same_petition_number_in_two_districts_is_two_complaints(stores: ServiceStores) -> None:
    petition = {
        "petition_no": "XF-2026-0042",
        "form": "letter",
        "received_at": T0.isoformat(),
        "petitioner_name": "赵六",
        "petitioner_phone": "13700001111",
        "category": "unreasonable_fees",
        "matter": "物业费涨价未公示",
        "compound": SHARED_IN_SHANGDANG.name_zh,
    }
    async with intake_http(stores) as client:
        luzhou = await client.post("/v1/petitions", json=petition, headers=petition_office())
        shangdang = await client.post(
            "/v1/petitions",
            json={**petition, "district": SHANGDANG.code},
            headers=petition_office(SHANGDANG.code),
        )
        again = await client.post(
            "/v1/petitions",
            json={**petition, "district": SHANGDANG.name_zh},
            headers=petition_office(SHANGDANG.code),
        )
        outside = await client.post(
            "/v1/petitions", json={**petition, "district": SHANGDANG.code}, headers=petition_office()
        )
    # A Luzhou petition office's token does not file Shangdang petitions.
    assert outside.status_code == 403 and outside.json()["error"]["code"] == "outside_district"
    assert (luzhou.status_code, shangdang.status_code, again.status_code) == (201, 201, 200)
    assert luzhou.json()["complaint_id"] == "petition:XF-2026-0042"
    assert shangdang.json()["complaint_id"] == "shangdang/petition:XF-2026-0042"
    assert luzhou.json()["case_id"] != shangdang.json()["case_id"]
    assert again.json()["status"] == "duplicate" and again.json()["case_id"] == shangdang.json()["case_id"]
    async with stores.pool.acquire() as conn:
        people = await conn.fetch(f"SELECT complainant_id, district FROM {SCHEMA}.complainants")
    events = await first_events(stores)
    # The same petitioner has a record, and a pseudonym, in each district: no linking across districts.
    assert sorted(p["district"] for p in people) == ["luzhou", "shangdang"]
    pseudonyms = {e["district"]: e["complainant_id"] for e in events.values()}
    assert pseudonyms["luzhou"] != pseudonyms["shangdang"]


async def test_same_walk_in_registration_number_in_two_districts_is_two_complaints(
    stores: ServiceStores,
) -> None:
    visit = {
        "registration_no": "SM-7",
        "staff_id": "staff-3",
        "visited_at": T0.isoformat(),
        "visitor_phone": "13600001111",
        "category": "sanitation",
        "description": "楼道垃圾",
    }
    async with intake_http(stores) as client:
        answers = [
            await client.post(
                "/v1/walk-ins",
                json={**visit, "district": district},
                headers=walk_in_desk(district or "luzhou"),
            )
            for district in ("", SHANGDANG.code, "")
        ]
    assert [a.status_code for a in answers] == [201, 201, 200]
    assert [a.json()["complaint_id"] for a in answers] == [
        "walk_in:SM-7",
        "shangdang/walk_in:SM-7",
        "walk_in:SM-7",
    ]


async def test_an_old_record_naming_no_district_still_dedupes_against_the_founding_districts_id(
    database_url: str,
) -> None:
    """A database from before tenancy: its tables are upgraded in place and its complaints keep their ids."""
    old = order("OLD-1", compound=SHARED_IN_LUZHOU.name_zh)
    pool = await create_pool(database_url, max_size=4)
    try:
        await migrate(pool, SCHEMA, PRE_TENANCY_DDL)
        await _insert_pre_tenancy_complaint(pool, old)
        await migrate(pool, SCHEMA, EXTRA_DDL)
        stores = ServiceStores(pool, SCHEMA, "/caseline/intake")
        outcomes = await receive(
            stores,
            old,
            {**old, "district": LUZHOU.name_zh},  # the same record, now naming its district
            order("NEW-1", hours=2, compound=SHARED_IN_LUZHOU.name_zh),  # a neighbour: joins the old case
            order("NEW-2", hours=2, compound=SHARED_IN_LUZHOU.code, district=SHANGDANG.code),
            ctx=MERGING,
        )
    finally:
        await pool.close()
    old_case = case_id_for("hotline:OLD-1")
    assert [(o.status, o.complaint_id, o.case_id) for o in outcomes[:3]] == [
        (Status.DUPLICATE, "hotline:OLD-1", old_case),
        (Status.DUPLICATE, "hotline:OLD-1", old_case),
        (Status.MERGED, "hotline:NEW-1", old_case),
    ]
    assert outcomes[3].status is Status.ACCEPTED and outcomes[3].case_id != old_case


# -- merging stays within a district ----------------------------------------------------------------------


async def test_merge_never_links_complaints_of_two_districts(stores: ServiceStores) -> None:
    code = SHARED_IN_SHANGDANG.code  # the same compound code names a compound in each district
    luzhou, shangdang, shangdang_neighbour, luzhou_neighbour = await receive(
        stores,
        order("M-1", compound=code),
        order("M-2", hours=1, compound=code, district=SHANGDANG.code),
        order("M-3", hours=2, compound=code, district=SHANGDANG.name_zh),
        order("M-4", hours=3, compound=code),
        ctx=MERGING,
    )
    assert [luzhou.status, shangdang.status] == [Status.ACCEPTED, Status.ACCEPTED]
    assert luzhou.case_id != shangdang.case_id
    assert shangdang_neighbour.status is Status.MERGED and shangdang_neighbour.case_id == shangdang.case_id
    assert luzhou_neighbour.status is Status.MERGED and luzhou_neighbour.case_id == luzhou.case_id
    async with stores.pool.acquire() as conn:
        cases = await conn.fetch(f"SELECT district, complainant_count FROM {SCHEMA}.cases ORDER BY district")
    assert [(c["district"], c["complainant_count"]) for c in cases] == [("luzhou", 2), ("shangdang", 2)]


# -- an unknown district is refused, kept and replayable ---------------------------------------------------


async def test_unknown_district_is_dead_lettered_with_the_known_districts(stores: ServiceStores) -> None:
    [outcome] = await receive(stores, order("U-1", district="黎城区"))
    async with stores.pool.acquire() as conn:
        [letter] = await stores.dead_letters.list(conn)
    assert outcome.status is Status.REJECTED and outcome.kind == "unknown_district"
    assert letter.details["kind"] == "unknown_district" and letter.source_ref == "line 1"
    assert "field 'district' (所属区)" in letter.reason and "黎城区" in letter.reason
    assert all(code in letter.reason for code in DISTRICTS.codes)
    assert json.loads(letter.payload)["district"] == "黎城区"  # the bytes as sent

    fixed = json.dumps(order("U-1", district=SHANGDANG.name_zh), ensure_ascii=False).encode()
    replayed = await replay(stores, CTX, letter, fixed)
    assert replayed.status is Status.ACCEPTED and replayed.complaint_id == "shangdang/hotline:U-1"


async def test_an_unknown_district_on_the_raw_topic_is_dead_lettered_and_the_rest_received(
    stores: ServiceStores,
) -> None:
    records = [
        Record(HOTLINE_RAW, 0, n, [], json.dumps(data, ensure_ascii=False).encode())
        for n, data in enumerate([order("R-1", district="黎城"), order("R-2", district=SHANGDANG.code)])
    ]
    await consume_batch(stores, records, partial(handle_raw_hotline_record, CTX), raw=True)
    async with stores.pool.acquire() as conn:
        [letter] = await stores.dead_letters.list(conn)
    assert list(await first_events(stores)) == ["shangdang/hotline:R-2"]
    assert letter.source == f"kafka:{HOTLINE_RAW}" and "this deployment serves" in letter.reason
    replayed = await replay(stores, CTX, letter, json.dumps(order("R-1", district=SHANGDANG.code)).encode())
    assert replayed.complaint_id == "shangdang/hotline:R-1"


async def test_a_hotline_push_answers_an_unknown_district_record_on_its_own_and_takes_the_rest(
    stores: ServiceStores,
) -> None:
    batch = [order("P-1", district=SHANGDANG.code), order("P-2", district="黎城区"), order("P-3")]
    async with intake_http(stores) as client:
        answer = await client.post("/v1/hotline/orders", json=batch, headers=HOTLINE_PLATFORM)
    results = answer.json()["results"]
    assert answer.status_code == 200
    assert [(r["status"], r.get("complaint_id")) for r in results] == [
        ("accepted", "shangdang/hotline:P-1"),
        ("rejected", None),
        ("accepted", "hotline:P-3"),
    ]
    assert results[1]["kind"] == "unknown_district" and results[1]["reason"].startswith(
        "record 2: field 'district' (所属区): unknown district '黎城区'"
    )


async def test_an_http_complaint_naming_an_unknown_district_is_refused_with_422_and_kept(
    stores: ServiceStores,
) -> None:
    complaint = {"phone": "13600000000", "category": "sanitation", "description": "脏", "district": "黎城区"}
    async with intake_http(stores) as client:
        answer = await client.post(
            "/v1/web/complaints", json=complaint, headers={"Idempotency-Key": "form-1"}
        )
    async with stores.pool.acquire() as conn:
        [letter] = await stores.dead_letters.list(conn)
    error = answer.json()["error"]
    assert answer.status_code == 422 and error["code"] == "unknown_district"
    assert error["message"].startswith("field 'district': unknown district '黎城区'")
    assert error["known_districts"] == list(DISTRICTS.codes)
    assert letter.source == "web-http" and letter.details["kind"] == "unknown_district"


# -- Open311: the jurisdiction is the district -------------------------------------------------------------


async def test_open311_jurisdiction_selects_the_district(stores: ServiceStores) -> None:
    form = {
        "api_key": DEVELOPMENT_OPEN311_KEY,
        "service_code": "sanitation",
        "address_string": f"{SHARED_IN_SHANGDANG.name_zh}1号楼门口",
        "description": "垃圾堆了三天",
    }
    base = "/open311/v2"
    async with intake_http(stores) as client:
        services = (await client.get(f"{base}/services.json", params={"jurisdiction_id": "shangdang"})).json()
        unknown = await client.get(f"{base}/services.json", params={"jurisdiction_id": "licheng"})
        legacy = await client.get(
            f"{base}/services.json", params={"jurisdiction_id": "luzhou.changzhi.sx.cn"}
        )
        [created] = (
            await client.post(f"{base}/requests.json", data={**form, "jurisdiction_id": "shangdang"})
        ).json()
        request_id = created["service_request_id"]
        in_shangdang = await client.get(
            f"{base}/requests/{request_id}.json", params={"jurisdiction_id": "shangdang"}
        )
        in_default = await client.get(f"{base}/requests/{request_id}.json")
        searched = {
            jurisdiction: (
                await client.get(f"{base}/requests.json", params={"jurisdiction_id": jurisdiction})
            ).json()
            for jurisdiction in ("shangdang", "luzhou")
        }
        bad_post = await client.post(f"{base}/requests.json", data={**form, "jurisdiction_id": "licheng"})
    events = await first_events(stores)
    [complaint] = events.values()
    assert len(services) == 15 and SHANGDANG.name_zh in services[0]["description"]
    assert unknown.status_code == 404 and "shangdang" in unknown.json()[0]["description"]
    assert legacy.status_code == 200
    assert complaint["district"] == "shangdang" and complaint["compound_code"] == SHARED_IN_SHANGDANG.code
    assert complaint["complaint_id"] == f"shangdang/web:{request_id}"
    assert in_shangdang.status_code == 200 and in_shangdang.json()[0]["service_request_id"] == request_id
    assert in_default.status_code == 404  # the founding district has no such request
    assert [r["service_request_id"] for r in searched["shangdang"]] == [request_id]
    assert searched["luzhou"] == []
    assert bad_post.status_code == 404 and bad_post.json()[0]["code"] == 404


# -- the operator's feed -----------------------------------------------------------------------------------


async def test_a_feed_run_for_shangdang_upgrades_an_old_database_and_places_unnamed_records_there(
    database_url: str, tmp_path: Path
) -> None:
    pool = await create_pool(database_url, max_size=2)
    try:
        await migrate(pool, SCHEMA, PRE_TENANCY_DDL)  # intake's tables as a pre-tenancy feed left them
    finally:
        await pool.close()
    export = tmp_path / "shangdang.jsonl"
    lines = [order("F-1"), order("F-2", district=LUZHOU.name_zh)]
    export.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in lines), encoding="utf-8")

    unknown = caseline(
        database_url, "feed", "hotline", str(export), "--no-check-future", "--district", "licheng"
    )
    fed = caseline(
        database_url, "feed", "hotline", str(export), "--no-check-future", "--district", "shangdang"
    )

    assert unknown.returncode == 2 and "this deployment serves luzhou, shangdang" in unknown.stdout
    assert fed.returncode == 0, fed.stdout + fed.stderr
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(f"SELECT complaint_id, district FROM {SCHEMA}.complaints ORDER BY 1")
    finally:
        await conn.close()
    assert [(r["complaint_id"], r["district"]) for r in rows] == [
        ("hotline:F-2", "luzhou"),
        ("shangdang/hotline:F-1", "shangdang"),
    ]


# -- a database from before tenancy ------------------------------------------------------------------------

# Intake's tables as they were before Caseline served several districts (the in-place upgrade starts here).
PRE_TENANCY_DDL = (
    """
CREATE TABLE IF NOT EXISTS {s}.complainants (
    complainant_id text PRIMARY KEY,
    caller_name text NOT NULL,
    caller_phone text NOT NULL,
    first_seen_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.complaints (
    complaint_id text PRIMARY KEY,
    case_id text NOT NULL,
    channel text NOT NULL,
    source_ref text NOT NULL,
    category text NOT NULL,
    received_at timestamptz NOT NULL,
    merged boolean NOT NULL DEFAULT false,
    raw bytea NOT NULL,
    content_hash text,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS complaints_by_channel ON {s}.complaints (channel, received_at);
CREATE TABLE IF NOT EXISTS {s}.cases (
    case_id text PRIMARY KEY,
    compound_code text,
    category text NOT NULL,
    first_received_at timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'open',
    complainant_count integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS cases_open_by_key ON {s}.cases (compound_code, category, first_received_at)
    WHERE status = 'open';
""",
)


async def _insert_pre_tenancy_complaint(pool: Any, data: dict[str, Any]) -> None:
    """The claim and open case a pre-tenancy intake left for this work order (no district anywhere)."""
    line = record(1, data)
    parsed = parse_record(line)
    assert not isinstance(parsed, Rejection)
    submission = hotline_submission(CTX, parsed[0], line, "old-intake")
    assert not isinstance(submission, Rejection)
    fingerprint = submission.fingerprint()
    case_id = case_id_for("hotline:OLD-1")
    async with pool.acquire() as conn:
        await conn.execute(
            f"INSERT INTO {SCHEMA}.complaints (complaint_id, case_id, channel, source_ref, category, "
            "received_at, raw, content_hash) VALUES ('hotline:OLD-1', $1, 'hotline', 'OLD-1', $2, $3, $4, $5)",
            case_id,
            data["category"],
            T0,
            line.raw,
            fingerprint,
        )
        await conn.execute(
            f"INSERT INTO {SCHEMA}.cases (case_id, compound_code, category, first_received_at) "
            "VALUES ($1, $2, $3, $4)",
            case_id,
            SHARED_IN_LUZHOU.code,
            data["category"],
            T0,
        )
