"""`caseline topics`: the topics the services use, and creating them on a cluster."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from caseline.commandline import app
from eventcore.kafka import ensure_topics
from eventcore.settings import get_settings
from schemas.topics import ALL_TOPICS, TOPIC_EVENTS

topics_app = typer.Typer(help="Kafka topics: list them, create them.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
console = Console()


@topics_app.command("list")
def list_topics() -> None:
    """Every topic with the event types it carries."""
    table = Table(title="Caseline topics")
    table.add_column("topic")
    table.add_column("event types")
    for topic in ALL_TOPICS:
        types = (
            ", ".join(event.cloudevent_type() for event in TOPIC_EVENTS.get(topic, ())) or "(outside format)"
        )
        table.add_row(topic, types)
    console.print(table)


@topics_app.command("ensure")
def ensure(
    partitions: Annotated[int | None, typer.Option(help="default: CASELINE_TOPIC_PARTITIONS")] = None,
) -> None:
    """Create the missing topics on KAFKA_BOOTSTRAP_SERVERS (existing topics are left as they are)."""
    settings = get_settings()
    count = partitions or settings.topic_partitions
    asyncio.run(ensure_topics(settings.bootstrap_servers(), ALL_TOPICS, count))
    console.print(f"{len(ALL_TOPICS)} topics present on {settings.bootstrap_servers()}")
