"""`caseline jointmeeting ...` and `caseline replay jointmeeting`: the joint meeting's files and boards."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from caseline.commandline import app, database_address, replay_app
from district.registry import UnknownDistrict, load_districts
from eventcore.collector import collector_paused
from eventcore.database import create_pool, migrate
from eventcore.settings import get_settings
from schemas.reference import Bureau

jointmeeting_app = typer.Typer(help="Joint-meeting files and each bureau's task board.", no_args_is_help=True)
app.add_typer(jointmeeting_app, name="jointmeeting")
console = Console()
SCHEMA = "jointmeeting"


@jointmeeting_app.command("board")
def board(
    bureau: Annotated[Bureau, typer.Argument(help="bureau code, e.g. fire_rescue")],
    district: Annotated[
        str | None,
        typer.Option(
            help="only this district's bureau (code or name, e.g. shangdang); default: every district"
        ),
    ] = None,
) -> None:
    """A bureau's open, overdue and completed tasks (the read model the bureau API serves), by district."""
    from services.jointmeeting.adapters import views

    code = _district_code(district) if district else None

    async def fetch() -> dict[str, list[dict[str, object]]]:
        pool = await create_pool(database_address(), max_size=1)
        try:
            async with pool.acquire() as conn:
                return await views.board(conn, SCHEMA, bureau, code)
        finally:
            await pool.close()

    found = asyncio.run(fetch())
    whose = f"{bureau.value} ({code})" if code else f"{bureau.value} (every district)"
    for section in ("overdue", "open", "completed"):
        table = Table(title=f"{whose}: {section} ({len(found[section])})")
        for column in ("district", "task", "status", "due (UTC)", "category", "compound", "action"):
            table.add_column(column, overflow="fold")
        for task in found[section]:
            due = task["due_at"]
            table.add_row(
                str(task["district"]),
                str(task["task_id"]),
                str(task["status"]),
                due.strftime("%Y-%m-%d %H:%M") if hasattr(due, "strftime") else str(due),
                str(task["category"]),
                str(task["compound_code"] or "-"),
                str(task["action"]),
            )
        console.print(table)


def _district_code(given: str) -> str:
    """The registry's code for a district written as code or name; exits naming the known ones if none."""
    try:
        return load_districts(get_settings().districts_file).find(given).code
    except UnknownDistrict as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from error


@replay_app.command("jointmeeting")
def replay_jointmeeting() -> None:
    """Rebuild the joint meeting's files list and bureau boards from its event store."""
    started = time.perf_counter()
    with collector_paused():
        files = asyncio.run(_rebuild(database_address()))
    console.print(
        f"jointmeeting: files and board_tasks rebuilt, {files} files in {time.perf_counter() - started:.1f}s"
    )


async def _rebuild(dsn: str) -> int:
    from services.jointmeeting.adapters.read_models import EXTRA_DDL, rebuild

    pool = await create_pool(dsn, max_size=1)
    try:
        await migrate(pool, SCHEMA, EXTRA_DDL)
        async with pool.acquire() as conn, conn.transaction():
            return await rebuild(conn, SCHEMA)
    finally:
        await pool.close()
