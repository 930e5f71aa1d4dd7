"""`caseline audit [--repair]`: print the gaps with their ids, exit 1 when there are any."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from caseline.audit import CHECKS, AuditReport, RepairResult, audit, repair

SHOWN_PER_CHECK = 50


async def run_audit(
    dsn: str, bootstrap: str | None, min_age: float, fix: bool, as_json: bool, console: Console
) -> bool:
    """True when nothing is missing or doubled."""
    report = await audit(dsn, bootstrap_servers=bootstrap, min_age_seconds=min_age)
    if as_json:
        console.print_json(report.as_json())
    else:
        print_report(report, console, min_age)
    if fix and report.gaps:
        print_repair(await repair(dsn, report), console)
    return report.ok


def print_report(report: AuditReport, console: Console, min_age: float) -> None:
    figures = Table(title="caseline audit: what the stores hold")
    figures.add_column("figure")
    figures.add_column("count", justify="right")
    for name, value in report.figures.items():
        figures.add_row(name.replace("_", " "), str(value))
    console.print(figures)
    for note in report.notes:
        console.print(f"note: {note}", style="yellow", markup=False)
    if report.ok:
        console.print(
            f"no gaps: nothing lost, nothing doubled (what is younger than {min_age:g} s is in flight)"
        )
        return
    console.print(f"{len(report.gaps)} gaps", style="red bold")
    for check, gaps in report.by_check().items():
        console.print(f"{check} ({len(gaps)}): {CHECKS[check]}", style="red", markup=False)
        for gap in gaps[:SHOWN_PER_CHECK]:
            console.print(f"  {gap.subject}  {gap.detail}", markup=False, highlight=False)
        if len(gaps) > SHOWN_PER_CHECK:
            console.print(f"  ... and {len(gaps) - SHOWN_PER_CHECK} more (--json lists them all)")
    console.print("`caseline audit --repair` sends the missing messages again from their producers' stores.")


def print_repair(result: RepairResult, console: Console) -> None:
    for schema, count in sorted(result.marked.items()):
        console.print(f"repair: {count} messages of {schema} marked for publishing again")
    if result.not_in_outbox:
        console.print(
            f"repair: {result.not_in_outbox} messages are past the outbox retention "
            "(CASELINE_OUTBOX_RETENTION_HOURS): no longer in the outbox to send again"
        )
    if result.not_repairable:
        console.print(
            f"repair: {result.not_repairable} gaps have nothing of Caseline's to send (see their detail)"
        )
    console.print("run `caseline audit` again once the relays have sent them (seconds)")
