"""Routing against the real PostgreSQL: consumed facts, the staff API, the read model and its replay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from rich.console import Console
from typer.testing import CliRunner

from caseline.cli import app
from caseline.routing_commands import print_explanation, rebuild_case_view, relearn
from district.registry import load_districts
from district.unit_tokens import TokensError, TokenSettings, development_units, unit_tokens
from eventcore.auth import Authenticator, Principal, token_digest
from eventcore.consumer import InboundMessage, ServiceStores, consume_batch, decode
from eventcore.database import create_pool, migrate
from eventcore.outbox import OutboxMessage
from eventcore.settings import get_settings
from eventcore.store import EventStore, PendingEvent, StreamAppend
from schemas.base import DomainEvent, EventMetadata
from schemas.jointmeeting import JointEnforcementCompleted
from schemas.reference import Category
from schemas.sla import ClockKind, ClockMeasure, ClockScope, SlaBreached, SlaClockPaused, SlaClockStarted
from schemas.topics import COMPLAINTS, JOINT_MEETING, SLA, TOPIC_SOURCES
from services.routing.adapters.case_view import CaseView
from services.routing.adapters.http import staff_router
from services.routing.app import EXTRA_DDL, SCHEMA
from services.routing.handlers import (
    RoutingContext,
    handle_complaints_topic,
    handle_joint_meeting_topic,
    handle_sla_topic,
)
from tests.factories import Record
from tests.test_case_lifecycle import DIRECTORY, NOW, RULES, complaint, compound, merged

DISTRICTS = load_districts()
CTX = RoutingContext(DISTRICTS)
VIEW = CaseView(SCHEMA)


def record(event: DomainEvent, topic: str, offset: int) -> Record:
    pending = PendingEvent(event, EventMetadata(correlation_id=event.case_id, actor="intake"))
    message = OutboxMessage.for_event(pending, topic=topic, source=TOPIC_SOURCES[topic])
    return Record(
        topic, 0, offset, [(k, v.encode()) for k, v in message.headers.items()], message.payload.encode()
    )


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


async def receive(
    stores: ServiceStores, *events: DomainEvent, topic: str = COMPLAINTS, first: int = 0
) -> None:
    handler = {
        COMPLAINTS: handle_complaints_topic,
        JOINT_MEETING: handle_joint_meeting_topic,
        SLA: handle_sla_topic,
    }[topic]
    records = [record(e, topic, first + i) for i, e in enumerate(events)]
    await consume_batch(stores, records, partial(handler, CTX))


def as_unit(unit: str) -> dict[str, str]:
    return {"Authorization": f"Bearer dev-{unit}"}


async def act(api: httpx.AsyncClient, case_id: str, unit: str, action: str, **body: Any) -> httpx.Response:
    got = await api.get(f"/cases/{case_id}", headers=as_unit("centre"))
    current = got.json()
    assert got.status_code == 200, current
    payload = {"expected_version": current["version"], "staff_id": "s-01", **body}
    return await api.post(f"/cases/{case_id}/{action}", json=payload, headers=as_unit(unit))


async def test_a_complaint_and_its_merged_co_complainants_in_one_batch_reach_the_case_and_its_row(
    stores: ServiceStores,
) -> None:
    where = compound()
    await receive(stores, complaint(where=where, case_id="case-a"), merged(2, "case-a"), merged(3, "case-a"))
    async with stores.pool.acquire() as conn:
        row = await VIEW.get(conn, "case-a")
    assert row is not None
    assert (row["state"], row["unit_code"], row["complainant_count"], row["version"]) == (
        "routed",
        where.community_code,
        3,
        4,
    )


async def test_a_merge_handled_in_the_unit_of_work_that_opened_its_case_finds_the_case_before_any_flush(
    stores: ServiceStores,
) -> None:
    batch = [
        decode(record(e, COMPLAINTS, i))
        for i, e in enumerate([complaint(case_id="case-u"), merged(2, "case-u")])
    ]
    async with stores.unit_of_work() as uow:
        for message in batch:
            assert isinstance(message, InboundMessage)
            await handle_complaints_topic(CTX, uow, message)
        nothing_written_yet = await uow.store.read_stream(uow.conn, "case-case-u")
    assert nothing_written_yet == []
    async with stores.pool.acquire() as conn:
        events = await stores.store.read_stream(conn, "case-case-u")
        row = await VIEW.get(conn, "case-u")
    assert [e.event_type for e in events] == ["CaseOpened", "CaseRouted", "CoComplainantAdded"]
    assert row is not None and (row["version"], row["complainant_count"]) == (3, 2)


async def test_a_complaint_published_twice_opens_its_case_once_in_one_batch_or_in_two(
    stores: ServiceStores,
) -> None:
    twice = complaint(case_id="case-twice")
    await receive(stores, twice, twice)  # two records, two event ids: the inbox lets both through
    await receive(stores, twice, first=2)
    async with stores.pool.acquire() as conn:
        events = await stores.store.read_stream(conn, "case-case-twice")
        dead = await stores.dead_letters.list(conn)
    assert [e.event_type for e in events] == ["CaseOpened", "CaseRouted"]
    assert dead == []


async def test_a_merge_for_a_case_routing_never_opened_is_dead_lettered(stores: ServiceStores) -> None:
    await receive(stores, merged(2, "case-nowhere"))
    async with stores.pool.acquire() as conn:
        [letter] = await stores.dead_letters.list(conn)
    assert "unknown case case-nowhere" in letter.reason


async def test_joint_enforcement_completed_resolves_the_escalated_case_once(stores: ServiceStores) -> None:
    await receive(stores, complaint(Category.FIRE_HAZARD, where=compound(), case_id="case-f"))
    done = JointEnforcementCompleted(
        case_id="case-f",
        file_id="jm-f",
        verified_by="jm-07",
        verified_at=NOW,
        tasks_done=3,
        summary="cleared",
    )
    await receive(stores, done, topic=JOINT_MEETING)
    await receive(stores, done, topic=JOINT_MEETING, first=1)  # the same fact published twice
    async with stores.pool.acquire() as conn:
        row = await VIEW.get(conn, "case-f")
        resolved = await conn.fetch("SELECT metadata FROM routing.events WHERE event_type = 'CaseResolved'")
    assert row is not None and row["state"] == "resolved"
    assert [r["metadata"]["actor"] for r in resolved] == ["jointmeeting/jm-07"]


async def test_staff_take_a_case_from_accepted_to_closed_and_every_event_records_who_acted(
    stores: ServiceStores, api: httpx.AsyncClient
) -> None:
    where = compound()
    await receive(stores, complaint(where=where, case_id="case-b"))
    community = where.community_code
    assert (await act(api, "case-b", community, "accept")).status_code == 200
    progress = await act(api, "case-b", community, "progress", note="cleaning", photo_refs=["s3://p/1.jpg"])
    assert progress.status_code == 200
    assert (await act(api, "case-b", community, "resolve", resolution="cleared")).status_code == 200
    closed = await act(api, "case-b", "centre", "callback", outcome="satisfied", note="happy")
    assert closed.json() == {
        "case_id": "case-b",
        "version": 7,
        "state": "closed",
        "unit_code": community,
        "events": ["CaseCalledBack", "CaseClosed"],
    }
    history = (await api.get("/cases/case-b/history", headers=as_unit("centre"))).json()
    assert [h["actor"] for h in history[2:]] == [f"{community}/s-01"] * 3 + ["centre/s-01"] * 2


async def test_resolving_an_unaccepted_case_is_a_409_naming_the_state_and_a_stale_version_is_a_409(
    stores: ServiceStores, api: httpx.AsyncClient
) -> None:
    where = compound()
    await receive(stores, complaint(where=where, case_id="case-c"))
    refused = await act(api, "case-c", where.community_code, "resolve", resolution="?")
    assert refused.status_code == 409 and refused.json()["detail"]["error"] == "invalid_state"
    assert "it is routed" in refused.json()["detail"]["message"]
    stale = await api.post(
        "/cases/case-c/accept",
        json={"expected_version": 1, "staff_id": "s-01"},
        headers=as_unit(where.community_code),
    )
    assert stale.status_code == 409
    assert stale.json()["detail"] | {"message": ""} == {
        "error": "stale_version",
        "message": "",
        "current_version": 2,
        "expected_version": 1,
    }


async def test_units_see_only_their_own_cases_and_the_centre_sees_all(
    stores: ServiceStores, api: httpx.AsyncClient
) -> None:
    here, there = compound(), DIRECTORY.compounds[-1]
    await receive(stores, complaint(where=here, case_id="case-d"), complaint(where=there, case_id="case-e"))
    mine = (await api.get("/cases", headers=as_unit(here.community_code))).json()
    assert [c["case_id"] for c in mine] == ["case-d"]
    everything = (await api.get("/cases", params={"state": "routed"}, headers=as_unit("centre"))).json()
    assert sorted(c["case_id"] for c in everything) == ["case-d", "case-e"]
    assert (await api.get("/cases/case-e", headers=as_unit(here.community_code))).status_code == 404
    intruder = await act(api, "case-e", here.community_code, "accept")
    assert intruder.status_code == 404
    pending = (await api.get("/cases/case-d", headers=as_unit("centre"))).json()
    assert (pending["due_at"], pending["deadline_status"], pending["overdue"]) == (None, "pending", False)


def resolve_clock_started(case_id: str, deadline: datetime, generation: int = 0) -> SlaClockStarted:
    return SlaClockStarted(
        case_id=case_id,
        clock_id=f"{case_id}/resolve/{generation}",
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


async def test_a_case_is_due_when_its_sla_clock_says_and_late_only_while_that_clock_runs_past_it(
    stores: ServiceStores, api: httpx.AsyncClient
) -> None:
    await receive(
        stores, *(complaint(where=compound(), case_id=c) for c in ("case-late", "case-soon", "case-waits"))
    )
    past, future = datetime(2026, 11, 25, 9, tzinfo=UTC), datetime.now(UTC) + timedelta(days=3)
    clocks = [resolve_clock_started("case-late", past), resolve_clock_started("case-soon", future)]
    clocks += [resolve_clock_started("case-waits", past)]
    paused = SlaClockPaused(
        case_id="case-waits",
        clock_id="case-waits/resolve/0",
        paused_at=past,
        consumed_seconds=86400,
        reason="waiting for the complainant",
    )
    records = [record(e, SLA, i) for i, e in enumerate([*clocks, paused])]
    for _ in range(2):  # redelivered: learnt once
        await consume_batch(stores, records, partial(handle_sla_topic, CTX))
    await receive(stores, *clocks, topic=SLA)  # the same starts sent again: a clock starts once
    centre = as_unit("centre")
    late = (await api.get("/cases", params={"overdue": "true"}, headers=centre)).json()
    assert [(c["case_id"], c["due_at"], c["deadline_status"]) for c in late] == [
        ("case-late", "2026-11-25T09:00:00Z", "running")
    ]
    soon = (await api.get("/cases/case-soon", headers=centre)).json()
    assert (soon["due_at"], soon["deadline_clock"], soon["deadline_rule"], soon["overdue"]) == (
        future.isoformat().replace("+00:00", "Z"),
        "case-soon/resolve/0",
        "ordinary",
        False,
    )
    waits = (await api.get("/cases/case-waits", headers=centre)).json()
    assert (waits["due_at"], waits["deadline_status"], waits["overdue"]) == (None, "paused", False)
    listed = (await api.get("/cases", headers=centre)).json()
    assert [c["case_id"] for c in listed][:2] == ["case-late", "case-soon"]  # soonest deadline first


async def test_caseline_replay_routing_rebuilds_the_view_and_relearns_the_sla_clocks_row_for_row(
    stores: ServiceStores, api: httpx.AsyncClient, database_url: str
) -> None:
    compounds = DIRECTORY.compounds[:3]
    cases = [f"case-p{i}" for i in range(len(compounds))]
    await receive(stores, *[complaint(where=c, case_id=i) for c, i in zip(compounds, cases, strict=True)])
    await receive(stores, merged(2, cases[0]), first=len(cases))
    await act(api, cases[1], compounds[1].community_code, "accept")
    due = datetime.now(UTC) + timedelta(days=3)
    facts: list[SlaClockStarted | SlaClockPaused] = [resolve_clock_started(c, due) for c in cases[:2]]
    facts.append(
        SlaClockPaused(
            case_id=cases[1],
            clock_id=f"{cases[1]}/resolve/0",
            paused_at=due - timedelta(days=5),
            consumed_seconds=3600,
            reason="waiting for the complainant",
        )
    )
    await receive(stores, *facts, topic=SLA)  # what routing learnt as the SLA watch published it
    await migrate(stores.pool, "sla")
    by_sla = EventMetadata(correlation_id="sla", actor="sla")
    async with stores.pool.acquire() as conn:  # and the SLA watch's own store, the facts' source
        await EventStore("sla").append_many(
            conn, [StreamAppend(f"clock-{n}", 0, [PendingEvent(f, by_sla)]) for n, f in enumerate(facts)]
        )
        live = (await VIEW.all_rows(conn), await conn.fetch(CLOCKS))
        await conn.execute("UPDATE routing.case_view SET state = 'scrambled'")
        await conn.execute("TRUNCATE routing.case_clock")

    get_settings.cache_clear()  # settings are read once per process; this test changes the environment
    replayed = await asyncio.to_thread(
        CliRunner().invoke, app, ["replay", "routing"], env={"DATABASE_URL": database_url, "COLUMNS": "200"}
    )
    assert replayed.exit_code == 0, replayed.output
    assert "3 cases; 2 clocks" in replayed.output
    async with stores.pool.acquire() as conn:
        assert (await VIEW.all_rows(conn), await conn.fetch(CLOCKS)) == live
    assert [(r["case_id"], r["status"]) for r in live[1]] == [(cases[0], "running"), (cases[1], "paused")]


CLOCKS = "SELECT * FROM routing.case_clock ORDER BY case_id, clock_id"


async def test_relearning_takes_every_clock_from_the_sla_store_and_leaves_them_alone_where_it_has_none(
    stores: ServiceStores, database_url: str
) -> None:
    cases = ["case-r0", "case-r1"]
    compounds = DIRECTORY.compounds[: len(cases)]
    await receive(stores, *[complaint(where=c, case_id=i) for c, i in zip(compounds, cases, strict=True)])
    due = datetime.now(UTC) + timedelta(days=3)
    facts = [resolve_clock_started(c, due) for c in cases]
    await receive(stores, *facts, topic=SLA)
    async with stores.pool.acquire() as conn:
        learnt = await conn.fetch(CLOCKS)
    assert [r["case_id"] for r in learnt] == cases

    # the SLA watch runs on another database: nothing here to relearn from, what routing learnt stays
    assert await relearn(database_url) == (0, 0)
    async with stores.pool.acquire() as conn:
        assert await conn.fetch(CLOCKS) == learnt

    # the SLA's store here holds only the first case's clock: it is the source, so routing keeps that one
    await migrate(stores.pool, "sla")
    by_sla = EventMetadata(correlation_id="sla", actor="sla")
    async with stores.pool.acquire() as conn:
        await EventStore("sla").append_many(conn, [StreamAppend("clock-0", 0, [PendingEvent(facts[0], by_sla)])])
    assert await relearn(database_url) == (1, 0)
    async with stores.pool.acquire() as conn:
        assert await conn.fetch(CLOCKS) == learnt[:1]


async def test_requests_without_a_valid_token_or_with_a_malformed_body_get_4xx_json(
    api: httpx.AsyncClient,
) -> None:
    assert (await api.get("/cases")).json()["detail"]["error"] == "unauthorized"
    assert (await api.get("/cases", headers={"Authorization": "Bearer guess"})).status_code == 401
    bad = await api.post("/cases/x/accept", json={"staff_id": ""}, headers=as_unit("centre"))
    assert bad.status_code == 422 and {e["loc"][-1] for e in bad.json()["detail"]} >= {"expected_version"}


async def test_a_returned_case_moves_to_the_street_and_the_second_return_escalates(
    stores: ServiceStores, api: httpx.AsyncClient
) -> None:
    where = compound()
    await receive(stores, complaint(where=where, case_id="case-r"))
    first = await act(api, "case-r", where.community_code, "return", reason="not our wall")
    assert first.json()["unit_code"] == where.street_code
    second = await act(api, "case-r", where.street_code, "return", reason="not ours either")
    assert second.json()["state"] == "escalated" and second.json()["events"] == [
        "CaseReturned",
        "CaseEscalated",
    ]


async def test_the_rebuilt_read_model_equals_the_live_one(
    stores: ServiceStores, api: httpx.AsyncClient
) -> None:
    compounds = DIRECTORY.compounds[:12]
    categories = list(Category)
    await receive(
        stores,
        *[
            complaint(categories[i % len(categories)], where=c, case_id=f"case-{i:02d}")
            for i, c in enumerate(compounds)
        ],
        merged(2, "case-00"),
    )
    await act(api, "case-00", compounds[0].community_code, "accept")
    await act(api, "case-00", compounds[0].community_code, "resolve", resolution="done")
    await act(api, "case-00", "centre", "callback", outcome="dissatisfied")
    await act(api, "case-01", compounds[1].community_code, "return", reason="not ours")
    await receive(stores, merged(2, "case-03"), merged(3, "case-03"), first=10)
    done = JointEnforcementCompleted(
        case_id="case-07", file_id="jm-07", verified_by="jm", verified_at=NOW, tasks_done=3, summary="cleared"
    )
    await receive(stores, done, topic=JOINT_MEETING)
    live_rows = (await api.get("/cases", headers=as_unit("centre"))).json()
    assert {r["state"] for r in live_rows} == {"routed", "escalated", "resolved"}
    async with stores.pool.acquire() as conn:
        live = await VIEW.all_rows(conn)
        await conn.execute("UPDATE routing.case_view SET state = 'scrambled'")
        rebuilt_count = await VIEW.rebuild(conn, chunk=5)  # several chunks, so chunk edges are crossed
        rebuilt = await VIEW.all_rows(conn)
    assert rebuilt_count == len(compounds) and len(live_rows) == len(compounds)
    assert rebuilt == live


async def test_an_sla_breach_asking_for_escalation_sends_a_late_case_to_the_joint_meeting_once(
    stores: ServiceStores,
) -> None:
    await receive(stores, complaint(where=compound(), case_id="case-s"))
    breach = SlaBreached(
        case_id="case-s",
        clock_id="case-s/resolve",
        kind=ClockKind.RESOLVE,
        deadline=NOW,
        scope=ClockScope(level="community"),
        policy_rule="normal-resolve",
        escalation_requested=True,
    )
    await receive(stores, breach, topic=SLA)
    await receive(stores, breach.model_copy(update={"clock_id": "case-s/contact"}), topic=SLA, first=1)
    async with stores.pool.acquire() as conn:
        escalations = await conn.fetch("SELECT data FROM routing.events WHERE event_type = 'CaseEscalated'")
    assert [e["data"]["trigger"] for e in escalations] == ["sla_watch"]


async def test_explain_names_each_decision_with_its_rule_and_version_and_replay_rebuilds_the_rows(
    stores: ServiceStores, api: httpx.AsyncClient, database_url: str
) -> None:
    where = compound()
    await receive(stores, complaint(where=where, case_id="case-x"))
    await act(api, "case-x", where.community_code, "return", reason="not ours")
    async with stores.pool.acquire() as conn:
        events = await stores.store.read_stream(conn, "case-case-x")
    console = Console(record=True, width=200)
    print_explanation(console, "case-x", events, RULES)
    text = console.export_text()
    assert f"community-daily (rules {RULES.version})" in text
    assert "community-daily/up-to-street" in text and f"{where.community_code}/s-01" in text
    async with stores.pool.acquire() as conn:
        await conn.execute("DELETE FROM routing.case_view")
    assert await rebuild_case_view(database_url) == 1
    async with stores.pool.acquire() as conn:
        row = await VIEW.get(conn, "case-x")
    assert row is not None and row["unit_code"] == where.street_code


async def test_two_staff_accepting_the_same_case_at_once_one_wins_and_the_other_gets_a_conflict(
    stores: ServiceStores, api: httpx.AsyncClient
) -> None:
    where = compound()
    await receive(stores, complaint(where=where, case_id="case-race"))
    body = {"expected_version": 2, "staff_id": "s-01"}
    answers = await asyncio.gather(
        *[
            api.post(
                "/cases/case-race/accept",
                json=body | {"staff_id": f"s-{i}"},
                headers=as_unit(where.community_code),
            )
            for i in range(2)
        ]
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    async with stores.pool.acquire() as conn:
        accepted = await conn.fetchval(
            "SELECT count(*) FROM routing.events WHERE event_type = 'CaseAccepted'"
        )
    assert accepted == 1


CENTRE_TOKEN = "centre-token-0123456789abcdefghijklmn"
STREET_TOKEN = "street-token-0123456789abcdefghijklmn"


def test_a_tokens_file_maps_units_to_hashed_tokens_and_refuses_unknown_units_and_shared_tokens(
    tmp_path: Path,
) -> None:
    good = tmp_path / "tokens.yaml"
    # The flat layout from before tenancy means the founding district; a token may be given as its hash.
    good.write_text(f"centre: {CENTRE_TOKEN}\nST01: sha256:{token_digest(STREET_TOKEN)}\n", encoding="utf-8")
    verifier = unit_tokens(DISTRICTS, TokenSettings(tokens_file=good))
    assert verifier.verify(CENTRE_TOKEN) == Principal("unit", "centre", "luzhou")
    assert verifier.verify(STREET_TOKEN) == Principal("unit", "ST01", "luzhou")
    assert verifier.verify("dev-centre") is None and not verifier.development
    assert all(CENTRE_TOKEN.encode() not in held.digest for held in verifier.held)  # only digests are kept
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(f"ST99: {CENTRE_TOKEN}\n", encoding="utf-8")
    with pytest.raises(TokensError, match="'ST99' is not the centre, a street or a community of luzhou"):
        unit_tokens(DISTRICTS, TokenSettings(tokens_file=unknown))
    shared = tmp_path / "shared.yaml"
    shared.write_text(f"ST01: {CENTRE_TOKEN}\nST02: {CENTRE_TOKEN}\n", encoding="utf-8")
    with pytest.raises(TokensError, match="shares a token with unit:luzhou/ST01"):
        unit_tokens(DISTRICTS, TokenSettings(tokens_file=shared))
    short = tmp_path / "short.yaml"
    short.write_text("ST01: too-short-0123456789\n", encoding="utf-8")
    with pytest.raises(TokensError, match="at least 32 characters"):
        unit_tokens(DISTRICTS, TokenSettings(tokens_file=short))


async def test_the_centre_routes_a_triage_case_by_hand_and_an_unknown_unit_is_a_422(
    stores: ServiceStores, api: httpx.AsyncClient
) -> None:
    await receive(stores, complaint(Category.NOISE_POLLUTION, case_id="case-t"))
    triage = (await api.get("/cases", headers=as_unit("centre"))).json()
    assert [(c["case_id"], c["unit_code"]) for c in triage] == [("case-t", "centre-triage")]
    unknown = await act(api, "case-t", "centre", "route", unit_code="ST99-CM99")
    assert unknown.status_code == 422 and unknown.json()["detail"]["error"] == "unknown_unit"
    community = DIRECTORY.communities[5].code
    not_centre = await act(api, "case-t", community, "route", unit_code=community)
    assert not_centre.status_code == 404  # a community cannot even see the triage queue
    routed = await act(api, "case-t", "centre", "route", unit_code=community)
    assert routed.status_code == 200 and routed.json()["unit_code"] == community
    assert [c["case_id"] for c in (await api.get("/cases", headers=as_unit(community))).json()] == ["case-t"]


async def test_the_staff_api_describes_itself_in_openapi_with_the_bearer_scheme(
    api: httpx.AsyncClient,
) -> None:
    spec = (await api.get("/openapi.json")).json()
    assert {
        "/cases",
        "/cases/{case_id}/accept",
        "/cases/{case_id}/callback",
        "/cases/{case_id}/history",
    } <= set(spec["paths"])
    assert "HTTPBearer" in spec["components"]["securitySchemes"]
