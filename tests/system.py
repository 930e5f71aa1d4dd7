"""The three services as real processes against a test database and broker, with helpers to observe them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from caseline.embedded import EmbeddedBroker, free_port
from caseline.supervisor import ServiceProcess, start_service, stop_all, wait_healthy
from eventcore.consumer import ServiceStores
from eventcore.database import create_pool, migrate
from eventcore.settings import Settings
from services import SERVICE_NAMES
from services.intake.app import EXTRA_DDL, SCHEMA, intake_context
from services.intake.handlers import FeedSummary, feed_hotline_file

HANDLED = "('CaseRouted', 'CaseEscalated')"


@dataclass
class RunningSystem:
    database_url: str
    broker: EmbeddedBroker
    log_dir: Path
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def start(self, *names: str) -> None:
        """Start services by name; `routing#2` is a second replica of routing."""
        started = []
        for replica in names or SERVICE_NAMES:
            name, _, number = replica.partition("#")
            self.ports.setdefault(replica, free_port())
            env = {
                "DATABASE_URL": self.database_url,
                "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
                f"CASELINE_{name.upper()}_PORT": str(self.ports[replica]),
                "CASELINE_LOG_JSON": "true",
            }
            process = start_service(
                name, env, self.log_dir, "127.0.0.1", self.ports[replica], replica=int(number or 1)
            )
            self.processes[replica] = process
            started.append(process)
        wait_healthy(started)

    def health(self, replica: str) -> dict[str, Any]:
        answer = httpx.get(self.processes[replica].health_url, timeout=5)
        body: dict[str, Any] = answer.json()
        return body

    def kill(self, name: str) -> None:
        self.processes.pop(name).kill()

    def stop(self) -> None:
        stop_all(list(self.processes.values()))
        self.processes.clear()

    async def feed(self, path: Path, batch_size: int = 1000) -> FeedSummary:
        pool = await create_pool(self.database_url, max_size=2)
        try:
            await migrate(pool, SCHEMA, EXTRA_DDL)
            stores = ServiceStores(pool, SCHEMA, source="/caseline/intake")
            return await feed_hotline_file(stores, intake_context(Settings()), path, batch_size=batch_size)
        finally:
            await pool.close()

    async def scalar(self, sql: str) -> int:
        conn = await asyncpg.connect(self.database_url)
        try:
            return int(await conn.fetchval(sql) or 0)
        except asyncpg.UndefinedTableError:
            return 0
        finally:
            await conn.close()

    async def handled_cases(self) -> int:
        return await self.scalar(f"SELECT count(*) FROM routing.events WHERE event_type IN {HANDLED}")

    async def wait_until(self, what: Callable[[], Awaitable[int]], target: int, timeout: float = 90) -> int:
        deadline = time.monotonic() + timeout
        while (value := await what()) < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"{getattr(what, '__name__', what)} reached {value}, expected {target}")
            await asyncio.sleep(0.2)
        return value

    async def settle(self, what: Callable[[], Awaitable[int]], quiet: float = 2.0) -> int:
        """Wait until a count stops changing (nothing more is coming)."""
        value, since = await what(), time.monotonic()
        while time.monotonic() - since < quiet:
            await asyncio.sleep(0.2)
            latest = await what()
            if latest != value:
                value, since = latest, time.monotonic()
        return value
