"""Routing serves several districts: each complaint is routed with its own district's directory and rules, the
case keeps its district in every fact it records, and staff only ever see their own district's cases.

Directory codes are district-local (both districts have an ST01 and a CP0001), which is what most of these
tests lean on. Against the real PostgreSQL, as the other routing tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from rich.console import Console
from typer.testing import CliRunner

from caseline.cli import app as caseline_app
from caseline.history import print_case_history
from caseline.routing_commands import case_district, print_explanation, rebuild_case_view
from district.directory import Compound, Directory
from district.registry import DEFAULT_REGISTRY, load_districts
from district.unit_tokens import TokensError, TokenSettings, development_units, unit_tokens
from eventcore.auth import Authenticator, Principal
from eventcore.consumer import ServiceStores, consume_batch
from eventcore.database import create_pool, migrate
from eventcore.outbox import OutboxMessage
from eventcore.settings import get_settings
from eventcore.store import PendingEvent
from schemas.base import DomainEvent, EventMetadata
from schemas.complaints import ComplaintReceived
from schemas.reference import FOUNDING_DISTRICT, Category, Level, Management
from schemas.sla import ClockKind, ClockScope, SlaBreached
from schemas.topics import COMPLAINTS, SLA, TOPIC_SOURCES
from services.routing.adapters.case_view import CaseView
from services.routing.adapters.http import staff_router
from services.routing.app import EXTRA_DDL, SCHEMA
from services.routing.domain.access import Actor
from services.routing.domain.lifecycle import NotPermitted
from services.routing.domain.routing import RouteToUnit
from services.routing.domain.rules import DEFAULT_RULES_FILE, load_rules
from services.routing.handlers import RoutingContext, handle_complaints_topic, handle_sla_breached
from tests.factories import Record
from tests.test_case_lifecycle import NOW, complaint, merged, opened

DISTRICTS = load_districts()
LUZHOU = DISTRICTS.directory("luzhou")
SHANGDANG = DISTRICTS.directory("shangdang")
CTX = RoutingContext(DISTRICTS)
VIEW = CaseView(SCHEMA)


def shangdang_complaint(
    category: Category = Category.SANITATION,
    where: Compound | None = None,
    street: str | None = None,
    case_id: str = "case-sd-1",
) -> ComplaintReceived:
    local = complaint(category, where=where, street=street, case_id=case_id)
    return local.model_copy(update={"district": "shangdang", "complaint_id": f"shangdang/hotline:{case_id}"})


def shangdang_resolve_breach(case_id: str) -> SlaBreached:
    """The SLA watch's breach of a Shangdang case's resolve deadline, asking for the joint meeting."""
    return SlaBreached(
        case_id=case_id,
        clock_id=f"{case_id}/resolve",
        kind=ClockKind.RESOLVE,
        deadline=NOW,
        scope=ClockScope(level="community", district="shangdang"),
        policy_rule="normal-resolve",
        escalation_requested=True,
    )


def record(event: DomainEvent, topic: str, offset: int, district: str | None) -> Record:
    """The message as another service's relay publishes it; district None: an envelope from before tenancy."""
    metadata = EventMetadata(correlation_id=event.case_id, actor="intake")
    if district is not None:
        metadata = metadata.model_copy(update={"district": district})
    message = OutboxMessage.for_event(PendingEvent(event, metadata), topic=topic, source=TOPIC_SOURCES[topic])
    headers = [(k, v.encode()) for k, v in message.headers.items() if district or k != "ce_district"]
    return Record(topic, 0, offset, headers, message.payload.encode())


async def receive(
    stores: ServiceStores,
    *events: DomainEvent,
    topic: str = COMPLAINTS,
    first: int = 0,
    ctx: RoutingContext = CTX,
    envelope: str | None = "from-event",
) -> None:
    handler = {COMPLAINTS: handle_complaints_topic, SLA: handle_sla_breached}[topic]
    records = [
        record(e, topic, first + i, getattr(e, "district", None) if envelope == "from-event" else envelope)
        for i, e in enumerate(events)
    ]
    await consume_batch(stores, records, partial(handler, ctx))


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[ServiceStores]:
    pool = await create_pool(database_url, max_size=4)
    await migrate(pool, SCHEMA, EXTRA_DDL)
    yield ServiceStores(pool, SCHEMA, "/caseline/routing", projector=VIEW.project)
    await pool.close()


@pytest.fixture
async def api(stores: ServiceStores) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.state.runtime = SimpleNamespace(stores=stores)
    app.include_router(staff_router(CTX, Authenticator("routing", development_units(DISTRICTS))))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://routing") as client:
        yield client


def token(unit: str, district: str = FOUNDING_DISTRICT) -> dict[str, str]:
    named = f"dev-{unit}" if district == FOUNDING_DISTRICT else f"dev-{district}-{unit}"
    return {"Authorization": f"Bearer {named}"}


async def act(
    api: httpx.AsyncClient, case_id: str, unit: str, district: str, action: str, version: int, **body: Any
) -> httpx.Response:
    payload = {"expected_version": version, "staff_id": "s-01", **body}
    return await api.post(f"/cases/{case_id}/{action}", json=payload, headers=token(unit, district))


def street_name(directory: Directory, code: str) -> str:
    street = directory.street(code)
    assert street is not None
    return street.name_zh


def professional(directory: Directory) -> Compound:
    return next(c for c in directory.compounds if c.management is Management.PROFESSIONAL)


async def stored(stores: ServiceStores, case_id: str) -> list[dict[str, Any]]:
    async with stores.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT event_type, data, metadata FROM routing.events WHERE stream_id = $1 ORDER BY stream_version",
            f"case-{case_id}",
        )
    return [dict(r) for r in rows]


async def published_districts(stores: ServiceStores, case_id: str) -> list[str]:
    async with stores.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT headers->>'ce_district' AS district FROM routing.outbox WHERE message_key = $1 "
            "ORDER BY position",
            case_id,
        )
    return [r["district"] for r in rows]


# -- routing with the district's own directory --------------------------------------------------------


async def test_shangdang_complaint_is_routed_with_shangdangs_directory(stores: ServiceStores) -> None:
    assert street_name(LUZHOU, "ST01") != street_name(SHANGDANG, "ST01")  # same code, another street
    await receive(
        stores,
        complaint(street="ST01", case_id="case-lz"),
        shangdang_complaint(street="ST01", case_id="case-sd"),
    )
    async with stores.pool.acquire() as conn:
        luzhou_row, shangdang_row = await VIEW.get(conn, "case-lz"), await VIEW.get(conn, "case-sd")
    assert luzhou_row is not None and shangdang_row is not None
    assert (luzhou_row["district"], luzhou_row["unit_code"], luzhou_row["unit_name"]) == (
        "luzhou",
        "ST01",
        street_name(LUZHOU, "ST01"),
    )
    assert (shangdang_row["district"], shangdang_row["unit_code"], shangdang_row["unit_name"]) == (
        "shangdang",
        "ST01",
        street_name(SHANGDANG, "ST01"),
    )


async def test_a_shangdang_compound_code_reaches_the_shangdang_community_that_holds_it(
    stores: ServiceStores,
) -> None:
    where = professional(SHANGDANG)
    community = SHANGDANG.community(where.community_code)
    assert community is not None
    await receive(stores, shangdang_complaint(where=where, case_id="case-sd-c"))
    [opened, routed] = await stored(stores, "case-sd-c")
    assert opened["data"]["district"] == "shangdang"
    assert (routed["data"]["unit_code"], routed["data"]["unit_name"]) == (community.code, community.name_zh)


async def test_complaint_for_unknown_district_is_dead_lettered(stores: ServiceStores) -> None:
    stray = complaint(case_id="case-nowhere").model_copy(update={"district": "atlantis"})
    await receive(stores, stray, complaint(street="ST01", case_id="case-fine"))
    async with stores.pool.acquire() as conn:
        [letter] = await stores.dead_letters.list(conn)
        opened = await conn.fetchval("SELECT count(*) FROM routing.case_view")
    assert "unknown district 'atlantis'" in letter.reason and "luzhou, shangdang" in letter.reason
    assert opened == 1  # the good complaint of the same batch still lands


async def test_district_rules_file_replaces_the_default_for_that_district(
    stores: ServiceStores, tmp_path: Path
) -> None:
    default = tmp_path / "routing_rules.yaml"
    default.write_text(DEFAULT_RULES_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    own = DEFAULT_RULES_FILE.read_text(encoding="utf-8").replace(
        'version: "2026.11.1"', 'version: "shangdang-2026.12"'
    )
    # In Shangdang sanitation starts at the street, whatever the compound.
    own = own.replace(
        "rules:\n",
        "rules:\n  - id: shangdang-street-sanitation\n    categories: [sanitation]\n    level: street\n"
        "    reason: Shangdang's streets take sanitation themselves\n",
        1,
    )
    (tmp_path / "routing_rules.shangdang.yaml").write_text(own, encoding="utf-8")
    ctx = RoutingContext(DISTRICTS, rules_file=default)
    ctx.check_rules()
    luzhou_where, shangdang_where = professional(LUZHOU), professional(SHANGDANG)
    await receive(
        stores,
        complaint(where=luzhou_where, case_id="case-lz-r"),
        shangdang_complaint(where=shangdang_where, case_id="case-sd-r"),
        ctx=ctx,
    )
    luzhou_routed, shangdang_routed = (
        (await stored(stores, "case-lz-r"))[1],
        (await stored(stores, "case-sd-r"))[1],
    )
    assert (luzhou_routed["data"]["rule_id"], luzhou_routed["data"]["rules_version"]) == (
        "community-daily",
        load_rules(default).version,
    )
    assert luzhou_routed["data"]["unit_code"] == luzhou_where.community_code
    assert (shangdang_routed["data"]["rule_id"], shangdang_routed["data"]["rules_version"]) == (
        "shangdang-street-sanitation",
        "shangdang-2026.12",
    )
    assert shangdang_routed["data"]["unit_code"] == shangdang_where.street_code


# -- the case keeps its district ------------------------------------------------------------------------


async def test_escalation_carries_the_case_district(stores: ServiceStores) -> None:
    await receive(
        stores,
        shangdang_complaint(Category.FIRE_HAZARD, where=professional(SHANGDANG), case_id="case-sd-fire"),
        shangdang_complaint(where=professional(SHANGDANG), case_id="case-sd-late"),
    )
    breach = shangdang_resolve_breach("case-sd-late")
    await receive(stores, breach, topic=SLA, envelope="shangdang")
    for case_id in ("case-sd-fire", "case-sd-late"):
        [escalated] = [e for e in await stored(stores, case_id) if e["event_type"] == "CaseEscalated"]
        assert escalated["data"]["district"] == "shangdang"
        assert escalated["metadata"]["district"] == "shangdang"


async def test_every_fact_of_a_shangdang_case_carries_its_district_in_metadata_and_ce_district(
    stores: ServiceStores, api: httpx.AsyncClient
) -> None:
    where = professional(SHANGDANG)
    await receive(stores, shangdang_complaint(where=where, case_id="case-sd-m"))
    # A merge whose envelope names no district (published before tenancy) still belongs to the case's.
    await receive(stores, merged(2, "case-sd-m"), first=1, envelope=None)
    accepted = await act(api, "case-sd-m", where.community_code, "shangdang", "accept", 3)
    assert accepted.status_code == 200, accepted.text
    events = await stored(stores, "case-sd-m")
    assert [e["event_type"] for e in events] == [
        "CaseOpened",
        "CaseRouted",
        "CoComplainantAdded",
        "CaseAccepted",
    ]
    assert {e["metadata"]["district"] for e in events} == {"shangdang"}
    assert events[-1]["metadata"]["actor"] == f"{where.community_code}/s-01"
    assert await published_districts(stores, "case-sd-m") == ["shangdang"] * 4


# -- staff see their own district ------------------------------------------------------------------------


async def test_luzhou_centre_cannot_see_a_shangdang_case(
    stores: ServiceStores, api: httpx.AsyncClient
) -> None:
    await receive(
        stores,
        complaint(street="ST01", case_id="case-lz-v"),
        shangdang_complaint(street="ST01", case_id="case-sd-v"),
    )
    luzhou = (await api.get("/cases", headers=token("centre"))).json()
    shangdang = (await api.get("/cases", headers=token("centre", "shangdang"))).json()
    assert [(c["case_id"], c["district"]) for c in luzhou] == [("case-lz-v", "luzhou")]
    assert [(c["case_id"], c["district"]) for c in shangdang] == [("case-sd-v", "shangdang")]
    foreign = await api.get("/cases/case-sd-v", headers=token("centre"))
    missing = await api.get("/cases/case-none", headers=token("centre"))
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["detail"]["error"] == missing.json()["detail"]["error"] == "not_found"
    assert (await api.get("/cases/case-sd-v/history", headers=token("centre"))).status_code == 404
    assert (await api.get("/cases/case-sd-v", headers=token("centre", "shangdang"))).status_code == 200


async def test_luzhou_st01_cannot_act_on_shangdangs_st01_case_but_shangdangs_st01_can(
    stores: ServiceStores, api: httpx.AsyncClient
) -> None:
    await receive(stores, shangdang_complaint(street="ST01", case_id="case-sd-a"))
    assert (await api.get("/cases", headers=token("ST01"))).json() == []
    intruder = await act(api, "case-sd-a", "ST01", FOUNDING_DISTRICT, "accept", 2)
    assert intruder.status_code == 404
    owner = await act(api, "case-sd-a", "ST01", "shangdang", "accept", 2)
    assert owner.status_code == 200 and owner.json()["state"] == "accepted"


async def test_rerouting_by_hand_looks_the_unit_up_in_the_cases_district(
    stores: ServiceStores, api: httpx.AsyncClient
) -> None:
    await receive(stores, shangdang_complaint(Category.NOISE_POLLUTION, case_id="case-sd-t"))
    only_in_luzhou = next(c.code for c in LUZHOU.communities if SHANGDANG.community(c.code) is None)
    unknown = await act(api, "case-sd-t", "centre", "shangdang", "route", 2, unit_code=only_in_luzhou)
    assert unknown.status_code == 422 and "district shangdang" in unknown.json()["detail"]["message"]
    routed = await act(api, "case-sd-t", "centre", "shangdang", "route", 2, unit_code="ST02")
    assert routed.status_code == 200, routed.text
    [*_, by_hand] = await stored(stores, "case-sd-t")
    assert (by_hand["data"]["unit_code"], by_hand["data"]["unit_name"]) == (
        "ST02",
        street_name(SHANGDANG, "ST02"),
    )


# -- tokens ------------------------------------------------------------------------------------------


def unit(code: str, district: str = "luzhou") -> Principal:
    return Principal("unit", code, district)


def test_development_tokens_name_their_district_except_the_founding_ones() -> None:
    tokens = development_units(DISTRICTS)
    assert tokens.verify("dev-ST01") == unit("ST01")
    assert tokens.verify("dev-centre") == unit("centre")
    assert tokens.verify("dev-shangdang-ST01") == unit("ST01", "shangdang")
    assert tokens.verify("dev-shangdang-centre") == unit("centre", "shangdang")
    only_in_luzhou = next(c.code for c in LUZHOU.communities if SHANGDANG.community(c.code) is None)
    assert tokens.verify(f"dev-{only_in_luzhou}") == unit(only_in_luzhou)
    assert tokens.verify(f"dev-shangdang-{only_in_luzhou}") is None
    assert tokens.verify("dev-atlantis-centre") is None and tokens.verify("ST01") is None


def _token(name: str) -> str:
    return f"{name}-0123456789abcdefghijklmnopqrstuv"


def test_a_per_district_tokens_file_maps_each_districts_units_and_refuses_unknown_districts_and_units(
    tmp_path: Path,
) -> None:
    good = tmp_path / "tokens.yaml"
    good.write_text(
        f"luzhou:\n  centre: {_token('lz-centre')}\n  ST01: [{_token('lz-st01-old')}, {_token('lz-st01-new')}]\n"
        f"shangdang:\n  centre: {_token('sd-centre')}\n  ST01: {_token('sd-st01')}\n",
        encoding="utf-8",
    )
    tokens = unit_tokens(DISTRICTS, TokenSettings(tokens_file=good))
    assert tokens.verify(_token("lz-centre")) == unit("centre")
    assert tokens.verify(_token("lz-st01-old")) == tokens.verify(_token("lz-st01-new")) == unit("ST01")
    assert tokens.verify(_token("sd-st01")) == unit("ST01", "shangdang")
    unknown_district = tmp_path / "atlantis.yaml"
    unknown_district.write_text(f"atlantis:\n  centre: {_token('a')}\n", encoding="utf-8")
    with pytest.raises(
        TokensError, match="'atlantis' is not a served district \\(serving luzhou, shangdang\\)"
    ):
        unit_tokens(DISTRICTS, TokenSettings(tokens_file=unknown_district))
    only_in_luzhou = next(c.code for c in LUZHOU.communities if SHANGDANG.community(c.code) is None)
    unknown_unit = tmp_path / "unit.yaml"
    unknown_unit.write_text(f"shangdang:\n  {only_in_luzhou}: {_token('b')}\n", encoding="utf-8")
    with pytest.raises(TokensError, match=f"'{only_in_luzhou}' is not the centre"):
        unit_tokens(DISTRICTS, TokenSettings(tokens_file=unknown_unit))
    shared = tmp_path / "shared.yaml"
    shared.write_text(
        f"luzhou:\n  centre: {_token('c')}\nshangdang:\n  centre: {_token('c')}\n", encoding="utf-8"
    )
    with pytest.raises(TokensError, match="unit:shangdang/centre shares a token with unit:luzhou/centre"):
        unit_tokens(DISTRICTS, TokenSettings(tokens_file=shared))
    three = tmp_path / "three.yaml"
    three.write_text(f"ST01: [{_token('1')}, {_token('2')}, {_token('3')}]\n", encoding="utf-8")
    with pytest.raises(TokensError, match="at most 2"):
        unit_tokens(DISTRICTS, TokenSettings(tokens_file=three))


# -- the read model: upgrade in place, replay, explain ------------------------------------------------------

_CASE_VIEW_BEFORE_TENANCY = """
CREATE TABLE routing.case_view (
    case_id text PRIMARY KEY, version integer NOT NULL, state text NOT NULL, category text NOT NULL,
    urgency text NOT NULL, channel text NOT NULL, received_at timestamptz NOT NULL, compound_code text,
    street_code text, level text, unit_code text, unit_name text, rule_id text NOT NULL,
    rules_version text NOT NULL, due_at timestamptz, return_count integer NOT NULL,
    reopen_count integer NOT NULL, complainant_count integer NOT NULL, escalations text[] NOT NULL,
    callback_outcome text
);
CREATE INDEX case_view_unit_state ON routing.case_view (unit_code, state);
INSERT INTO routing.case_view VALUES ('case-old', 2, 'routed', 'sanitation', 'normal', 'hotline', now(),
    NULL, 'ST01', 'street', 'ST01', '东街街道', 'r', 'v', NULL, 0, 0, 1, '{}', NULL);
"""


async def test_an_existing_case_view_upgrades_in_place_to_the_founding_district_and_replay_fills_each_district(
    database_url: str,
) -> None:
    pool = await create_pool(database_url, max_size=2)
    try:
        async with pool.acquire() as conn:
            await conn.execute("CREATE SCHEMA routing")
            await conn.execute(_CASE_VIEW_BEFORE_TENANCY)
        await migrate(pool, SCHEMA, EXTRA_DDL)
        async with pool.acquire() as conn:
            assert await conn.fetchval(
                "SELECT district FROM routing.case_view WHERE case_id = 'case-old'"
            ) == ("luzhou")
            indexes = {r["indexname"] for r in await conn.fetch("SELECT indexname FROM pg_indexes")}
        assert "case_view_district_unit_state" in indexes and "case_view_unit_state" not in indexes
        stores = ServiceStores(pool, SCHEMA, "/caseline/routing", projector=VIEW.project)
        await receive(
            stores,
            complaint(street="ST01", case_id="case-lz-p"),
            shangdang_complaint(street="ST01", case_id="case-sd-p"),
        )
        async with pool.acquire() as conn:
            await conn.execute("UPDATE routing.case_view SET district = 'scrambled'")
        assert await rebuild_case_view(database_url) == 2  # the events decide: the orphan row is gone
        async with pool.acquire() as conn:
            rows = {r["case_id"]: r["district"] for r in await VIEW.all_rows(conn)}
        assert rows == {"case-lz-p": "luzhou", "case-sd-p": "shangdang"}
    finally:
        await pool.close()


async def test_explain_names_the_case_district_and_judges_by_that_districts_rules(
    stores: ServiceStores,
) -> None:
    await receive(stores, shangdang_complaint(street="ST01", case_id="case-sd-x"))
    async with stores.pool.acquire() as conn:
        events = await stores.store.read_stream(conn, "case-case-sd-x")
    assert case_district(events) == "shangdang"
    console = Console(record=True, width=200)
    print_explanation(console, "case-sd-x", events, load_rules())
    text = console.export_text()
    assert "case case-sd-x (district shangdang)" in text
    assert f"street ST01 {street_name(SHANGDANG, 'ST01')}" in text


async def test_case_show_names_the_case_district(stores: ServiceStores, database_url: str) -> None:
    await receive(stores, shangdang_complaint(street="ST01", case_id="case-sd-h"))
    console = Console(record=True, width=200)
    assert await print_case_history(database_url, "case-sd-h", console)
    assert "case case-sd-h · district shangdang" in console.export_text()


# -- the aggregate, pure ----------------------------------------------------------------------------------


def test_the_same_unit_code_in_another_district_is_a_stranger_to_the_case() -> None:
    case = opened(complaint(street="ST01", case_id="case-lz-s"))
    assert case.district == "luzhou" and case.unit_code == "ST01"
    assert case.visible_to(Actor("ST01", "s-1")) and case.visible_to(Actor("centre", "s-1"))
    assert not case.visible_to(Actor("ST01", "s-1", "shangdang"))
    assert not case.visible_to(Actor("centre", "s-1", "shangdang"))
    with pytest.raises(NotPermitted):
        case.accept(Actor("ST01", "s-1", "shangdang"))
    elsewhere = RouteToUnit(Level.STREET, "ST02", street_name(LUZHOU, "ST02"), "manual", "by hand")
    with pytest.raises(NotPermitted, match="only the centre"):
        case.route_to(Actor("centre", "s-1", "shangdang"), elsewhere, CTX.of("luzhou").policy)


@pytest.fixture
def cli_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield database_url
    get_settings.cache_clear()


async def test_routing_explain_takes_the_district_and_refuses_a_case_of_another_or_an_unknown_one(
    stores: ServiceStores, cli_database: str
) -> None:
    await receive(stores, shangdang_complaint(street="ST01", case_id="case-sd-cli"))

    def explain(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(caseline_app, ["routing", "explain", "case-sd-cli", *args])
        return result.exit_code, result.output

    def explain_four_ways() -> list[tuple[int, str]]:
        # One after the other: the runner swaps sys.stdout, so it cannot run in parallel threads.
        options: list[list[str]] = [
            ["--district", "shangdang"],
            ["--district", "luzhou"],
            ["--district", "atlantis"],
            [],
        ]
        return [explain(*args) for args in options]

    own, other, unknown, default = await asyncio.to_thread(explain_four_ways)
    assert own[0] == 0 and street_name(SHANGDANG, "ST01") in own[1]
    assert other[0] == 1 and "no case 'case-sd-cli' in district luzhou" in other[1]
    assert unknown[0] == 2 and "unknown district 'atlantis'" in unknown[1]
    assert default[0] == 0 and "(district shangdang)" in default[1]


async def test_a_breach_on_a_case_of_a_district_no_longer_served_is_dead_lettered_not_retried_forever(
    stores: ServiceStores, tmp_path: Path
) -> None:
    await receive(stores, shangdang_complaint(where=professional(SHANGDANG), case_id="case-sd-gone"))
    luzhou_only = tmp_path / "districts.yaml"
    luzhou_only.write_text(
        "founding: luzhou\ndistricts:\n  luzhou:\n    name_zh: 潞州区\n    name_en: Luzhou District\n"
        f"    directory: {Path(DEFAULT_REGISTRY).parent / 'data' / 'luzhou.json'}\n    id_prefix: ''\n",
        encoding="utf-8",
    )
    breach = shangdang_resolve_breach("case-sd-gone")
    await receive(
        stores, breach, topic=SLA, envelope="shangdang", ctx=RoutingContext(load_districts(luzhou_only))
    )
    assert "CaseEscalated" not in [e["event_type"] for e in await stored(stores, "case-sd-gone")]
    async with stores.pool.acquire() as conn:
        [letter] = await stores.dead_letters.list(conn)
    assert "case-sd-gone" in letter.reason and "shangdang" in letter.reason
