"""`caseline deadletters`: what was refused, why, and the original bytes."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from eventcore.consumer import ServiceStores
from eventcore.database import checked_schema, create_pool
from eventcore.deadletters import DeadLetters
from eventcore.settings import Settings


async def list_dead_letters(dsn: str, service: str, include_replayed: bool, console: Console) -> None:
    pool = await create_pool(dsn, max_size=1)
    try:
        async with pool.acquire() as conn:
            letters = await DeadLetters(checked_schema(service)).list(conn, include_replayed=include_replayed)
    finally:
        await pool.close()
    table = Table(title=f"{service}: dead letters ({len(letters)})")
    for column in ("id", "received", "source", "where", "reason"):
        table.add_column(column, overflow="fold")
    for letter in letters:
        table.add_row(
            str(letter.id),
            letter.created_at.strftime("%Y-%m-%d %H:%M"),
            letter.source,
            letter.source_ref or "",
            letter.reason,
        )
    console.print(table)


async def show_dead_letter(dsn: str, service: str, dead_letter_id: int, console: Console) -> bool:
    pool = await create_pool(dsn, max_size=1)
    try:
        async with pool.acquire() as conn:
            letter = await DeadLetters(checked_schema(service)).get(conn, dead_letter_id)
    finally:
        await pool.close()
    if letter is None:
        console.print(f"[red]no dead letter {dead_letter_id} in {service}[/red]")
        return False
    console.print(f"[bold]#{letter.id}[/bold] from {letter.source} ({letter.source_ref or '-'})")
    console.print(f"reason: {letter.reason}")
    console.print(f"details: {letter.details}")
    console.print("original bytes:")
    console.print(letter.payload.decode("utf-8", errors="backslashreplace"), markup=False, highlight=False)
    return True


async def replay_dead_letter(
    dsn: str, settings: Settings, dead_letter_id: int, payload_file: Path | None, console: Console
) -> bool:
    """Send an intake dead letter (or its corrected bytes) through intake again; True when it went in."""
    from caseline.feeding import ensure_intake_schema
    from services.intake.app import SCHEMA, SERVICE, intake_context
    from services.intake.handlers import Status
    from services.intake.replaying import CannotReplay, replay

    pool = await create_pool(dsn, max_size=2)
    try:
        await ensure_intake_schema(pool)
        stores = ServiceStores(pool, SCHEMA, source=f"/caseline/{SERVICE}")
        async with pool.acquire() as conn:
            letter = await stores.dead_letters.get(conn, dead_letter_id)
        if letter is None:
            console.print(f"no dead letter {dead_letter_id} in intake", style="red", markup=False)
            return False
        if letter.replayed_at is not None:
            console.print(
                f"dead letter {dead_letter_id} was already replayed at {letter.replayed_at:%Y-%m-%d %H:%M}"
            )
            return True
        payload = payload_file.read_bytes().rstrip(b"\r\n") if payload_file else None
        try:
            outcome = await replay(stores, intake_context(settings), letter, payload)
        except CannotReplay as refusal:
            console.print(f"cannot replay #{dead_letter_id}: {refusal}", style="red", markup=False)
            return False
    finally:
        await pool.close()
    if outcome.status in (Status.REJECTED, Status.CONFLICT):
        console.print(f"#{dead_letter_id} is still refused: {outcome.reason}", style="red", markup=False)
        console.print("Fix the bytes (`caseline deadletters show`) and replay with --payload FILE.")
        return False
    console.print(
        f"#{dead_letter_id} {outcome.status.value}: complaint {outcome.complaint_id}, case {outcome.case_id}",
        markup=False,
    )
    return True
