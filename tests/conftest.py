"""Real infrastructure for the tests: one embedded PostgreSQL per session, a fresh database per test,
and a fresh Tansu broker (Kafka protocol, in memory) wherever a test needs one."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from caseline.embedded import EmbeddedBroker, free_port, start_broker, start_postgres
from eventcore.database import create_pool, migrate
from tests.system import RunningSystem


@pytest.fixture(autouse=True)
def one_case_per_complaint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Most tests count one case per complaint; tests of merging set their own window.

    Set in the environment, so the service processes a test starts inherit it too.
    """
    monkeypatch.setenv("CASELINE_MERGE_WINDOW_HOURS", "0")


@pytest.fixture(scope="session")
def scratch_dir() -> Iterator[Path]:
    # Short and under /tmp: PostgreSQL's Unix socket path must stay under ~100 bytes.
    path = Path(tempfile.mkdtemp(prefix="clt-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_uri(scratch_dir: Path) -> str:
    return start_postgres(scratch_dir)


def _with_database(uri: str, name: str) -> str:
    base, _, query = uri.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}?{query}"


@pytest.fixture
async def database_url(postgres_uri: str) -> AsyncIterator[str]:
    """A database of its own for each test, so tests never see each other's events."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(postgres_uri)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    yield _with_database(postgres_uri, name)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=6)
    await migrate(pool, "svc")
    yield pool
    await pool.close()


@pytest.fixture
def broker(scratch_dir: Path) -> Iterator[EmbeddedBroker]:
    running = start_broker("127.0.0.1", free_port(), scratch_dir / f"broker-{uuid.uuid4().hex[:6]}.log")
    yield running
    running.stop()


@pytest.fixture
def system(database_url: str, broker: EmbeddedBroker, tmp_path: Path) -> Iterator[RunningSystem]:
    """The services as real processes against this test's database and broker; `system.start(...)` them."""
    running = RunningSystem(database_url, broker, tmp_path / "logs")
    yield running
    running.stop()


_SENDING = ("execute", "executemany", "fetch", "fetchrow", "fetchval")


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every statement sent to PostgreSQL, as its SQL text (transaction control included)."""
    sent: list[str] = []
    for name in _SENDING:
        original = getattr(asyncpg.Connection, name)

        async def counted(self: asyncpg.Connection, query: str, *args: Any, _sent: Any = original, **kw: Any) -> Any:
            sent.append(query)
            return await _sent(self, query, *args, **kw)

        monkeypatch.setattr(asyncpg.Connection, name, counted)
    yield sent
