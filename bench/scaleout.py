"""Throughput with one and with two replicas of every service, same input, fresh infrastructure each.

    .venv/bin/python bench/scaleout.py [--records N]

On this 2-core machine every process shares the same two cores, so a second replica mostly shows that
the work is shared without loss, not a speed-up; on real hardware each replica brings its own cores.
"""

from __future__ import annotations

import argparse
import sys

from pipeline import benchmark, console, make_work_dir, parse_args, write_report
from rich.table import Table

from eventcore.logging import configure_logging


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    options.add_argument("--records", type=int, default=20_000)
    records = options.parse_args(argv).records
    configure_logging("bench", json=False, level="WARNING")
    table = Table(title=f"Scale-out: {records:,} complaints")
    for column in (
        "replicas per service",
        "complete",
        "feed records/s",
        "end-to-end complaints/s",
        "p99 latency ms",
    ):
        table.add_column(column, justify="right")
    for replicas in (1, 2):
        report = benchmark(
            parse_args(["--records", str(records), "--replicas", str(replicas)]), make_work_dir()
        )
        write_report(report)
        end_to_end, latency = report["end_to_end"], report["latency_ms"]
        table.add_row(
            str(replicas),
            str(end_to_end["complete"]),
            f"{report['feed']['records_per_s']:,.0f}",
            f"{end_to_end['complaints_per_s'] or 0:,.0f}",
            f"{latency['p99']:,.0f}",
        )
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
