"""The three rates, the on-time rate and the property-company scorecard from a known history."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console

from caseline.report_commands import ReportError, rates_report, scorecard_report
from deadlines.calendar import BEIJING, WorkingCalendar
from deadlines.policy import load_policy
from deadlines.timing import Timing
from district.registry import load_districts
from eventcore.database import create_pool, migrate
from eventcore.store import EventStore, PendingEvent
from schemas.base import DomainEvent, EventMetadata
from schemas.cases import (
    CallbackOutcome,
    CaseAccepted,
    CaseCalledBack,
    CaseClosed,
    CaseEscalated,
    CaseOpened,
    CaseResolved,
    CaseRouted,
    EscalationTrigger,
    ResolvedBy,
)
from schemas.jointmeeting import EnforcementTaskAssigned, EnforcementTaskReported
from schemas.reference import Bureau, Category, Channel, Level, Urgency
from services.sla.adapters.clock_store import CLOCKS
from services.sla.app import attribution
from services.sla.domain.clocks import CaseClocks, case_stream
from services.sla.domain.rates import Dimension, Period, rates, scorecard
from services.sla.domain.reactions import Reactor

REACTOR = Reactor(Timing(load_policy(), WorkingCalendar()), attribution(load_districts()))
MON = datetime(2026, 11, 16, 9, 0, tzinfo=BEIJING)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=BEIJING)
NOVEMBER = Period.month("2026-11")


def opened(case_id: str, compound: str, street: str, at: datetime, category: Category) -> CaseOpened:
    return CaseOpened(
        case_id=case_id,
        complaint_id=f"hotline:{case_id}",
        channel=Channel.HOTLINE,
        category=category,
        urgency=Urgency.NORMAL,
        received_at=at,
        compound_code=compound,
        street_code=street,
        complainant_id="p",
    )


def routed(case_id: str, unit: str) -> CaseRouted:
    return CaseRouted(
        case_id=case_id,
        level=Level.COMMUNITY,
        unit_code=unit,
        unit_name=unit,
        rule_id="r",
        rules_version="1",
        reason="test",
    )


Facts = list[tuple[DomainEvent, datetime]]


def handled(
    case_id: str, unit: str, accepted: timedelta, resolved: timedelta, outcome: CallbackOutcome
) -> Facts:
    return [
        (CaseAccepted(case_id=case_id, unit_code=unit), MON + accepted),
        (
            CaseResolved(case_id=case_id, resolved_by=ResolvedBy.UNIT, unit_code=unit, resolution="done"),
            MON + resolved,
        ),
        (CaseCalledBack(case_id=case_id, outcome=outcome), MON + resolved + timedelta(hours=2)),
        (CaseClosed(case_id=case_id, outcome=outcome, reopen_count=0), MON + resolved + timedelta(hours=3)),
    ]


def history() -> dict[str, Facts]:
    fire = CaseEscalated(
        case_id="C5",
        trigger=EscalationTrigger.CROSS_DEPARTMENT,
        category=Category.FIRE_HAZARD,
        compound_code="CP0087",
        street_code="ST02",
        bureaus=[Bureau.FIRE_RESCUE, Bureau.STREET_OFFICE],
        lead_bureau=Bureau.FIRE_RESCUE,
        rule_id="r",
        rules_version="1",
        reason="fire",
    )

    def task(task_id: str, bureau: Bureau) -> EnforcementTaskAssigned:
        return EnforcementTaskAssigned(
            case_id="C5",
            file_id="F5",
            task_id=task_id,
            bureau=bureau,
            is_lead=bureau is Bureau.FIRE_RESCUE,
            action="clear the fire lane",
            due_at=MON + timedelta(days=5),
            done_when="lane clear",
        )

    def done(task_id: str, bureau: Bureau, at: datetime) -> EnforcementTaskReported:
        return EnforcementTaskReported.model_validate(
            {
                "case_id": "C5",
                "file_id": "F5",
                "task_id": task_id,
                "bureau": bureau,
                "report_id": f"r-{task_id}",
                "kind": "done",
                "reported_at": at,
                "via": "http",
            }
        )

    return {
        # ST01, compound CP0001 (东巷社区, company PC066): one case on time and satisfied, one late and not
        "C1": [
            (opened("C1", "CP0001", "ST01", MON, Category.SANITATION), MON),
            (routed("C1", "ST01-CM01"), MON),
        ]
        + handled("C1", "ST01-CM01", timedelta(hours=1), timedelta(days=2), CallbackOutcome.SATISFIED),
        "C2": [
            (opened("C2", "CP0001", "ST01", MON, Category.SANITATION), MON),
            (routed("C2", "ST01-CM01"), MON),
        ]
        + handled("C2", "ST01-CM01", timedelta(days=3), timedelta(days=10), CallbackOutcome.DISSATISFIED),
        # ST02: accepted in time, never resolved (past its five working days by the 30th)
        "C3": [
            (opened("C3", "CP0087", "ST02", MON, Category.SANITATION), MON),
            (routed("C3", "ST02-CM01"), MON),
            (CaseAccepted(case_id="C3", unit_code="ST02-CM01"), MON + timedelta(hours=2)),
        ],
        # received in October: not in November's figures
        "C4": [
            (opened("C4", "CP0001", "ST01", MON - timedelta(days=20), Category.SANITATION), MON),
            (routed("C4", "ST01-CM01"), MON - timedelta(days=20)),
        ],
        # ST02 fire hazard at the joint meeting: fire and rescue finishes in time, the street office late
        "C5": [
            (opened("C5", "CP0087", "ST02", MON, Category.FIRE_HAZARD), MON),
            (fire, MON),
            (task("T1", Bureau.FIRE_RESCUE), MON),
            (task("T2", Bureau.STREET_OFFICE), MON),
            (done("T1", Bureau.FIRE_RESCUE, MON + timedelta(days=2)), MON + timedelta(days=2)),
            (done("T2", Bureau.STREET_OFFICE, MON + timedelta(days=7)), MON + timedelta(days=7)),
        ],
    }


def sla_events() -> dict[str, list[DomainEvent]]:
    produced: dict[str, list[DomainEvent]] = {}
    for case_id, facts in history().items():
        case = CaseClocks(case_id)
        produced[case_id] = []
        for fact, at in facts:
            reaction = REACTOR.react(case, fact, at)
            case = reaction.case
            produced[case_id].extend(reaction.events)
    return produced


def folded() -> list[CaseClocks]:
    cases = []
    for case_id, events in sla_events().items():
        cases.append(CLOCKS.fold(events) or CaseClocks(case_id))
    return cases


def test_rates_per_street_from_a_known_history() -> None:
    rows = {(r.dimension, r.unit_code): r for r in rates(folded(), NOVEMBER, NOW)}
    st01 = rows[(Dimension.STREET, "ST01")]
    assert st01.tally.cases == 2  # C4 was received in October
    assert (st01.response_rate, st01.resolution_rate, st01.satisfaction_rate, st01.on_time_rate) == (
        0.5,
        1.0,
        0.5,
        0.5,
    )
    st02 = rows[(Dimension.STREET, "ST02")]
    assert st02.tally.cases == 2
    assert st02.response_rate == 0.5  # C3 accepted in time; C5's contact clock ran out unaccepted
    assert st02.resolution_rate == 0.0  # C3 is past due; C5 still has 15 working days
    assert st02.satisfaction_rate is None and st02.on_time_rate == 0.0
    assert rows[(Dimension.COMMUNITY, "ST01-CM01")].tally.cases == 2
    assert rows[(Dimension.COMPANY, "PC066")].satisfaction_rate == 0.5


def test_bureau_on_time_rate_counts_its_own_enforcement_tasks() -> None:
    rows = {(r.dimension, r.unit_code): r for r in rates(folded(), NOVEMBER, NOW)}
    assert rows[(Dimension.BUREAU, "fire_rescue")].on_time_rate == 1.0
    assert rows[(Dimension.BUREAU, "street_office")].on_time_rate == 0.0
    assert rows[(Dimension.BUREAU, "street_office")].tally.cases == 1


def test_property_company_scorecard_counts_complaints_per_compound() -> None:
    cards = {c.company_code: c for c in scorecard(folded(), NOVEMBER)}
    assert cards["PC066"].complaints == 2 and list(cards["PC066"].compounds) == ["CP0001"]
    assert cards["PC066"].resolution_rate == 1.0 and cards["PC066"].satisfaction_rate == 0.5
    assert cards["PC126"].complaints == 2 and cards["PC126"].satisfaction_rate is None


async def test_report_command_replays_the_sla_store_and_writes_csv(database_url: str, tmp_path: Path) -> None:
    pool = await create_pool(database_url, max_size=2)
    try:
        await migrate(pool, "sla")
        store = EventStore("sla")
        async with pool.acquire() as conn:
            for case_id, events in sla_events().items():
                metadata = EventMetadata(correlation_id=case_id, actor="test")
                await store.append(conn, case_stream(case_id), 0, [PendingEvent(e, metadata) for e in events])
    finally:
        await pool.close()
    console = Console(record=True, width=160)
    rates_csv, scorecard_csv = tmp_path / "rates.csv", tmp_path / "scorecard.csv"
    await rates_report(database_url, "2026-11", rates_csv, console)
    await scorecard_report(database_url, "2026-11", scorecard_csv, console)
    with rates_csv.open(encoding="utf-8-sig") as handle:
        by_unit = {(r["dimension"], r["unit_code"]): r for r in csv.DictReader(handle)}
    assert by_unit[("street", "ST01")]["satisfaction_rate"] == "0.5000"
    assert by_unit[("community", "ST01-CM01")]["unit_name"] == "东巷社区"
    assert by_unit[("bureau", "fire_rescue")]["on_time_rate"] == "1.0000"
    with scorecard_csv.open(encoding="utf-8-sig") as handle:
        compounds = list(csv.DictReader(handle))
    assert {(r["company_code"], r["compound_code"], r["complaints"]) for r in compounds} == {
        ("PC066", "CP0001", "2"),
        ("PC126", "CP0087", "2"),
    }
    assert "东街街道" in console.export_text()


async def test_report_says_so_when_the_watch_never_ran(database_url: str, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="sla service has not run"):
        await rates_report(database_url, "2026-11", tmp_path / "x.csv", Console())
