"""The issue's "done when", measured: realistic platform exports through intake, against the truth.

    .venv/bin/python bench/hotline_export.py [--feeds 10] [--format jsonl|csv]

Generates `--feeds` sample exports (district/sample_hotline.py, one seed each, order numbers kept apart),
each 300 lines in the platform's own taxonomy and words (paths, codes, catch-all labels, no label, a few
wrong labels, landlines, Chinese time formats, 8 broken lines, 12 re-sent orders), feeds them through intake
on a fresh embedded PostgreSQL exactly as `caseline feed hotline` does, and compares what intake stored with
what the generator knows: the share of well-formed records accepted, the share in the category a person
would choose, how many went to the centre's triage (with their candidates), how many are wrong and not in
triage, and that no well-formed record is among the dead letters. Writes bench/out/hotline_export.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from caseline.embedded import start_postgres
from district import sample_hotline
from eventcore.consumer import ServiceStores
from eventcore.database import create_pool, migrate
from eventcore.settings import Settings
from services.intake.app import EXTRA_DDL, SCHEMA, SERVICE, intake_context
from services.intake.handlers import feed_hotline_file

OUT = Path(__file__).resolve().parent / "out" / "hotline_export.json"


def write_exports(work: Path, feeds: int, fmt: str) -> tuple[list[Path], dict[str, str], int, int]:
    """The exports, order number -> true category, well-formed unique records, broken lines."""
    paths: list[Path] = []
    truth: dict[str, str] = {}
    well_formed = broken = 0
    for index in range(feeds):
        out = work / f"export-{index}"
        sample_hotline.write(out, seed=sample_hotline.SEED + index)
        feed = sample_hotline.build_feed(sample_hotline.SEED + index)
        source = out / (sample_hotline.FEED_NAME if fmt == "jsonl" else sample_hotline.CSV_NAME)
        renamed = source.read_bytes().replace(b"LZ12345-", f"E{index:02d}-".encode())
        target = work / f"export-{index}{source.suffix}"
        target.write_bytes(renamed)
        paths.append(target)
        truth |= {order.replace("LZ12345-", f"E{index:02d}-"): c.value for order, c in feed.truth.items()}
        well_formed += int(str(feed.expected["unique_valid"]))
        broken += int(str(feed.expected["bad_lines"])) if fmt == "jsonl" else len(_csv_bad(out))
    return paths, truth, well_formed, broken


def _csv_bad(out: Path) -> dict[str, str]:
    expected = json.loads((out / sample_hotline.EXPECTED_NAME).read_text(encoding="utf-8"))
    bad: dict[str, str] = expected["csv"]["bad_line_numbers"]
    return bad


async def measure(dsn: str, paths: list[Path], truth: dict[str, str]) -> dict[str, Any]:
    pool = await create_pool(dsn, max_size=2)
    try:
        await migrate(pool, SCHEMA, EXTRA_DDL)
        stores = ServiceStores(pool, SCHEMA, source=f"/caseline/{SERVICE}")
        ctx = intake_context(Settings())
        rejected: Counter[str] = Counter()
        for path in paths:
            summary = await feed_hotline_file(stores, ctx, path)
            rejected.update(summary.rejected)
        rows = await pool.fetch(f"SELECT data FROM {SCHEMA}.events WHERE stream_version = 1")
        letters = await pool.fetch(f"SELECT details FROM {SCHEMA}.dead_letters")
    finally:
        await pool.close()
    return judge(
        [json.loads(r["data"]) if isinstance(r["data"], str) else r["data"] for r in rows],
        truth,
        rejected,
        letters,
    )


def judge(
    events: list[dict[str, Any]], truth: dict[str, str], rejected: Counter[str], letters: list[Any]
) -> dict[str, Any]:
    right = wrong_triaged = wrong_silent = right_triaged = 0
    by_source: Counter[str] = Counter()
    wrong_pairs: Counter[str] = Counter()
    for event in events:
        decision = event.get("category_decision") or {}
        triage = bool(decision.get("needs_triage"))
        by_source[decision.get("source", "?")] += 1
        correct = event["category"] == truth[event["source_ref"]]
        candidates = [c["category"] for c in decision.get("candidates", [])]
        if correct:
            right += 1
            right_triaged += triage
        elif triage and truth[event["source_ref"]] in candidates:
            wrong_triaged += 1
        else:
            wrong_silent += 1
            wrong_pairs[f"{truth[event['source_ref']]} -> {event['category']}"] += 1
    accepted = len(events)
    well_formed_refused = sum(1 for d in letters if _details(d).get("order_no") in truth)
    return {
        "well_formed": len(truth),
        "accepted": accepted,
        "accepted_share": round(accepted / len(truth), 4),
        "right_category": right,
        "right_share": round(right / accepted, 4),
        "in_triage_with_truth_among_candidates": wrong_triaged,
        "right_but_sent_to_triage": right_triaged,
        "wrong_not_in_triage": wrong_silent,
        "wrong_pairs": dict(wrong_pairs.most_common(10)),
        "by_source": dict(by_source),
        "rejected_by_kind": dict(rejected),
        "well_formed_in_dead_letters": well_formed_refused,
    }


def _details(raw: Any) -> dict[str, Any]:
    value = json.loads(raw) if isinstance(raw, str) else raw
    return value if isinstance(value, dict) else {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--feeds", type=int, default=10)
    parser.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="clhx-", dir="/tmp"))
    try:
        paths, truth, well_formed, broken = write_exports(work, args.feeds, args.format)
        dsn = start_postgres(work / "pg")
        figures = asyncio.run(measure(dsn, paths, truth))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    figures |= {"feeds": args.feeds, "format": args.format, "broken_lines": broken}
    assert figures["well_formed"] == well_formed
    print(
        f"{args.feeds} exports ({args.format}), {well_formed} well-formed unique records, {broken} broken lines"
    )
    print(f"accepted: {figures['accepted']} ({figures['accepted_share']:.1%} of the well-formed)")
    print(
        f"in the category a person would choose: {figures['right_category']} ({figures['right_share']:.1%})"
    )
    print(
        f"wrong but in the centre's triage, the right one among the candidates: {figures['in_triage_with_truth_among_candidates']}"
    )
    print(f"wrong and not in triage: {figures['wrong_not_in_triage']} {figures['wrong_pairs']}")
    print(f"right but sent to triage anyway: {figures['right_but_sent_to_triage']}")
    print(f"decided by: {figures['by_source']}; refused: {figures['rejected_by_kind']}")
    print(f"well-formed records among the dead letters: {figures['well_formed_in_dead_letters']}")
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(figures, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
