"""`caseline report`: the three rates and the property-company scorecard, replayed from the SLA watch's events.

The projection is rebuilt on every run by folding the watch's whole event store (`sla.events`), so a
report never disagrees with the history and needs no migration when the definitions change.

Every district is reported on its own (`--district` picks one): unit and company codes are district-local, so
a table never mixes two districts, and names come from the district's own directory.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import typer
from rich.console import Console
from rich.table import Table

from caseline.commandline import app, database_address
from district.directory import Directory
from district.registry import Districts, UnknownDistrict, load_districts
from eventcore.database import connect
from eventcore.settings import get_settings
from services.sla.adapters.clock_store import load_all
from services.sla.domain.clocks import CaseClocks
from services.sla.domain.rates import CompanyScore, Dimension, Period, RateRow, rates, scorecard

SCHEMA = "sla"
RATE_COLUMNS = (
    "district",
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
    "district",
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


class Names:
    """Names of a district and its units from its own directory (the code itself when unknown)."""

    def __init__(self, districts: Districts) -> None:
        self.districts = districts

    def district(self, code: str) -> str:
        try:
            return self.districts.get(code).name_zh
        except UnknownDistrict:
            return code

    def directory(self, district: str) -> Directory | None:
        try:
            return self.districts.directory(district)
        except UnknownDistrict:
            return None

    def unit(self, district: str, dimension: Dimension, code: str) -> str:
        directory = self.directory(district)
        return unit_name(directory, dimension, code) if directory else code

    def compound(self, district: str, code: str) -> str:
        directory = self.directory(district)
        found = directory.compound(code) if directory else None
        return found.name_zh if found else code


def chosen_districts(districts: Districts, given: str | None) -> list[str] | None:
    """The district codes `--district` names (code or name); None: every district."""
    if not given:
        return None
    try:
        return [districts.find(given).code]
    except UnknownDistrict as error:
        raise ReportError(str(error)) from error


def report_districts(districts: Districts, chosen: list[str] | None, found: set[str]) -> list[str]:
    """The districts to print, in registry order, plus any the history names that the registry lost."""
    if chosen is not None:
        return chosen
    return [*districts.codes, *sorted(found - set(districts.codes))]


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


def rate_record(names: Names, row: RateRow) -> dict[str, object]:
    t = row.tally
    return {
        "district": row.district,
        "dimension": row.dimension.value,
        "unit_code": row.unit_code,
        "unit_name": names.unit(row.district, row.dimension, row.unit_code),
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


async def rates_report(
    dsn: str, period_text: str, csv_path: Path, console: Console, district: str | None = None
) -> list[RateRow]:
    period = Period.month(period_text)
    districts = load_districts(get_settings().districts_file)
    chosen = chosen_districts(districts, district)
    rows = rates(await replay_cases(dsn), period, datetime.now(UTC), districts=chosen)
    names = Names(districts)
    for code in report_districts(districts, chosen, {r.district for r in rows}):
        for dimension in Dimension:
            picked = [r for r in rows if r.district == code and r.dimension is dimension]
            console.print(_rates_table(names, code, dimension, period, picked))
    _write_csv(csv_path, RATE_COLUMNS, [rate_record(names, r) for r in rows])
    console.print(f"wrote {len(rows)} rows to {csv_path}")
    return rows


def _rates_table(
    names: Names, district: str, dimension: Dimension, period: Period, rows: list[RateRow]
) -> Table:
    table = Table(
        title=f"{names.district(district)} · {dimension.value}: rates for cases received {period.label} "
        f"({len(rows)} units)"
    )
    for column in ("unit", "cases", "response", "resolution", "satisfaction", "on time", "breached"):
        table.add_column(column, justify="left" if column == "unit" else "right")
    for row in rows:
        table.add_row(
            names.unit(district, dimension, row.unit_code),
            str(row.tally.cases),
            _pct(row.response_rate),
            _pct(row.resolution_rate),
            _pct(row.satisfaction_rate),
            _pct(row.on_time_rate),
            str(row.tally.breached),
        )
    return table


async def scorecard_report(
    dsn: str, period_text: str, csv_path: Path, console: Console, district: str | None = None
) -> list[CompanyScore]:
    period = Period.month(period_text)
    districts = load_districts(get_settings().districts_file)
    chosen = chosen_districts(districts, district)
    scores = scorecard(await replay_cases(dsn), period, chosen)
    names = Names(districts)
    records: list[dict[str, object]] = []
    for code in report_districts(districts, chosen, {s.district for s in scores}):
        # One card per district: company codes are district-local, so a card never mixes two districts.
        table = Table(
            title=f"{names.district(code)} · property-company scorecard: complaints received {period.label}"
        )
        for column in ("company", "compounds", "complaints", "resolution", "satisfaction"):
            table.add_column(column, justify="left" if column == "company" else "right")
        for score in (s for s in scores if s.district == code):
            company = names.unit(code, Dimension.COMPANY, score.company_code)
            table.add_row(
                company,
                str(len(score.compounds)),
                str(score.complaints),
                _pct(score.resolution_rate),
                _pct(score.satisfaction_rate),
            )
            records.extend(_compound_records(names, score, company))
        console.print(table)
    _write_csv(csv_path, SCORECARD_COLUMNS, records)
    console.print(f"wrote {len(records)} compound rows to {csv_path}")
    return scores


def _compound_records(names: Names, score: CompanyScore, company: str) -> list[dict[str, object]]:
    return [
        {
            "district": score.district,
            "company_code": score.company_code,
            "company_name": company,
            "compound_code": compound.compound_code,
            "compound_name": names.compound(score.district, compound.compound_code),
            "complaints": compound.complaints,
            "resolved": compound.resolved,
            "called_back": compound.called_back,
            "satisfied": compound.satisfied,
        }
        for compound in sorted(score.compounds.values(), key=lambda c: c.compound_code)
    ]


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
app.add_typer(report_app, name="report")
PeriodOption = Annotated[str, typer.Option("--period", help="month, YYYY-MM (cases received in it)")]
CsvOption = Annotated[
    Path | None, typer.Option("--csv", help="where to write the CSV (default: in the current folder)")
]
DistrictOption = Annotated[
    str | None,
    typer.Option(
        "--district",
        help="one district, by code or name (shangdang, 上党区); default: every district, each on its own",
    ),
]


def _run(
    report: Callable[[str, str, Path, Console], Coroutine[Any, Any, object]], period: str, csv_path: Path
) -> None:
    console = Console()
    try:
        Period.month(period)
        asyncio.run(report(database_address(), period, csv_path, console))
    except (ValueError, ReportError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(1) from error


@report_app.command("rates")
def rates_command(period: PeriodOption, csv_path: CsvOption = None, district: DistrictOption = None) -> None:
    """Response, resolution, satisfaction and on-time rates per district and street, community, bureau
    and company."""
    default = Path(f"rates-{period}{_suffix(district)}.csv")
    _run(partial(rates_report, district=district), period, csv_path or default)


@report_app.command("scorecard")
def scorecard_command(
    period: PeriodOption, csv_path: CsvOption = None, district: DistrictOption = None
) -> None:
    """Complaints per compound under each property company of each district, with resolution and
    satisfaction."""
    default = Path(f"scorecard-{period}{_suffix(district)}.csv")
    _run(partial(scorecard_report, district=district), period, csv_path or default)


def _suffix(district: str | None) -> str:
    return f"-{district}" if district else ""
