"""`caseline report`: the three rates and the property-company scorecard, replayed from the SLA watch's events.

The projection is rebuilt on every run by folding the watch's whole event store (`sla.events`), so a
report never disagrees with the history and needs no migration when the definitions change.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from district.directory import Directory, load_directory
from eventcore.database import connect
from eventcore.logging import configure_logging
from eventcore.settings import get_settings
from services.sla.adapters.clock_store import load_all
from services.sla.domain.clocks import CaseClocks
from services.sla.domain.rates import CompanyScore, Dimension, Period, RateRow, rates, scorecard

SCHEMA = "sla"
RATE_COLUMNS = (
    "dimension",
    "unit_code",
    "unit_name",
    "cases",
    "response_rate",
    "resolution_rate",
    "satisfaction_rate",
    "on_time_rate",
    "responded_on_time",
    "contact_decided",
    "resolved",
    "resolution_due",
    "satisfied",
    "called_back",
    "on_time",
    "decided",
    "breached",
)
SCORECARD_COLUMNS = (
    "company_code",
    "company_name",
    "compound_code",
    "compound_name",
    "complaints",
    "resolved",
    "called_back",
    "satisfied",
)


class ReportError(RuntimeError):
    """The report cannot be made; the message says why and what to do."""


async def replay_cases(dsn: str) -> list[CaseClocks]:
    conn = await connect(dsn)
    try:
        return list((await load_all(conn, SCHEMA)).values())
    except asyncpg.UndefinedTableError as error:
        raise ReportError("no SLA history: the sla service has not run against this database") from error
    finally:
        await conn.close()


def unit_name(directory: Directory, dimension: Dimension, code: str) -> str:
    found: object = {
        Dimension.STREET: directory.street,
        Dimension.COMMUNITY: directory.community,
        Dimension.COMPANY: directory.company,
    }.get(dimension, lambda _: None)(code)
    return str(getattr(found, "name_zh", code)) if found is not None else code


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _fraction(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def rate_record(directory: Directory, row: RateRow) -> dict[str, object]:
    t = row.tally
    return {
        "dimension": row.dimension.value,
        "unit_code": row.unit_code,
        "unit_name": unit_name(directory, row.dimension, row.unit_code),
        "cases": t.cases,
        "response_rate": _fraction(row.response_rate),
        "resolution_rate": _fraction(row.resolution_rate),
        "satisfaction_rate": _fraction(row.satisfaction_rate),
        "on_time_rate": _fraction(row.on_time_rate),
        "responded_on_time": t.responded_on_time,
        "contact_decided": t.contact_clocks,
        "resolved": t.resolved,
        "resolution_due": t.resolution_due,
        "satisfied": t.satisfied,
        "called_back": t.called_back,
        "on_time": t.on_time,
        "decided": t.decided,
        "breached": t.breached,
    }


async def rates_report(dsn: str, period_text: str, csv_path: Path, console: Console) -> list[RateRow]:
    period = Period.month(period_text)
    rows = rates(await replay_cases(dsn), period, datetime.now(UTC))
    directory = load_directory()
    for dimension in Dimension:
        chosen = [r for r in rows if r.dimension is dimension]
        table = Table(
            title=f"{dimension.value}: rates for cases received {period.label} ({len(chosen)} units)"
        )
        for column in ("unit", "cases", "response", "resolution", "satisfaction", "on time", "breached"):
            table.add_column(column, justify="left" if column == "unit" else "right")
        for row in chosen:
            table.add_row(
                unit_name(directory, dimension, row.unit_code),
                str(row.tally.cases),
                _pct(row.response_rate),
                _pct(row.resolution_rate),
                _pct(row.satisfaction_rate),
                _pct(row.on_time_rate),
                str(row.tally.breached),
            )
        console.print(table)
    _write_csv(csv_path, RATE_COLUMNS, [rate_record(directory, r) for r in rows])
    console.print(f"wrote {len(rows)} rows to {csv_path}")
    return rows


async def scorecard_report(
    dsn: str, period_text: str, csv_path: Path, console: Console
) -> list[CompanyScore]:
    period = Period.month(period_text)
    scores = scorecard(await replay_cases(dsn), period)
    directory = load_directory()
    table = Table(title=f"Property-company scorecard: complaints received {period.label}")
    for column in ("company", "compounds", "complaints", "resolution", "satisfaction"):
        table.add_column(column, justify="left" if column == "company" else "right")
    records: list[dict[str, object]] = []
    for score in scores:
        company = unit_name(directory, Dimension.COMPANY, score.company_code)
        table.add_row(
            company,
            str(len(score.compounds)),
            str(score.complaints),
            _pct(score.resolution_rate),
            _pct(score.satisfaction_rate),
        )
        for compound in sorted(score.compounds.values(), key=lambda c: c.compound_code):
            found = directory.compound(compound.compound_code)
            records.append(
                {
                    "company_code": score.company_code,
                    "company_name": company,
                    "compound_code": compound.compound_code,
                    "compound_name": found.name_zh if found else compound.compound_code,
                    "complaints": compound.complaints,
                    "resolved": compound.resolved,
                    "called_back": compound.called_back,
                    "satisfied": compound.satisfied,
                }
            )
    console.print(table)
    _write_csv(csv_path, SCORECARD_COLUMNS, records)
    console.print(f"wrote {len(records)} compound rows to {csv_path}")
    return scores


def _write_csv(path: Path, columns: tuple[str, ...], records: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # utf-8-sig so that spreadsheet programs on Chinese Windows read the names correctly
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(records)


report_app = typer.Typer(
    help="Operations reports: the three rates, the property-company scorecard.", no_args_is_help=True
)
PeriodOption = Annotated[str, typer.Option("--period", help="month, YYYY-MM (cases received in it)")]
CsvOption = Annotated[
    Path | None, typer.Option("--csv", help="where to write the CSV (default: in the current folder)")
]


def _dsn() -> str:
    settings = get_settings()
    if settings.database_url:
        return settings.database_url
    from caseline.embedded import start_postgres

    return start_postgres(settings.data_dir)


def _run(
    report: Callable[[str, str, Path, Console], Coroutine[Any, Any, object]], period: str, csv_path: Path
) -> None:
    configure_logging("caseline", json=False, level="WARNING")
    console = Console()
    try:
        Period.month(period)
        asyncio.run(report(_dsn(), period, csv_path, console))
    except (ValueError, ReportError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error


@report_app.command("rates")
def rates_command(period: PeriodOption, csv_path: CsvOption = None) -> None:
    """Response, resolution, satisfaction and on-time rates per street, community, bureau and company."""
    _run(rates_report, period, csv_path or Path(f"rates-{period}.csv"))


@report_app.command("scorecard")
def scorecard_command(period: PeriodOption, csv_path: CsvOption = None) -> None:
    """Complaints per compound under each property company, with resolution and satisfaction."""
    _run(scorecard_report, period, csv_path or Path(f"scorecard-{period}.csv"))
