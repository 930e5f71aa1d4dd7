"""`caseline classify` and `caseline categories ...`: how intake decides categories, what its mappings miss,
whether a mapping file is fit to deploy, and what the centre's corrections teach."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from caseline.commandline import app, database_address
from eventcore.database import create_pool
from schemas.categorisation import CategoryDecision
from schemas.reference import Category
from services.intake.adapters.category_files import DEFAULT_PLATFORM, categoriser, read_taxonomy
from services.intake.domain.classification.taxonomy import TaxonomyError

categories_app = typer.Typer(
    help="Category mappings and the classifier: gaps, checks, corrections.", no_args_is_help=True
)
app.add_typer(categories_app, name="categories")
console = Console()
SCHEMA = "intake"


@app.command("classify")
def classify(
    text: Annotated[str, typer.Argument(help="the problem description, e.g. 楼道里电动车充电")],
    label: Annotated[str, typer.Option(help="the platform's label, code or path, if any")] = "",
    platform: Annotated[str, typer.Option(help="whose taxonomy reads the label")] = DEFAULT_PLATFORM,
    district: Annotated[str, typer.Option(help="the district (its own mapping file, if any)")] = "luzhou",
) -> None:
    """The category intake would give: source, confidence, the words that decided, the top three."""
    decision = categoriser().decide(platform, district, label, text)
    if decision is None:
        console.print(
            "[red]nothing says what the problem is: no description and no label the taxonomy knows[/red]"
        )
        raise typer.Exit(1)
    print_decision(console, decision)


def print_decision(out: Console, decision: CategoryDecision) -> None:
    triage = " [yellow](needs triage: the centre decides)[/yellow]" if decision.needs_triage else ""
    out.print(f"category:   [bold]{decision.category.value}[/bold]{triage}")
    out.print(
        f"source:     {decision.source.value}"
        + (f" (matched {decision.matched!r})" if decision.matched else "")
    )
    out.print(f"confidence: {decision.confidence:.2f}")
    if decision.contradiction:
        out.print(
            "[yellow]contradiction: the label maps, but the text is confidently of another category[/yellow]"
        )
    out.print(f"evidence:   {', '.join(decision.evidence) or '-'}", markup=False)
    for rank, candidate in enumerate(decision.candidates, start=1):
        out.print(f"  {rank}. {candidate.category.value:<24} {candidate.score:.2f}")


@categories_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a taxonomy YAML file")],
) -> None:
    """Validate a mapping file before deploying it: YAML errors, unknown categories, labels mapped to two
    categories, each with its line and entry. Exit 1 on any problem."""
    try:
        taxonomy = read_taxonomy(file)
    except TaxonomyError as error:
        console.print(f"[red]{file}: {len(error.problems)} problem(s)[/red]")
        for problem in error.problems:
            console.print(f"  {problem}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    per_category: dict[Category, int] = defaultdict(int)
    for table in (taxonomy.labels, taxonomy.codes, taxonomy.paths):
        for category, _ in table.values():
            per_category[category] += 1
    missing = [c.value for c in Category if not per_category[c]]
    console.print(
        f"{file}: platform {taxonomy.platform} version {taxonomy.version}: {len(taxonomy.labels)} labels, "
        f"{len(taxonomy.codes)} codes, {len(taxonomy.paths)} paths, {len(taxonomy.generic)} generic levels: OK"
    )
    if missing:
        console.print(f"[yellow]no entries for {', '.join(missing)} (the classifier decides those)[/yellow]")


@categories_app.command("unmapped")
def unmapped(
    platform: Annotated[str | None, typer.Option(help="only this platform's taxonomy")] = None,
    limit: Annotated[int, typer.Option(help="most labels shown")] = 50,
) -> None:
    """Platform labels intake has seen that no mapping knows, most frequent first, with the categories the
    classifier gave them: candidates for the platform's mapping file."""
    rows = asyncio.run(_unmapped(database_address(), platform))
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[(row["platform"], row["district"], row["label"])].append(row)
    ranked = sorted(grouped.items(), key=lambda item: -sum(r["seen"] for r in item[1]))
    table = Table(title=f"labels no mapping knows ({len(ranked)})")
    for column in ("platform", "district", "label", "seen", "classified as", "to triage"):
        table.add_column(column, overflow="fold")
    for (name, district, label), found in ranked[:limit]:
        found.sort(key=lambda r: -r["seen"])
        table.add_row(
            name,
            district,
            label,
            str(sum(r["seen"] for r in found)),
            ", ".join(f"{r['category']} {r['seen']}" for r in found),
            str(sum(r["triaged"] for r in found)),
        )
    console.print(table)
    if not ranked:
        console.print("every label seen so far is mapped")


async def _unmapped(dsn: str, platform: str | None) -> list[dict[str, Any]]:
    pool = await create_pool(dsn, max_size=1)
    try:
        async with pool.acquire() as conn:
            if await conn.fetchval("SELECT to_regclass($1)", f"{SCHEMA}.category_labels") is None:
                return []
            records = await conn.fetch(
                f"SELECT platform, district, label, category, seen, triaged FROM {SCHEMA}.category_labels "
                "WHERE source = 'classifier' AND ($1::text IS NULL OR platform = $1)",
                platform,
            )
            return [dict(r) for r in records]
    finally:
        await pool.close()


@categories_app.command("suggestions")
def suggestions(
    out: Annotated[
        Path | None, typer.Option(help="write the JSON document here instead of printing a summary")
    ] = None,
) -> None:
    """The centre's corrections as mapping suggestions (platform label -> corrected category, with counts)
    and as new labelled examples for the classifier's corpus (services/intake/corpus/train.yaml)."""
    document = asyncio.run(_suggestions(database_address()))
    if out is not None:
        out.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        console.print(
            f"wrote {out}: {len(document['mapping_suggestions'])} mapping suggestions, "
            f"{len(document['labelled_examples'])} labelled examples"
        )
        return
    table = Table(title="mapping suggestions (platform label -> corrected category)")
    for column in ("platform", "label", "to category", "corrections", "was"):
        table.add_column(column, overflow="fold")
    for s in document["mapping_suggestions"]:
        table.add_row(
            s["platform"], s["platform_label"], s["category"], str(s["corrections"]), ", ".join(s["was"])
        )
    console.print(table)
    console.print(f"{len(document['labelled_examples'])} labelled examples (write them out with --out FILE)")


async def _suggestions(dsn: str) -> dict[str, Any]:
    pool = await create_pool(dsn, max_size=1)
    try:
        async with pool.acquire() as conn:
            if await conn.fetchval("SELECT to_regclass($1)", f"{SCHEMA}.category_corrections") is None:
                return {"mapping_suggestions": [], "labelled_examples": []}
            return await suggestions_from(conn)
    finally:
        await pool.close()


async def suggestions_from(conn: Any, schema: str = SCHEMA) -> dict[str, Any]:
    """The latest correction of each case, its complaint's description and label (intake's own events)."""
    rows = await conn.fetch(
        f"SELECT DISTINCT ON (k.case_id) k.case_id, k.district, k.from_category, k.to_category, k.platform, "
        "k.platform_label, k.replaced_source, e.data->>'description' AS description "
        f"FROM {schema}.category_corrections k "
        f"LEFT JOIN {schema}.complaints c ON c.case_id = k.case_id AND NOT c.merged "
        f"LEFT JOIN {schema}.events e ON e.stream_id = 'complaint-' || c.complaint_id AND e.stream_version = 1 "
        "ORDER BY k.case_id, k.corrected_at DESC"
    )
    by_label: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    examples = []
    for row in rows:
        if row["platform_label"]:
            by_label[(row["platform"] or DEFAULT_PLATFORM, row["platform_label"], row["to_category"])].append(
                row["from_category"]
            )
        if row["description"]:
            examples.append(
                {
                    "category": row["to_category"],
                    "text": row["description"],
                    "was": row["from_category"],
                    "case_id": row["case_id"],
                }
            )
    mapping = [
        {
            "platform": platform,
            "platform_label": label,
            "category": category,
            "corrections": len(was),
            "was": sorted(set(was)),
        }
        for (platform, label, category), was in sorted(by_label.items(), key=lambda item: -len(item[1]))
    ]
    return {"mapping_suggestions": mapping, "labelled_examples": examples}
