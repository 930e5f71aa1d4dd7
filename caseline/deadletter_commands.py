"""`caseline deadletters`: what was refused, why, and the original bytes."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from eventcore.database import checked_schema, create_pool
from eventcore.deadletters import DeadLetters


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
