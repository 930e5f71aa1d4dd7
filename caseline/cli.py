"""`caseline`: the one entry point behind `make run` and everything an operator does."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

# Each command module registers its commands with the root app when imported (caseline.commandline).
from caseline import (  # noqa: F401
    category_commands,
    district_commands,
    jointmeeting_commands,
    report_commands,
    routing_commands,
    topic_commands,
)
from caseline.commandline import app, configure_operator_logging, database_address
from caseline.services import http_port
from eventcore.logging import configure_logging
from eventcore.settings import get_settings
from services import ServiceName
from services.intake.settings import IntakeSettings

feed_app = typer.Typer(help="Send complaint files through intake.", no_args_is_help=True)
case_app = typer.Typer(help="Look at cases.", no_args_is_help=True)
deadletters_app = typer.Typer(help="Rejected input, kept with its reason.", no_args_is_help=True)
secrets_app = typer.Typer(help="Credentials and secrets for production.", no_args_is_help=True)
privacy_app = typer.Typer(help="Personal data in intake: retention, erasure, access records.", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")
app.add_typer(feed_app, name="feed")
app.add_typer(case_app, name="case")
app.add_typer(deadletters_app, name="deadletters")
app.add_typer(privacy_app, name="privacy")

__all__ = ["SAMPLE_HOTLINE", "app"]  # the root app, with every command registered
console = Console()
SAMPLE_HOTLINE = Path(__file__).resolve().parent / "samples" / "hotline_sample.jsonl"


@app.command()
def up(
    sample: Annotated[
        Path, typer.Option(help="Hotline file to feed once the services are up")
    ] = SAMPLE_HOTLINE,
    feed: Annotated[bool, typer.Option(help="Feed the sample file")] = True,
    exit_when_idle: Annotated[
        float | None, typer.Option(help="Stop after this many seconds without new events (scripts, tests)")
    ] = None,
) -> None:
    """Start PostgreSQL, the broker and the three services; feed the sample; show the flow live."""
    from caseline.up import run_up

    raise typer.Exit(run_up(get_settings(), sample if feed else None, exit_when_idle, console))


@app.command()
def service(name: Annotated[ServiceName, typer.Argument(help="the service to run")]) -> None:
    """Run one service against the configured infrastructure (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS)."""
    import uvicorn

    from caseline.services import create_service_app  # loads FastAPI and one service only when it runs

    settings = get_settings()
    configure_logging(name.value, json=settings.log_json, level=settings.log_level)
    # Production runs no embedded PostgreSQL: a missing DATABASE_URL is one of the refusals the service names.
    if not settings.database_url and settings.env != "production":
        os.environ["DATABASE_URL"] = database_address(settings)
        get_settings.cache_clear()
        settings = get_settings()
    application = create_service_app(name.value, settings)
    # SIGTERM: uvicorn stops taking requests, gives those in flight 1 s, then the lifespan finishes the
    # batch being consumed and commits it (eventcore.service): the process is gone within 5 s.
    uvicorn.run(
        application,
        host=settings.http_host,
        port=http_port(name.value),
        log_level="warning",
        timeout_graceful_shutdown=1,
        # Not left to "auto", which falls back to pure-Python ones without a word: at 300 orders/s these
        # took received → routed p99 from ~210 to ~170 ms on 2 cores (bench/README.md, sixth stop).
        loop="uvloop",
        http="httptools",
    )


@feed_app.command("hotline")
def feed_hotline(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="JSON lines or CSV export")
    ],
    check_future: Annotated[
        bool, typer.Option(help="Refuse complaint times after intake's clock (off for past exports, samples)")
    ] = True,
    district: Annotated[
        str | None,
        typer.Option(
            help="District code for records that name none (所属区); default: the founding district"
        ),
    ] = None,
    platform: Annotated[
        str, typer.Option(help="the hotline platform whose taxonomy reads the file's category labels")
    ] = "12345-default",
) -> None:
    """Send a hotline file (JSON lines or CSV, UTF-8 or GB18030) through intake: each work order, once."""
    from caseline.feeding import print_summary, run_feed
    from district.registry import UnknownDistrict
    from eventcore.failures import DatabaseUnavailable

    settings = get_settings()
    configure_operator_logging("intake", json=settings.log_json)
    try:
        summary = asyncio.run(
            run_feed(
                database_address(settings),
                settings,
                file,
                console,
                check_future=check_future,
                district=district,
                platform=platform,
            )
        )
    except UnknownDistrict as unknown:
        console.print(f"--district: {unknown}", style="red", markup=False)
        raise typer.Exit(2) from None
    except DatabaseUnavailable as away:
        console.print(str(away), style="red", markup=False, highlight=False)
        raise typer.Exit(3) from None
    print_summary(console, file, summary)


@app.command("audit")
def audit_command(
    repair: Annotated[
        bool, typer.Option("--repair", help="Send the missing messages again from their producers' stores")
    ] = False,
    min_age: Annotated[float, typer.Option(help="Seconds: what is younger is in flight, not a gap")] = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="Every gap, as JSON")] = False,
) -> None:
    """Prove from the stores that nothing was lost or doubled; exit 1 when there are gaps."""
    from caseline.audit_commands import run_audit

    settings = get_settings()
    ok = asyncio.run(
        run_audit(database_address(settings), settings.bootstrap_servers(), min_age, repair, as_json, console)
    )
    raise typer.Exit(0 if ok else 1)


@case_app.command("show")
def case_show(case_id: str) -> None:
    """The case's full event history across intake, routing and the joint meeting."""
    from caseline.history import print_case_history

    settings = get_settings()
    found = asyncio.run(print_case_history(database_address(settings), case_id, console))
    if not found:
        console.print(f"[red]no events for case {case_id!r}[/red]")
        raise typer.Exit(1)


@deadletters_app.command("list")
def deadletters_list(
    service_name: Annotated[str, typer.Option("--service", help="whose dead letters")] = "intake",
    all_: Annotated[bool, typer.Option("--all", help="include replayed ones")] = False,
) -> None:
    """Rejected records with their reasons."""
    from caseline.deadletter_commands import list_dead_letters

    settings = get_settings()
    asyncio.run(list_dead_letters(database_address(settings), service_name, all_, console))


@deadletters_app.command("show")
def deadletters_show(
    dead_letter_id: int,
    service_name: Annotated[str, typer.Option("--service", help="whose dead letters")] = "intake",
) -> None:
    """One rejected record: its reason and its original bytes."""
    from caseline.deadletter_commands import show_dead_letter

    settings = get_settings()
    if not asyncio.run(show_dead_letter(database_address(settings), service_name, dead_letter_id, console)):
        raise typer.Exit(1)


@deadletters_app.command("replay")
def deadletters_replay(
    dead_letter_id: int,
    payload: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="Corrected bytes to send instead of the original"),
    ] = None,
) -> None:
    """Send an intake dead letter (fixed with --payload, or as it was) through intake again."""
    from caseline.deadletter_commands import replay_dead_letter

    settings = get_settings()
    if not asyncio.run(
        replay_dead_letter(database_address(settings), settings, dead_letter_id, payload, console)
    ):
        raise typer.Exit(1)


@secrets_app.command("generate")
def secrets_generate(
    out: Annotated[Path, typer.Option(help="Folder to write (created, mode 0700)")] = Path("secrets"),
    database_host: Annotated[str, typer.Option(help="host:port of PostgreSQL in DATABASE_URL")] = "postgres:5432",
    kafka_bootstrap: Annotated[str, typer.Option(help="KAFKA_BOOTSTRAP_SERVERS")] = "kafka:9092",
    force: Annotated[bool, typer.Option(help="Replace an existing set")] = False,
) -> None:
    """Write a fresh set: tokens for every unit of every district, the bureaus, the office, the hotline
    platform, the petition offices and desks, an Open311 key, the pseudonym secret, Kafka SASL users."""
    from caseline.secrets_commands import generate, write
    from district.registry import load_districts

    if out.exists() and any(out.iterdir()) and not force:
        console.print(f"{out} already holds secrets; pass --force to replace them", style="red", markup=False)
        raise typer.Exit(1)
    made = generate(load_districts(get_settings().districts_file), database_host, kafka_bootstrap)
    for path in write(made, out):
        console.print(f"wrote {path}", markup=False)
    console.print(
        f"Hand each holder its token from {out / 'tokens.json'}, then delete that file; "
        "the services hold only the tokens' SHA-256.",
        markup=False,
    )


@privacy_app.command("purge")
def privacy_purge(
    retention_days: Annotated[
        int | None, typer.Option(help="Days after a case closes; default CASELINE_PERSONAL_DATA_RETENTION_DAYS")
    ] = None,
) -> None:
    """Remove names, numbers and raw records of complainants whose every case closed longer ago than the
    retention period, and the payloads of dead letters older than it."""
    from caseline.privacy_commands import purge

    settings = get_settings()
    days = retention_days or IntakeSettings().personal_data_retention_days
    removed = asyncio.run(purge(database_address(settings), days))
    console.print(
        f"purged (retention {days} days): {removed.people} people, {removed.raw_records} raw records, "
        f"{removed.dead_letters} dead letters",
        markup=False,
    )


@privacy_app.command("erase")
def privacy_erase(
    phone: Annotated[str | None, typer.Option(help="The person's phone number")] = None,
    email: Annotated[str | None, typer.Option(help="The person's e-mail address (Open311, web)")] = None,
) -> None:
    """Erase one person's personal data on request (PIPL art. 47): name, number, raw records, dead letters;
    later complaints from them get a pseudonym nothing links to the erased one."""
    from caseline.privacy_commands import erase
    from district.registry import load_districts

    if not phone and not email:
        console.print("give --phone or --email", style="red", markup=False)
        raise typer.Exit(2)
    settings = get_settings()
    districts = load_districts(settings.districts_file)
    removed = asyncio.run(
        erase(database_address(settings), districts, IntakeSettings().pseudonym_secret, phone=phone, email=email)
    )
    console.print(
        f"erased: {removed.people} people, {removed.raw_records} raw records, {removed.dead_letters} dead letters",
        markup=False,
    )


@privacy_app.command("access-log")
def privacy_access_log(
    case: Annotated[str | None, typer.Option(help="Only reads for this case")] = None,
    limit: Annotated[int, typer.Option(help="Most recent reads shown")] = 100,
) -> None:
    """Who read complainants' full numbers, when, for which case and why."""
    from caseline.privacy_commands import print_access_log

    settings = get_settings()
    asyncio.run(print_access_log(database_address(settings), case, limit, console))
