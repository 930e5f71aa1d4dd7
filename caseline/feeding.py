"""`caseline feed hotline FILE`: intake's file channel (JSON lines or CSV), with a progress bar and a summary."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from eventcore.consumer import ServiceStores
from eventcore.database import create_pool, migrate
from eventcore.failures import DatabaseUnavailable, retry_while_database_away
from eventcore.settings import Settings
from services.intake.adapters.category_files import DEFAULT_PLATFORM
from services.intake.adapters.hotline_file import detect_encoding
from services.intake.app import EXTRA_DDL, SCHEMA, SERVICE, intake_context
from services.intake.handlers import FeedSummary, feed_hotline_file


async def run_feed(
    dsn: str,
    settings: Settings,
    path: Path,
    console: Console,
    *,
    check_future: bool = False,
    district: str | None = None,
    platform: str = DEFAULT_PLATFORM,
) -> FeedSummary:
    """Feed one export. With `check_future`, complaint times after intake's clock (plus tolerance) are refused.

    `district` (a registry code) is the district of the records that name none (所属区 empty or absent);
    None: CASELINE_DEFAULT_DISTRICT, else the founding district. Raises UnknownDistrict for a code the
    registry does not list, before anything is read.
    """
    ctx = intake_context(settings)
    if district is not None:
        ctx = replace(ctx, default_district=ctx.districts.get(district).code)
    try:
        pool = await retry_while_database_away(lambda: create_pool(dsn, max_size=2), patience_seconds=20)
    except DatabaseUnavailable as away:
        raise DatabaseUnavailable(
            f"{away}: nothing of {path.name} was fed; start PostgreSQL and run it again"
        ) from away
    try:
        await ensure_intake_schema(pool)
        stores = ServiceStores(pool, SCHEMA, source=f"/caseline/{SERVICE}")
        as_of: datetime | None = ctx.latest_acceptable_time() if check_future else None
        total = sum(1 for line in path.open("rb") if line.strip())
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task(f"feeding {path.name} ({detect_encoding(path)})", total=total)
            return await feed_hotline_file(
                stores,
                ctx,
                path,
                on_batch=lambda n: progress.advance(task, n),
                as_of=as_of,
                platform=platform,
            )
    finally:
        await pool.close()


async def ensure_intake_schema(pool: asyncpg.Pool) -> None:
    """Migrate only a database that lacks intake's tables (or, from before tenancy, their district columns):
    DDL against tables others are writing to can deadlock with them (CREATE INDEX IF NOT EXISTS still takes
    its lock), e.g. two feeds started at once."""
    async with pool.acquire() as conn:
        ready = await conn.fetchval(
            "SELECT bool_and(to_regclass(t) IS NOT NULL) FROM unnest($1::text[]) AS t",
            [
                f"{SCHEMA}.{table}"
                for table in (
                    "events",
                    "outbox",
                    "dead_letters",
                    "complainants",
                    "complaints",
                    "cases",
                    "category_labels",
                    "category_corrections",
                )
            ],
        )
        if ready:
            tenanted = await conn.fetchval(
                "SELECT count(*) FROM information_schema.columns "
                "WHERE table_schema = $1 AND column_name = 'district' AND table_name = ANY($2::text[])",
                SCHEMA,
                list(_TENANTED_TABLES),
            )
            ready = tenanted == len(_TENANTED_TABLES)
    if not ready:
        await migrate(pool, SCHEMA, EXTRA_DDL)


_TENANTED_TABLES = ("complainants", "complaints", "cases")


def print_summary(console: Console, path: Path, summary: FeedSummary) -> None:
    table = Table(title=f"{path.name}: intake summary")
    table.add_column("outcome")
    table.add_column("records", justify="right")
    table.add_row("accepted (new complaints)", str(summary.accepted))
    if summary.merged:
        table.add_row("  of which merged into open cases", str(summary.merged))
    table.add_row("duplicates (already received)", str(summary.duplicates))
    for flag, count in sorted(summary.flagged.items()):
        table.add_row(f"  accepted, flagged {flag}", str(count))
    for kind, count in sorted(summary.rejected.items()):
        table.add_row(f"rejected: {kind}", str(count))
    console.print(table)
    for rejection in summary.rejections[:20]:
        console.print(f"  {rejection.reason}", style="yellow", markup=False, highlight=False)
    if len(summary.rejections) > 20:
        console.print(f"  ... and {len(summary.rejections) - 20} more")
    if summary.rejected_total:
        console.print(
            "Rejected records are kept: `caseline deadletters list`, fix and `caseline deadletters replay`."
        )
