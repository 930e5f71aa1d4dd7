"""`caseline up`: the whole system on one machine, embedded where nothing external is configured."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rich.console import Console

from caseline.embedded import EmbeddedBroker, InfrastructureError, start_broker, start_postgres
from caseline.feeding import print_summary, run_feed
from caseline.monitor import run_watch
from caseline.supervisor import SERVICES, ServiceProcess, start_service, stop_all, wait_healthy
from caseline.workbench_hint import workbench_lines
from eventcore.kafka import ensure_topics
from eventcore.settings import Settings
from schemas.topics import ALL_TOPICS

DEVELOPMENT_CREDENTIALS = (
    "Development credentials (Authorization: Bearer <token>; production refuses them, docs/security.md):\n"
    "  units dev-centre, dev-ST01, dev-ST01-CM01 (another district: dev-shangdang-centre)\n"
    "  hotline platform dev-hotline-platform, petition office dev-petition-office, walk-in desk dev-walk-in-desk\n"
    "  joint-meeting office dev-office, bureaus dev-bureau-<bureau>, Open311 api_key caseline-dev-open311-key"
)


def run_up(settings: Settings, sample: Path | None, exit_when_idle: float | None, console: Console) -> int:
    data_dir = settings.data_dir.resolve()
    broker: EmbeddedBroker | None = None
    services: list[ServiceProcess] = []
    try:
        dsn = settings.database_url or start_postgres(data_dir)
        console.print(
            f"PostgreSQL: {'external' if settings.database_url else 'embedded in ' + str(data_dir / 'pg')}"
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
        asyncio.run(ensure_topics(bootstrap, ALL_TOPICS, settings.topic_partitions))
        env = {"DATABASE_URL": dsn, "KAFKA_BOOTSTRAP_SERVERS": bootstrap}
        for name in SERVICES:
            services.append(
                start_service(name, env, data_dir / "logs", settings.http_host, settings.http_port(name))
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
        console.print("Watching the topics; Ctrl-C stops everything.")
        counts = run_watch(bootstrap, idle_exit_seconds=exit_when_idle)
        console.print(f"handled {counts.handled} of {counts.received} complaints")
        return 0
    except KeyboardInterrupt:
        console.print("stopping...")
        return 0
    except (InfrastructureError, RuntimeError) as error:
        console.print(f"[red]{error}[/red]")
        return 1
    finally:
        stop_all(services)
        if broker is not None:
            broker.stop()
