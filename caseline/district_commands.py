"""`caseline districts`: the districts (tenants) this deployment serves and what each one's directory holds."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from caseline.commandline import app
from district.registry import load_districts
from eventcore.settings import get_settings

districts_app = typer.Typer(
    help="Districts (tenants): list them, check their directories.", no_args_is_help=True
)
app.add_typer(districts_app, name="districts")
console = Console()

_COUNTED = ("streets", "communities", "compounds", "companies")


@districts_app.command("list")
def list_districts(
    check: Annotated[bool, typer.Option(help="Load every directory, so a broken one fails here")] = True,
) -> None:
    """Every district with its id prefix and directory sizes; exits 1 when a directory does not load."""
    registry = load_districts(get_settings().districts_file)
    table = Table(title="Caseline districts")
    for column in ("code", "name", "id prefix", "directory", *(_COUNTED if check else ())):
        table.add_column(column)
    failed = False
    for district in registry:
        founding = " (founding)" if district is registry.founding else ""
        row = [
            district.code + founding,
            f"{district.name_zh} {district.name_en}",
            district.id_prefix or "(none)",
        ]
        row.append(district.directory_path.name)
        if check:
            try:
                counts = district.directory.counts()
                row += [f"{counts[name]:,}" for name in _COUNTED]
            except ValueError as error:
                failed = True
                row += [f"[red]{error}[/red]", "", "", ""]
        table.add_row(*row)
    console.print(table)
    if failed:
        raise typer.Exit(1)
