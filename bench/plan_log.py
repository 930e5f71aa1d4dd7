"""The plans PostgreSQL ran, as `auto_explain` logs them in a profiled benchmark run (`--profile`).

pg_stat_statements says which statements took the time; a plan says why. A statement a connection has used
five times runs its cached generic plan, made for the tables as they were then; such a plan can read a
table whole long after the table grew (bench/README.md, the eighth stop of issue 14). The summary lists, per
statement, how many of its sampled plans read a table whole and how much they read.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

DIRECTORY = "plans"  # under the data directory: the only place the server's own user may write
SAMPLE_RATE = 0.1

# One statement in ten, each node's rows and blocks as run (no per-node timing: it would cost more than the
# statement); logged by PostgreSQL's own collector into DIRECTORY, readable by the benchmark.
SETTINGS = (
    "auto_explain.log_min_duration = 0\n"
    f"auto_explain.sample_rate = {SAMPLE_RATE}\n"
    "auto_explain.log_analyze = on\n"
    "auto_explain.log_buffers = on\n"
    "auto_explain.log_timing = off\n"
    "logging_collector = on\n"
    f"log_directory = '{DIRECTORY}'\n"
    "log_file_mode = 0644\n"
)

_ENTRY = re.compile(r"^\S+ \S+ \S+ \[\d+\] LOG:  duration: ", re.MULTILINE)
_QUERY = re.compile(r"Query Text: (.*)")
_SEQ_SCAN = re.compile(r"Seq Scan on (\w+)")
_REMOVED = re.compile(r"Rows Removed by Filter: (\d+)")
_BLOCKS = re.compile(r"Buffers: shared hit=(\d+)(?: read=(\d+))?")


@dataclass
class StatementPlans:
    sampled: int = 0
    reading_whole: int = 0  # plans with a sequential scan
    blocks: int = 0  # the top node's, summed over the sampled plans
    rows_removed: int = 0
    tables: set[str] = field(default_factory=set)


@dataclass
class PlanLog:
    """The server's log of plans; `mark()` starts what the next `summary()` covers."""

    directory: Path
    marks: dict[Path, int] = field(default_factory=dict)

    def mark(self) -> None:
        self.marks = {path: path.stat().st_size for path in self._files()}

    def summary(self, top: int = 30) -> str:
        by_statement: dict[str, StatementPlans] = defaultdict(StatementPlans)
        for plan in self._plans():
            if (query := _QUERY.search(plan)) is None:
                continue
            plans = by_statement[re.sub(r"\s+", " ", query[1])[:200]]
            plans.sampled += 1
            if blocks := _BLOCKS.search(plan):
                plans.blocks += int(blocks[1]) + int(blocks[2] or 0)
            if scanned := _SEQ_SCAN.findall(plan):
                plans.reading_whole += 1
                plans.tables.update(scanned)
                plans.rows_removed += sum(int(n) for n in _REMOVED.findall(plan))
        ranked = sorted(by_statement.items(), key=lambda item: -item[1].blocks)[:top]
        heading = (
            f"plans sampled (1 in {round(1 / SAMPLE_RATE)}), by the blocks they read; 'whole' counts the plans "
            "with a sequential scan (of the tables named), and the rows those scans filtered out on average"
        )
        lines = [
            heading,
            *(
                f"{p.sampled:>6} sampled {p.blocks // p.sampled:>7} blocks each {p.reading_whole:>6} whole "
                f"{p.rows_removed // max(p.reading_whole, 1):>7} rows removed  "
                f"{','.join(sorted(p.tables)) or '-':<24} {query}"
                for query, p in ranked
            ),
        ]
        return "\n".join(lines) + "\n"

    def _files(self) -> list[Path]:
        return sorted(self.directory.glob("*.log"))

    def _plans(self) -> list[str]:
        text = ""
        for path in self._files():
            with path.open("rb") as log:
                log.seek(self.marks.get(path, 0))
                text += log.read().decode("utf-8", errors="replace")
        return _ENTRY.split(text)[1:]
