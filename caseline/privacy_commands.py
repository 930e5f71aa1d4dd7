"""`caseline privacy purge | erase | access-log`: retention, a person's erasure and the record of who read numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.table import Table

from district.registry import Districts
from eventcore.database import DbConnection, connect
from services.intake.adapters.privacy_store import PrivacyStore, Removed
from services.intake.app import SCHEMA
from services.intake.domain.complaints import pseudonym_key
from services.intake.domain.personal_data import complainant_id, normalise_phone, pseudonym


async def purge(database_url: str, retention_days: int, now: datetime | None = None) -> Removed:
    conn = await connect(database_url)
    try:
        async with conn.transaction():
            return await PrivacyStore(SCHEMA).purge_closed(
                conn, now or datetime.now(UTC), timedelta(days=retention_days)
            )
    finally:
        await conn.close()


async def current_pseudonyms(
    store: PrivacyStore, conn: DbConnection, districts: Districts, secret: str, subject: str, phone: bool
) -> dict[str, int]:
    """The person's pseudonym in each district now: past erasures moved it on by a generation each."""
    found: dict[str, int] = {}
    for district in districts:
        key = pseudonym_key(secret, district)
        generation = 0
        while True:
            current = complainant_id(subject, key, generation) if phone else pseudonym(subject, key, generation)
            erased = await store.erased_generations(conn, [current])
            if current not in erased:
                break
            generation = erased[current] + 1
        found[current] = generation
    return found


async def erase(
    database_url: str, districts: Districts, secret: str, *, phone: str | None, email: str | None
) -> Removed:
    store = PrivacyStore(SCHEMA)
    conn = await connect(database_url)
    try:
        async with conn.transaction():
            pseudonyms: dict[str, int] = {}
            needles: list[bytes] = []
            if phone:
                pseudonyms |= await current_pseudonyms(store, conn, districts, secret, phone, True)
                needles.append(normalise_phone(phone).encode())
            if email:
                subject = f"contact:{email.strip().lower()}"
                pseudonyms |= await current_pseudonyms(store, conn, districts, secret, subject, False)
                needles.append(email.strip().encode())
            return await store.erase(conn, pseudonyms, needles)
    finally:
        await conn.close()


async def print_access_log(database_url: str, case_id: str | None, limit: int, console: Console) -> int:
    conn = await connect(database_url)
    try:
        rows = await PrivacyStore(SCHEMA).access_log(conn, case_id=case_id, limit=limit)
    finally:
        await conn.close()
    table = Table("when", "who", "staff", "district", "case", "complainant", "purpose", "client")
    for row in rows:
        table.add_row(
            row["accessed_at"].isoformat(timespec="seconds"),
            row["principal"],
            row["staff_id"] or "—",
            row["district"],
            row["case_id"],
            row["complainant_id"],
            row["purpose"],
            row["client"] or "—",
        )
    console.print(table)
    return len(rows)
