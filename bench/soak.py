"""Soak benchmark: a steady stream of complaints through the HTTP push, staff closing cases, for minutes.

    .venv/bin/python bench/soak.py [--minutes 10] [--rate 200] [--warmup-minutes 3]

Starts its own PostgreSQL, Tansu broker and the four services (as bench/pipeline.py does), then pushes
`--rate` work orders a second to intake's `POST /v1/hotline/orders` (batches every 100 ms), received now,
about `--compounds` compounds and every category, so repeated reports merge into open cases as they do
in a district (the open cases level off instead of growing with every complaint). Staff act through
routing's API meanwhile: `--closures` routed cases a second are accepted, resolved and called back
(satisfied), so cases close, leave the SLA watch's memory after `--archive-after` seconds, and new
complaints open new ones. Every `--sample-seconds` it records each process's resident memory; at the end
it prints, per minute, RSS per service and the p99 latency of a complaint (pushed → its case routed or
escalated, or its co-complainant recorded) and of the push itself; and per service the RSS slope after
the warm-up (MiB per minute, least squares). Writes bench/out/soak-<timestamp>.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import httpx
import psutil
from pipeline import OUT_DIR, Infrastructure, console, make_work_dir, start_infrastructure
from rich.table import Table

from district.registry import load_districts
from district.sample_hotline import synthetic_order
from eventcore.logging import configure_logging
from schemas.reference import Category

BEIJING = timezone(timedelta(hours=8))
PUSH_EVERY = 0.1
STAFF = "soak.staff"


@dataclass
class Figures:
    started: float = field(default_factory=time.monotonic)
    pushed: int = 0
    push_failures: int = 0
    push_latency: list[tuple[float, float]] = field(default_factory=list)  # (minute, seconds)
    closed: int = 0
    staff_refusals: int = 0
    memory: list[dict[str, float]] = field(default_factory=list)  # minute + MiB per process
    sla_cases: list[tuple[float, int, int]] = field(default_factory=list)  # minute, in memory, archived

    def minute(self) -> float:
        return (time.monotonic() - self.started) / 60


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=200, help="work orders pushed a second")
    parser.add_argument("--warmup-minutes", type=float, default=3.0, help="left out of the memory slope")
    parser.add_argument(
        "--compounds", type=int, default=300, help="how many compounds the complaints are about"
    )
    parser.add_argument("--closures", type=float, default=15.0, help="routed cases closed a second by staff")
    parser.add_argument(
        "--archive-after", type=float, default=60.0, help="seconds; CASELINE_SLA_ARCHIVE_AFTER_HOURS"
    )
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    return parser.parse_args()


def order_factory(compounds: int) -> Any:
    district = load_districts().founding
    directory = district.directory
    rng = random.Random(20_261_118)
    places = rng.sample(list(directory.compounds), min(compounds, len(directory.compounds)))
    streets = {street.code: street.name_zh for street in directory.streets}
    categories = list(Category)
    counter = iter(range(10**9))

    def order() -> dict[str, str]:
        index = next(counter)
        compound = rng.choice(places)
        record = synthetic_order(rng, directory, index, rng.choice(categories), "named", prefix="SOAK")
        now = datetime.now(BEIJING).replace(microsecond=0)
        return record | {
            "order_no": f"SOAK-{index:09d}",
            "received_at": now.isoformat(),
            "address": f"{compound.name_zh}{rng.randint(1, 12)}号楼",
            "street": streets.get(compound.street_code, ""),
            "compound": compound.name_zh,
        }

    return order


async def push(url: str, rate: int, until: float, figures: Figures, make_order: Any) -> None:
    """`rate` orders a second, in a batch every PUSH_EVERY seconds, on schedule (late batches catch up)."""
    per_batch = max(1, round(rate * PUSH_EVERY))
    async with httpx.AsyncClient(timeout=30) as client:
        next_at = time.monotonic()
        while time.monotonic() < until:
            orders = [make_order() for _ in range(per_batch)]
            sent = time.monotonic()
            try:
                answer = await client.post(url, json=orders, headers=_token("hotline-platform"))
                ok = answer.status_code < 300
            except httpx.HTTPError:
                ok = False
            figures.push_latency.append((figures.minute(), time.monotonic() - sent))
            figures.pushed += per_batch if ok else 0
            figures.push_failures += 0 if ok else per_batch
            next_at += PUSH_EVERY
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))


async def close_cases(base: str, per_second: float, until: float, figures: Figures) -> None:
    """Staff at work: routed cases accepted, resolved and called back (satisfied), oldest first."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.monotonic() < until:
            started = time.monotonic()
            listed = await client.get(
                "/cases",
                params={"state": "routed", "limit": max(1, int(per_second))},
                headers=_token("centre"),
            )
            for case in listed.json() if listed.status_code == 200 else []:
                if await _close(client, case):
                    figures.closed += 1
                else:
                    figures.staff_refusals += 1
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))


async def _close(client: httpx.AsyncClient, case: dict[str, Any]) -> bool:
    unit, version, case_id = case["unit_code"], case["version"], case["case_id"]
    steps = [
        ("accept", unit, {}),
        ("resolve", unit, {"resolution": "fixed on site"}),
        ("callback", "centre", {"outcome": "satisfied"}),
    ]
    for command, who, body in steps:
        answer = await client.post(
            f"/cases/{case_id}/{command}",
            json={"expected_version": version, "staff_id": STAFF, **body},
            headers=_token(who),
        )
        if answer.status_code != 200:
            return False  # a co-complainant arrived meanwhile (stale version) or it escalated: next time
        version = answer.json()["version"]
    return True


def _token(who: str) -> dict[str, str]:
    """The development credentials (a unit's, the hotline platform's): `caseline up` prints them."""
    return {"Authorization": f"Bearer dev-{who}"}


async def sample(
    infra: Infrastructure, sla_metrics: str, every: float, until: float, figures: Figures
) -> None:
    processes = {s.name: psutil.Process(s.process.pid) for s in infra.services}
    processes["broker"] = psutil.Process(infra.broker.process.pid)
    postmaster = psutil.Process(int((infra.work_dir / "pg" / "postmaster.pid").read_text().split()[0]))
    async with httpx.AsyncClient(timeout=10) as client:
        while time.monotonic() < until:
            row: dict[str, float] = {"minute": figures.minute()}
            for name, process in processes.items():
                row[name] = process.memory_info().rss / 2**20
            # PostgreSQL: every backend's RSS summed, so its shared buffers count more than once
            row["postgres"] = sum(_rss(p) for p in [postmaster, *postmaster.children(recursive=True)]) / 2**20
            figures.memory.append(row)
            text = (await client.get(sla_metrics)).text
            held = {m: int(float(v)) for m, v in _held(text)}
            figures.sla_cases.append((row["minute"], held.get("in_memory", 0), held.get("archived", 0)))
            await asyncio.sleep(every)


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except psutil.Error:
        return 0


def _held(text: str) -> list[tuple[str, str]]:
    found = []
    for line in text.splitlines():
        if line.startswith("caseline_sla_watch_cases{"):
            label, value = line.split("} ")
            found.append((label.split('"')[1], value))
    return found


async def complaint_latency(dsn: str, started_at: datetime) -> list[tuple[int, float, int]]:
    """Per minute of arrival: p99 seconds from a complaint's ComplaintReceived to routing's effect, and count."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "WITH done AS (SELECT metadata->>'causation_id' AS cause, min(recorded_at) AS at FROM routing.events "
            "WHERE event_type IN ('CaseOpened', 'CoComplainantAdded') GROUP BY 1) "
            "SELECT floor(extract(epoch FROM i.recorded_at - $1::timestamptz) / 60)::int AS minute, "
            "percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM d.at - i.recorded_at)) AS p99, "
            "count(*) AS n FROM intake.events i JOIN done d ON d.cause = i.event_id::text "
            "WHERE i.event_type IN ('ComplaintReceived', 'ComplaintMerged') GROUP BY 1 ORDER BY 1",
            started_at,
        )
    finally:
        await conn.close()
    return [(r["minute"], float(r["p99"]), int(r["n"])) for r in rows]


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope (MiB per minute)."""
    if len(points) < 3:
        return float("nan")
    xs, ys = zip(*points, strict=True)
    return statistics.linear_regression(xs, ys).slope


async def soak(args: argparse.Namespace, infra: Infrastructure) -> dict[str, Any]:
    ports = {s.name: s.health_url.rsplit("/", 1)[0] for s in infra.services}
    figures = Figures()
    started_at = datetime.now(UTC)
    until = time.monotonic() + args.minutes * 60
    await asyncio.gather(
        push(
            f"{ports['intake']}/v1/hotline/orders", args.rate, until, figures, order_factory(args.compounds)
        ),
        close_cases(ports["routing"], args.closures, until, figures),
        sample(infra, f"{ports['sla']}/metrics", args.sample_seconds, until, figures),
    )
    await asyncio.sleep(10)  # let routing finish what was pushed last
    return report(args, figures, await complaint_latency(infra.dsn, started_at))


def report(
    args: argparse.Namespace, figures: Figures, latency: list[tuple[int, float, int]]
) -> dict[str, Any]:
    names = [name for name in figures.memory[0] if name != "minute"]
    after = [row for row in figures.memory if row["minute"] >= args.warmup_minutes]
    slopes = {name: slope([(row["minute"], row[name]) for row in after]) for name in names}
    per_minute: dict[int, dict[str, Any]] = {}
    for row in figures.memory:
        per_minute.setdefault(int(row["minute"]), {}).update({n: round(row[n], 1) for n in names})
    for minute, seconds in figures.push_latency:
        per_minute.setdefault(int(minute), {}).setdefault("push", []).append(seconds)
    for minute, p99, count in latency:
        per_minute.setdefault(minute, {}).update({"complaint_p99": round(p99, 2), "complaints": count})
    for values in per_minute.values():
        pushes = sorted(values.pop("push", []))
        values["push_p99"] = round(pushes[int(0.99 * (len(pushes) - 1))], 3) if pushes else None
    held = figures.sla_cases[-1] if figures.sla_cases else (0, 0, 0)
    return {
        "args": vars(args),
        "pushed": figures.pushed,
        "push_failures": figures.push_failures,
        "closed_by_staff": figures.closed,
        "staff_refusals": figures.staff_refusals,
        "sla_cases_in_memory_at_end": held[1],
        "sla_cases_archived_at_end": held[2],
        "slope_mib_per_minute_after_warmup": {n: round(v, 3) for n, v in slopes.items()},
        "per_minute": {str(k): v for k, v in sorted(per_minute.items())},
        "sla_cases": figures.sla_cases,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }


def print_report(result: dict[str, Any]) -> None:
    names = list(result["slope_mib_per_minute_after_warmup"])
    table = Table(
        title=f"soak: {result['args']['rate']}/s for {result['args']['minutes']:g} min, {result['cpus']} CPUs"
    )
    table.add_column("minute", justify="right")
    for name in names:
        table.add_column(f"{name} MiB", justify="right")
    table.add_column("complaint p99 s", justify="right")
    table.add_column("push p99 s", justify="right")
    for minute, values in result["per_minute"].items():
        table.add_row(
            minute,
            *(str(values.get(n, "")) for n in names),
            str(values.get("complaint_p99", "")),
            str(values.get("push_p99", "")),
        )
    table.add_row(
        "slope", *(f"{result['slope_mib_per_minute_after_warmup'][n]:+.2f}/min" for n in names), "", ""
    )
    console.print(table)
    console.print(
        f"pushed {result['pushed']} (failed {result['push_failures']}), closed by staff {result['closed_by_staff']}"
        f" (refused {result['staff_refusals']}); SLA watch at the end: {result['sla_cases_in_memory_at_end']} cases"
        f" in memory, {result['sla_cases_archived_at_end']} archived"
    )


def main() -> int:
    args = parse_args()
    configure_logging("soak", json=False, level="WARNING")
    os.environ.setdefault("CASELINE_SLA_ARCHIVE_AFTER_HOURS", str(args.archive_after / 3600))
    os.environ.setdefault("CASELINE_LOG_LEVEL", "WARNING")
    work_dir = make_work_dir()
    infra = start_infrastructure(work_dir)
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S}"
    try:
        result = asyncio.run(soak(args, infra))
    finally:
        infra.stop()
        shutil.copytree(work_dir / "logs", OUT_DIR / f"soak-logs-{stamp}", dirs_exist_ok=True)
    print_report(result)
    OUT_DIR.mkdir(exist_ok=True)
    out = OUT_DIR / f"soak-{stamp}.json"
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    console.print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
