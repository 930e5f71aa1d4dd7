"""The CLI's composition root: the root `caseline` app, where the database is, and how operator commands log.

Every `*_commands` module imports this one and registers its commands with `app` (or `replay_app`);
`caseline.cli` imports them all. Nothing here imports a command module, so there is no cycle to hide.
"""

from __future__ import annotations

import typer

from caseline.embedded import start_postgres
from eventcore.logging import configure_logging
from eventcore.settings import Settings, get_settings

app = typer.Typer(help="Caseline: event-sourced complaint and case handling.", no_args_is_help=True)
replay_app = typer.Typer(help="Rebuild a service's read models from its event store.", no_args_is_help=True)
app.add_typer(replay_app, name="replay")


def database_address(settings: Settings | None = None) -> str:
    """DATABASE_URL when given, else the embedded PostgreSQL under CASELINE_DATA_DIR (started if need be)."""
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    return start_postgres(settings.data_dir)


def configure_operator_logging(service: str = "caseline", *, json: bool | None = False) -> None:
    """Warnings and worse, readable on a terminal. Loggers are not cached: a command run in-process (the
    tests' CliRunner) must leave structlog re-configurable, e.g. by `structlog.testing.capture_logs`."""
    configure_logging(service, json=json, level="WARNING", cache_loggers=False)


@app.callback()
def operator_logging() -> None:
    """Every command logs as an operator command; `caseline service` then configures the service's own."""
    configure_operator_logging()
