"""`caseline up`: the whole system on one machine, embedded where nothing external is configured.

Whatever stops it — Ctrl-C, SIGTERM (systemd, `docker stop`, `timeout`, a script's `kill`) or the terminal
closing (SIGHUP) — it stops what it started: the services (each finishes its batch and commits), the
broker and the embedded PostgreSQL, and leaves no process behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console

from caseline.embedded import (
    EMBEDDED_BROKER_PARTITIONS,
    EmbeddedBroker,
    InfrastructureError,
    start_broker,
    start_postgres,
    stop_postgres,
)
from caseline.feeding import print_summary, run_feed
from caseline.monitor import FlowCounts, run_watch
from caseline.services import http_port
from caseline.supervisor import ServiceProcess, start_service, stop_all, wait_healthy
from caseline.workbench_hint import workbench_lines
from eventcore.failures import DatabaseUnavailable
from eventcore.kafka import ensure_topics
from eventcore.settings import Settings
from schemas.topics import ALL_TOPICS
from services import SERVICE_NAMES

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
DEVELOPMENT_CREDENTIALS = (
    "Development credentials (Authorization: Bearer <token>; production refuses them, docs/security.md):\n"
    "  units dev-centre, dev-ST01, dev-ST01-CM01 (another district: dev-shangdang-centre)\n"
    "  hotline platform dev-hotline-platform, petition office dev-petition-office, walk-in desk dev-walk-in-desk\n"
    "  joint-meeting office dev-office, bureaus dev-bureau-<bureau>, Open311 api_key caseline-dev-open311-key"
)


def run_up(settings: Settings, sample: Path | None, exit_when_idle: float | None, console: Console) -> int:
    data_dir = settings.data_dir.resolve()
    broker: EmbeddedBroker | None = None
    embedded_postgres = not settings.database_url
    services: list[ServiceProcess] = []
    counts = FlowCounts()
    with _signals_stop_like_ctrl_c():
        try:
            dsn = settings.database_url or start_postgres(data_dir)
            console.print(
                f"PostgreSQL: {'embedded in ' + str(data_dir / 'pg') if embedded_postgres else 'external'}"
            )
            if settings.kafka_bootstrap_servers:
                bootstrap = settings.kafka_bootstrap_servers
            else:
                broker = start_broker(
                    settings.broker_host, settings.broker_port, data_dir / "logs" / "broker.log"
                )
                bootstrap = broker.bootstrap_servers
            console.print(
                f"Kafka protocol: {bootstrap} ({'external' if broker is None else 'embedded Tansu, in memory'})"
            )
            partitions = _partitions(settings, embedded_broker=broker is not None)
            asyncio.run(ensure_topics(bootstrap, ALL_TOPICS, partitions))
            env = {
                "DATABASE_URL": dsn,
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "CASELINE_TOPIC_PARTITIONS": str(partitions),
            }
            for name in SERVICE_NAMES:
                services.append(
                    start_service(name, env, data_dir / "logs", settings.http_host, http_port(name))
                )
            wait_healthy(services)
            for service in services:
                console.print(f"{service.name}: {service.health_url} (log: {service.log_file})")
            for line in workbench_lines(settings):
                console.print(line, highlight=False)
            if settings.env == "development":
                console.print(DEVELOPMENT_CREDENTIALS, markup=False)
            if sample is not None:
                settings_with_db = settings.model_copy(update={"database_url": dsn})
                print_summary(console, sample, asyncio.run(run_feed(dsn, settings_with_db, sample, console)))
            console.print("Watching the topics; Ctrl-C (or SIGTERM) stops everything.")
            run_watch(bootstrap, idle_exit_seconds=exit_when_idle, console=console, counts=counts)
            console.print(counts.render())
            console.print(f"handled {counts.handled} of {counts.received} complaints")
            return 0
        except KeyboardInterrupt:
            console.print("stopping...")
            return 0
        except (InfrastructureError, DatabaseUnavailable, RuntimeError) as error:
            console.print(f"[red]{error}[/red]")
            return 1
        finally:
            _stop_everything(services, broker, data_dir if embedded_postgres else None, console)


def _partitions(settings: Settings, *, embedded_broker: bool) -> int:
    """The embedded broker's own count unless one is set: after a crash its clients re-create the topics
    with that count at once, and keys must keep their partitions (caseline.embedded)."""
    if embedded_broker and "CASELINE_TOPIC_PARTITIONS" not in os.environ:
        return EMBEDDED_BROKER_PARTITIONS
    return settings.topic_partitions


def _stop_everything(
    services: list[ServiceProcess], broker: EmbeddedBroker | None, postgres_dir: Path | None, console: Console
) -> None:
    """In order: services first (they commit their last batch), then what they need. Not interruptible:
    a second Ctrl-C or SIGTERM must not leave half of it running."""
    for stop_signal in (signal.SIGINT, *STOP_SIGNALS):
        signal.signal(stop_signal, signal.SIG_IGN)
    stop_all(services)
    if broker is not None:
        broker.stop()
    if postgres_dir is not None:
        stop_postgres(postgres_dir)
    console.print("stopped everything it started")


@contextmanager
def _signals_stop_like_ctrl_c() -> Iterator[None]:
    """SIGTERM and SIGHUP raise KeyboardInterrupt where the program is, as Ctrl-C does."""
    previous = {s: signal.signal(s, signal.default_int_handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for stop_signal, handler in previous.items():
            signal.signal(stop_signal, handler)
