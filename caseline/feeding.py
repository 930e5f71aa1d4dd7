"""`caseline feed hotline FILE`: intake's file channel, with a progress bar and a summary."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from eventcore.consumer import ServiceStores
from eventcore.database import create_pool, migrate
from eventcore.settings import Settings
from services.intake.app import EXTRA_DDL, SCHEMA, SERVICE, intake_context
from services.intake.handlers import FeedSummary, feed_hotline_file


async def run_feed(dsn: str, settings: Settings, path: Path, console: Console) -> FeedSummary:
    pool = await create_pool(dsn, max_size=2)
    try:
        await migrate(pool, SCHEMA, EXTRA_DDL)
        stores = ServiceStores(pool, SCHEMA, source=f"/caseline/{SERVICE}")
        total = sum(1 for line in path.open("rb") if line.strip())
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task(f"feeding {path.name}", total=total)
            return await feed_hotline_file(
                stores, intake_context(settings), path, on_batch=lambda n: progress.advance(task, n)
            )
    finally:
        await pool.close()


def print_summary(console: Console, path: Path, summary: FeedSummary) -> None:
    table = Table(title=f"{path.name}: intake summary")
    table.add_column("outcome")
    table.add_column("records", justify="right")
    table.add_row("accepted (new complaints)", str(summary.accepted))
    table.add_row("duplicates (already received)", str(summary.duplicates))
    for kind, count in sorted(summary.rejected.items()):
        table.add_row(f"rejected: {kind}", str(count))
    console.print(table)
    for rejection in summary.rejections[:20]:
        console.print(f"  [yellow]{rejection.reason}[/yellow]")
    if summary.rejected_total:
        console.print("Rejected records are kept: `caseline deadletters list`.")
