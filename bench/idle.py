"""What the system costs doing nothing: each process's CPU seconds while no work arrives.

    .venv/bin/python bench/idle.py                  # 10 s, after 8 s to settle
    .venv/bin/python bench/idle.py --seconds 30

Starts its own PostgreSQL, Tansu broker and the four services (as bench/pipeline.py does), waits for them to
settle, then samples every process's user + system CPU over the window. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time

from pipeline import ResourceSampler, console, make_work_dir, start_infrastructure, watched_processes
from rich.table import Table

from eventcore.logging import configure_logging


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--settle", type=float, default=8, help="seconds to wait after the services are up")
    args = parser.parse_args()
    configure_logging("idle", json=False, level="WARNING")
    os.environ.setdefault("CASELINE_LOG_LEVEL", "WARNING")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the embedded PostgreSQL is stopped at exit
    infra = start_infrastructure(make_work_dir())
    try:
        time.sleep(args.settle)
        watched = {name: w for name, w in watched_processes(infra).items() if not name.startswith("bench")}
        with ResourceSampler(watched, interval=1.0) as sampler:
            time.sleep(args.seconds)
    finally:
        infra.stop()
    table = Table(title=f"idle for {args.seconds:g} s: CPU seconds per process")
    table.add_column("process")
    table.add_column("CPU s", justify="right")
    table.add_column("% of a core", justify="right")
    for name, usage in sampler.usage.items():
        table.add_row(name, f"{usage.cpu_seconds:.2f}", f"{100 * usage.cpu_seconds / args.seconds:.1f}")
    total = sum(u.cpu_seconds for u in sampler.usage.values())
    table.add_row("all", f"{total:.2f}", f"{100 * total / args.seconds:.1f}")
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
