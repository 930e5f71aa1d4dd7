"""The SLA watch serves several districts: each judged by its own policy, named from its own directory,
alerted and reported on its own (directory codes are district-local: ST01 and PC050 exist in every one)."""

from __future__ import annotations

import csv
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from rich.console import Console

from caseline.report_commands import ReportError, rates_report, scorecard_report
from deadlines.calendar import BEIJING, WorkingCalendar
from deadlines.policy import DEFAULT_POLICY_FILE, PolicyError, load_policies
from deadlines.timing import Timing
from district.directory import Compound, Directory
from district.registry import load_districts
from eventcore.cloudevents import CloudEvent
from eventcore.consumer import InboundMessage, MessageRejected, ServiceStores
from eventcore.database import create_pool, migrate
from eventcore.store import EventStore, PendingEvent
from schemas.base import DomainEvent, EventMetadata
from schemas.cases import CallbackOutcome, CaseAccepted, CaseCalledBack, CaseOpened, CaseRouted
from schemas.reference import Category, Channel, Level, Urgency
from schemas.sla import ClockKind, SlaClockStarted
from schemas.topics import CASES
from services.sla.adapters.http import OpsView, ops_router
from services.sla.adapters.metrics import BrokerFigures
from services.sla.adapters.watch import Watch
from services.sla.app import attribution, spec
from services.sla.domain.clocks import CaseClocks, case_stream
from services.sla.domain.rates import Dimension, Period, rates, scorecard
from services.sla.domain.reactions import Reactor
from services.sla.handlers import SlaContext, handle_case_fact
from services.sla.settings import SlaSettings
from tests.kafka_reading import read_topic
from tests.sla_support import opened_and_routed, publish, scrape_sla, write_tiny_policy
from tests.system import RunningSystem

DISTRICTS = load_districts()
LUZHOU, SHANGDANG = DISTRICTS.directory("luzhou"), DISTRICTS.directory("shangdang")
POLICIES = load_policies(DISTRICTS.codes)
TIMING = Timing(POLICIES[DISTRICTS.founding.code], WorkingCalendar(), POLICIES)
REACTOR = Reactor(TIMING, attribution(DISTRICTS))
MONDAY = datetime(2026, 11, 16, 9, 0, tzinfo=BEIJING)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=BEIJING)
NOVEMBER = Period.month("2026-11")


def company_in_both_districts() -> str:
    """A property-company code that manages compounds in both districts (two different companies)."""
    in_luzhou = {c.company_code for c in LUZHOU.compounds if c.company_code}
    in_shangdang = {c.company_code for c in SHANGDANG.compounds if c.company_code}
    return min(in_luzhou & in_shangdang)


def compound_of(directory: Directory, company: str) -> Compound:
    return next(c for c in directory.compounds if c.company_code == company)


def opened(case_id: str, district: str, compound: Compound) -> CaseOpened:
    return CaseOpened(
        case_id=case_id,
        complaint_id=f"hotline:{case_id}",
        district=district,
        channel=Channel.HOTLINE,
        category=Category.SANITATION,
        urgency=Urgency.NORMAL,
        received_at=MONDAY,
        compound_code=compound.code,
        street_code=compound.street_code,
        complainant_id="p",
    )


def routed(case_id: str, compound: Compound) -> CaseRouted:
    return CaseRouted(
        case_id=case_id,
        level=Level.COMMUNITY,
        unit_code=compound.community_code,
        unit_name="community",
        rule_id="r",
        rules_version="1",
        reason="test",
    )


def handled_case(case_id: str, district: str, compound: Compound) -> tuple[CaseClocks, list[DomainEvent]]:
    """Opened, routed to its community at 11:00, accepted and called back satisfied."""
    case = CaseClocks(case_id)
    facts: list[tuple[DomainEvent, datetime]] = [
        (opened(case_id, district, compound), MONDAY),
        (routed(case_id, compound), MONDAY + timedelta(hours=2)),
        (CaseAccepted(case_id=case_id, unit_code=compound.community_code), MONDAY + timedelta(hours=3)),
        (CaseCalledBack(case_id=case_id, outcome=CallbackOutcome.SATISFIED), MONDAY + timedelta(days=1)),
    ]
    events: list[DomainEvent] = []
    for fact, at in facts:
        reaction = REACTOR.react(case, fact, at)
        case = reaction.case
        events.extend(reaction.events)
    return case, events


def test_shangdang_case_gets_shangdangs_deadline() -> None:
    luzhou, shangdang = POLICIES["luzhou"], POLICIES["shangdang"]
    assert luzhou.version != shangdang.version and shangdang.at_risk_share < luzhou.at_risk_share
    compound = SHANGDANG.compounds[0]
    results = {}
    for district in ("luzhou", "shangdang"):
        case = CaseClocks(f"{district}-1")
        started: list[SlaClockStarted] = []
        for fact, at in [
            (opened(case.case_id, district, compound), MONDAY),
            (routed(case.case_id, compound), MONDAY + timedelta(hours=2)),
        ]:
            reaction = REACTOR.react(case, fact, at)
            case = reaction.case
            started.extend(e for e in reaction.events if isinstance(e, SlaClockStarted))
        results[district] = (case, started)
    lz_case, lz_started = results["luzhou"]
    sd_case, sd_started = results["shangdang"]
    lz_contact, sd_contact = lz_case.clock(ClockKind.CONTACT), sd_case.clock(ClockKind.CONTACT)
    assert lz_contact and sd_contact
    # routed Monday 11:00: one working day to make contact in Luzhou, two in rural Shangdang
    assert lz_contact.deadline == datetime(2026, 11, 17, 11, 0, tzinfo=BEIJING)
    assert sd_contact.deadline == datetime(2026, 11, 18, 11, 0, tzinfo=BEIJING)
    sd_resolve = sd_case.clock(ClockKind.RESOLVE)
    assert sd_resolve and sd_resolve.deadline == datetime(2026, 11, 25, 11, 0, tzinfo=BEIJING)  # 7 days
    assert sd_resolve.policy_rule == "ordinary-rural"
    assert {e.policy_version for e in sd_started} == {shangdang.version}
    assert {e.policy_version for e in lz_started} == {luzhou.version}
    # warned at 70% of its two working days: 1.4 working days after Monday 11:00
    assert sd_contact.at_risk_at == datetime(2026, 11, 17, 20, 36, tzinfo=BEIJING)
    # the compound code means another compound in each district: attribution is the district's own
    assert sd_contact.scope.district == "shangdang"
    assert sd_contact.scope.company_code == compound.company_code
    assert sd_contact.scope.community_code == compound.community_code
    luzhou_compound = LUZHOU.compound(compound.code)
    assert luzhou_compound is not None
    assert lz_contact.scope.company_code == luzhou_compound.company_code


def test_metrics_keep_the_same_unit_code_of_two_districts_apart() -> None:
    company = company_in_both_districts()
    watch = Watch({"luzhou": 0.8, "shangdang": 0.7}, now=lambda: NOW)
    lz, _ = handled_case("LZ-1", "luzhou", compound_of(LUZHOU, company))
    sd, _ = handled_case("SD-1", "shangdang", compound_of(SHANGDANG, company))
    watch.cases = {case.case_id: case for case in (lz, sd)}
    text = scrape_sla(watch, BrokerFigures(), DISTRICTS.codes)
    for district, case in (("luzhou", lz), ("shangdang", sd)):
        unit = case.scope.unit_code if case.scope else None
        assert f'district="{district}",level="community",state="in_progress",unit="{unit}"}} 1.0' in text
        assert f'caseline_time_to_contact_seconds_count{{district="{district}"}} 1.0' in text
    assert 'caseline_sla_clocks{district="shangdang",kind="task",status="breached"} 0.0' in text


def test_scorecard_never_mixes_companies_of_two_districts() -> None:
    company = company_in_both_districts()
    cases = [
        handled_case("LZ-1", "luzhou", compound_of(LUZHOU, company))[0],
        handled_case("LZ-2", "luzhou", compound_of(LUZHOU, company))[0],
        handled_case("SD-1", "shangdang", compound_of(SHANGDANG, company))[0],
    ]
    cards = {(c.district, c.company_code): c for c in scorecard(cases, NOVEMBER)}
    assert set(cards) == {("luzhou", company), ("shangdang", company)}
    assert cards[("luzhou", company)].complaints == 2 and cards[("shangdang", company)].complaints == 1
    assert list(cards[("shangdang", company)].compounds) == [compound_of(SHANGDANG, company).code]
    only_shangdang = scorecard(cases, NOVEMBER, ["shangdang"])
    assert [(c.district, c.complaints) for c in only_shangdang] == [("shangdang", 1)]
    streets = {(r.district, r.unit_code) for r in rates(cases, NOVEMBER, NOW, [Dimension.STREET])}
    assert ("luzhou", compound_of(LUZHOU, company).street_code) in streets
    assert ("shangdang", compound_of(SHANGDANG, company).street_code) in streets


async def test_reports_name_each_districts_companies_from_its_own_directory(
    database_url: str, tmp_path: Path
) -> None:
    company = company_in_both_districts()
    lz_compound, sd_compound = compound_of(LUZHOU, company), compound_of(SHANGDANG, company)
    pool = await create_pool(database_url, max_size=2)
    try:
        await migrate(pool, "sla")
        store = EventStore("sla")
        async with pool.acquire() as conn:
            for case_id, district, compound in (
                ("LZ-1", "luzhou", lz_compound),
                ("SD-1", "shangdang", sd_compound),
            ):
                _, events = handled_case(case_id, district, compound)
                metadata = EventMetadata(correlation_id=case_id, actor="test", district=district)
                await store.append(conn, case_stream(case_id), 0, [PendingEvent(e, metadata) for e in events])
    finally:
        await pool.close()
    console = Console(record=True, width=200)
    card_csv, rates_csv = tmp_path / "scorecard.csv", tmp_path / "rates.csv"
    await scorecard_report(database_url, "2026-11", card_csv, console)
    with card_csv.open(encoding="utf-8-sig") as handle:
        rows = {r["district"]: r for r in csv.DictReader(handle)}
    sd_company = SHANGDANG.company(company)
    lz_company = LUZHOU.company(company)
    assert sd_company and lz_company and sd_company.name_zh != lz_company.name_zh
    assert rows["shangdang"]["company_code"] == rows["luzhou"]["company_code"] == company
    assert rows["shangdang"]["company_name"] == sd_company.name_zh
    assert rows["luzhou"]["company_name"] == lz_company.name_zh
    assert rows["shangdang"]["compound_name"] == sd_compound.name_zh
    printed = console.export_text()
    assert (
        "上党区 · property-company scorecard" in printed and "潞州区 · property-company scorecard" in printed
    )

    await rates_report(database_url, "2026-11", rates_csv, Console(), district="上党区")
    with rates_csv.open(encoding="utf-8-sig") as handle:
        rate_rows = list(csv.DictReader(handle))
    assert {r["district"] for r in rate_rows} == {"shangdang"}
    street = SHANGDANG.street(sd_compound.street_code)
    assert street is not None
    assert any(r["dimension"] == "street" and r["unit_name"] == street.name_zh for r in rate_rows)
    with pytest.raises(ReportError, match="unknown district 'pingshun'"):
        await rates_report(database_url, "2026-11", rates_csv, Console(), district="pingshun")


def test_bad_district_policy_file_refuses_to_start(tmp_path: Path) -> None:
    default = tmp_path / "sla_policy.yaml"
    shutil.copy(DEFAULT_POLICY_FILE, default)
    broken = tmp_path / "sla_policy.shangdang.yaml"
    broken.write_text(
        DEFAULT_POLICY_FILE.read_text(encoding="utf-8").replace("contact: 2 hours", "contact: two hours"),
        encoding="utf-8",
    )
    with pytest.raises(PolicyError) as refused:
        spec(SlaSettings(policy_file=default))
    assert "sla_policy.shangdang.yaml" in str(refused.value) and "rule 'urgent'" in str(refused.value)
    broken.unlink()  # without it, Shangdang falls back to the default file and the watch starts
    assert spec(SlaSettings(policy_file=default)).name == "sla"


def inbound(event: DomainEvent, district: str, offset: int) -> InboundMessage:
    cloudevent = CloudEvent(
        id=str(uuid4()),
        source="/caseline/routing",
        type=f"caseline.{event.event_type}.v1",
        subject=event.case_id,
        time=MONDAY.isoformat(),
        data=b"",
        extensions={"district": district, "correlationid": event.case_id},
    )
    return InboundMessage(CASES, 0, offset, cloudevent, event)


async def test_clock_events_carry_the_district_and_a_district_not_served_is_refused(
    database_url: str,
) -> None:
    pool = await create_pool(database_url, max_size=2)
    try:
        await migrate(pool, "sla")
        stores = ServiceStores(pool, "sla", source="/caseline/sla")
        context = SlaContext(REACTOR)
        compound = SHANGDANG.compounds[0]
        async with pool.acquire() as conn, conn.transaction():
            uow = stores.bind(conn)
            for offset, fact in enumerate([opened("SD-9", "shangdang", compound), routed("SD-9", compound)]):
                await handle_case_fact(context, uow, inbound(fact, "shangdang", offset))
            await uow.flush()  # as the consumer does after its batch: the handler only buffers
        async with pool.acquire() as conn:
            districts = await conn.fetch(
                "SELECT DISTINCT metadata->>'district' AS d, data->'scope'->>'district' AS s "
                "FROM sla.events WHERE event_type = 'SlaClockStarted'"
            )
            headers = await conn.fetch("SELECT DISTINCT headers->>'ce_district' AS d FROM sla.outbox")
        assert [(r["d"], r["s"]) for r in districts] == [("shangdang", "shangdang")]
        assert [r["d"] for r in headers] == ["shangdang"]

        stray = opened("PS-1", "pingshun", compound)
        async with pool.acquire() as conn, conn.transaction():
            with pytest.raises(MessageRejected, match="unknown district 'pingshun'.*luzhou, shangdang"):
                await handle_case_fact(context, stores.bind(conn), inbound(stray, "pingshun", 9))
    finally:
        await pool.close()


async def test_ops_feeds_filter_by_district_and_name_it() -> None:
    company = company_in_both_districts()
    watch = Watch({"luzhou": 0.8, "shangdang": 0.7}, now=lambda: NOW)
    cases = [
        handled_case("LZ-1", "luzhou", compound_of(LUZHOU, company))[0],
        handled_case("SD-1", "shangdang", compound_of(SHANGDANG, company))[0],
    ]
    watch.cases = {case.case_id: case for case in cases}
    app = FastAPI()
    app.include_router(ops_router(OpsView(watch, TIMING, DISTRICTS)))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sla") as client:
        await _filter_by_district(client, compound_of(SHANGDANG, company))


async def _filter_by_district(client: httpx.AsyncClient, compound: Compound) -> None:
    every = (await client.get("/v1/ops/alerts")).json()[
        "alerts"
    ]  # both resolve clocks are past due by the 30th
    assert {(a["case_id"], a["district_name"]) for a in every} == {("LZ-1", "潞州区"), ("SD-1", "上党区")}
    shangdang = (await client.get("/v1/ops/alerts", params={"district": "上党区"})).json()["alerts"]
    assert {a["district"] for a in shangdang} == {"shangdang"}
    street = SHANGDANG.street(compound.street_code)
    assert street is not None and {a["street"] for a in shangdang} == {street.name_zh}

    query = {"period": "2026-11", "district": "shangdang"}
    rows = (await client.get("/v1/ops/rates", params=query)).json()["rows"]
    assert [(r["district"], r["unit"]) for r in rows] == [("shangdang", street.name_zh)]
    unknown = await client.get("/v1/ops/alerts", params={"district": "pingshun"})
    assert unknown.status_code == 422 and unknown.json()["detail"]["error"] == "unknown_district"

    page = (await client.get("/ops", params={"district": "shangdang"})).text
    assert '<option value="shangdang" selected>上党区</option>' in page
    assert "SD-1" in page and "LZ-1" not in page


@pytest.mark.e2e
async def test_breach_carries_the_case_district(
    system: RunningSystem, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASELINE_SLA_POLICY_FILE", str(write_tiny_policy(tmp_path, resolve_seconds=3)))
    system.start("sla")
    bootstrap = system.broker.bootstrap_servers
    compound = SHANGDANG.compounds[0]
    now = datetime.now(UTC)
    await publish(bootstrap, opened_and_routed("LZ-BREACH", "ST01", compound.code, now))
    await publish(
        bootstrap,
        opened_and_routed("SD-BREACH", compound.street_code, compound.code, now, district="shangdang"),
        district="shangdang",
    )
    breached = "SELECT count(*) FROM sla.events WHERE event_type = 'SlaBreached'"
    await system.wait_until(lambda: system.scalar(breached), 2, timeout=60)

    published = await read_topic(bootstrap, "caseline.sla.v1", expect=10, timeout=20)
    alerts = {d.key: d for d in published if d.headers["ce_type"] == "caseline.SlaBreached.v1"}
    assert alerts["SD-BREACH"].headers["ce_district"] == "shangdang"
    assert alerts["SD-BREACH"].data["scope"]["district"] == "shangdang"
    assert alerts["LZ-BREACH"].headers["ce_district"] == "luzhou"
    # every clock fact of the case is the case's district's, and attributed from its directory
    started = [d for d in published if d.headers["ce_type"] == "caseline.SlaClockStarted.v1"]
    assert {d.headers["ce_district"] for d in started if d.key == "SD-BREACH"} == {"shangdang"}
    assert {d.data["scope"]["company_code"] for d in started if d.key == "SD-BREACH"} == {
        compound.company_code
    }
