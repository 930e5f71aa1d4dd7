"""Chaos under load: the broker, PostgreSQL and every service killed with SIGKILL and started again while
complaints flow; `caseline audit` then proves from the stores that nothing was lost or doubled.

PostgreSQL here is a server of this test's own: the suite's shared one must survive for the other tests.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from caseline.audit import AuditReport, audit
from caseline.embedded import (
    EMBEDDED_BROKER_PARTITIONS,
    EmbeddedBroker,
    kill_postgres,
    restart_postgres,
    start_broker,
    start_postgres,
    stop_postgres,
)
from district.sample_hotline import write_synthetic_orders
from eventcore.failures import retry_while_database_away
from tests.system import RunningSystem

pytestmark = pytest.mark.e2e
FILES, PER_FILE = 6, 400  # 2,400 complaints, fed over about twenty seconds
ACCEPTED = "SELECT count(*) FROM intake.events WHERE event_type = 'ComplaintReceived'"
UNPUBLISHED = "SELECT count(*) FROM intake.outbox WHERE published_at IS NULL"
CLOCKED = "SELECT count(DISTINCT data->>'case_id') FROM sla.events WHERE event_type = 'SlaClockStarted'"


@pytest.fixture
async def own_postgres() -> AsyncIterator[tuple[Path, str]]:
    data_dir = Path(tempfile.mkdtemp(prefix="clchaos-", dir="/tmp"))
    try:
        yield data_dir, start_postgres(data_dir)
    finally:
        stop_postgres(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


async def test_killing_the_broker_postgresql_and_every_service_under_load_loses_and_doubles_nothing(
    own_postgres: tuple[Path, str], broker: EmbeddedBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASELINE_TOPIC_PARTITIONS", str(EMBEDDED_BROKER_PARTITIONS))
    pg_dir, database_url = own_postgres
    system = RunningSystem(database_url, broker, tmp_path / "logs")
    feeder = Feeder(system, _orders(tmp_path, FILES, PER_FILE))
    system.start()
    feeding = asyncio.create_task(feeder.run())
    try:
        await system.wait_until(system.handled_cases, 300, timeout=120)
        _phase("flowing")
        host, port = broker.bootstrap_servers.split(":")
        routing = system.processes["routing"].process
        routing.send_signal(signal.SIGSTOP)  # a routing that lags: complaints published, not yet consumed
        await feeder.pause_after_a_file()  # then intake's relay is idle when the broker goes
        accepted = await _published_backlog(system)
        broker.kill()  # its log is gone; every service keeps running, nothing is restarted
        system.broker = start_broker(host, int(port), tmp_path / "broker-after-crash.log")
        routing.send_signal(signal.SIGCONT)
        _phase(f"broker restarted, {accepted} complaints published before")
        # what intake had published before the crash reaches routing without any restart and before
        # intake publishes anything new: its relay's periodic check notices the lost log
        await system.wait_until(system.handled_cases, accepted, timeout=60)
        _phase("lost log re-driven")
        feeder.resume()
        kill_postgres(pg_dir)  # mid-transaction for the feed, the consumers and the relays
        await asyncio.sleep(1)
        await asyncio.to_thread(restart_postgres, pg_dir)
        _phase("postgres restarted")
        # nothing restarted: intake's relay, routing's consumer and the SLA watch's consumer reconnect alone
        accepted = await system.scalar(ACCEPTED)
        await system.wait_until(system.handled_cases, accepted, timeout=60)
        await system.wait_until(lambda: system.scalar(CLOCKED), accepted, timeout=60)
        _phase("flowing again after PostgreSQL's crash")
        for pair in (("routing", "sla"), ("intake", "jointmeeting")):
            for name in pair:
                system.kill(name)
            await asyncio.to_thread(system.start, *pair)
            _phase(f"{pair} restarted")
        await asyncio.wait_for(feeding, timeout=180)
        _phase("chaos over")
        report = await _audit_until_clean(system)
        _phase("audit clean")
        assert report.ok, "\n".join(f"{g.check} {g.subject} {g.detail}" for g in report.gaps[:40])
        assert report.figures["complaints_accepted"] == report.figures["cases_opened"] == FILES * PER_FILE
        stopping = time.monotonic()
        processes = list(system.processes.values())
        system.stop()  # SIGTERM: each finishes its batch, commits and exits
        assert time.monotonic() - stopping < 6
        for process in processes:  # stopped by its own shutdown, not killed after a timeout
            assert process.process.returncode != -9 and "service_stopped" in process.log_file.read_text()
    finally:
        feeding.cancel()
        system.stop()
        system.broker.stop()


_T0 = time.monotonic()


def _phase(name: str) -> None:
    print(f"chaos: {name} at {time.monotonic() - _T0:.1f} s")  # the test's own timeline, with -s


def _orders(tmp_path: Path, files: int, per_file: int) -> list[Path]:
    everything = tmp_path / "chaos.jsonl"
    write_synthetic_orders(everything, files * per_file, prefix="CHAOS")
    lines = everything.read_text(encoding="utf-8").splitlines(keepends=True)
    paths = []
    for number in range(files):
        path = tmp_path / f"chaos-{number}.jsonl"
        path.write_text("".join(lines[number * per_file : (number + 1) * per_file]), encoding="utf-8")
        paths.append(path)
    return paths


class Feeder:
    """A hotline export arriving file by file, as a platform sends it. A batch cut off by PostgreSQL's crash
    is sent again by the feed itself; a file that could not even start is fed again (order numbers dedupe)."""

    def __init__(self, system: RunningSystem, files: list[Path]) -> None:
        self.system, self.files = system, files
        self.go, self.between_files = asyncio.Event(), asyncio.Event()
        self.go.set()
        self.files_done = 0

    async def run(self) -> None:
        for path in self.files:
            self.between_files.set()
            await self.go.wait()
            self.between_files.clear()
            await retry_while_database_away(lambda: self.system.feed(path, batch_size=100))  # noqa: B023
            self.files_done += 1
            await asyncio.sleep(2)
        self.between_files.set()

    async def pause_after_a_file(self) -> None:
        done = self.files_done
        while self.files_done == done:
            await asyncio.sleep(0.1)
        self.go.clear()
        await self.between_files.wait()

    def resume(self) -> None:
        self.go.set()


async def _published_backlog(system: RunningSystem) -> int:
    """Complaints intake has accepted and published (routing, stopped, has not consumed the latest)."""
    while True:
        accepted = await system.scalar(ACCEPTED)
        if await system.scalar(UNPUBLISHED) == 0 and accepted > await system.handled_cases():
            return accepted
        await asyncio.sleep(0.1)


async def _audit_until_clean(system: RunningSystem, timeout: float = 120) -> AuditReport:
    deadline = time.monotonic() + timeout
    while True:
        report = await audit(system.database_url, bootstrap_servers=system.broker.bootstrap_servers)
        if report.ok or time.monotonic() > deadline:
            return report
        _phase(f"audit: {[(c, len(g)) for c, g in report.by_check().items()]}")
        await asyncio.sleep(3)
