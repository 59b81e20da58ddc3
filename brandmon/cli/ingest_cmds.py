"""`brandmon ingest`, `brandmon match`."""

from __future__ import annotations

import typer
from rich.table import Table
from rich.text import Text

from brandmon.cli.common import console, fail, settings_of, writing

cli = typer.Typer()  # this module's top-level commands; register() adds them to the app


@cli.command("ingest")
def ingest(
    ctx: typer.Context,
    run: str | None = typer.Option(None, "--run", help="Ingest (or re-ingest) this raw run folder only."),
    all_runs: bool = typer.Option(False, "--all", help="Re-ingest every raw run folder (a replay)."),
) -> None:
    """Raw crawl runs → documents, brand mentions, authors (pending finished runs by default)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from pipeline.config import ConfigError
    from pipeline.ingest import BAD_LINE_REASONS, IngestError, ingest_pending
    from pipeline.store import Store

    if run and all_runs:
        fail("use either --run ID or --all, not both", 2)
    s = settings_of(ctx)
    store = Store.from_settings(s)
    with (
        writing(s, "ingest"),
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed:,} items"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as prog,
    ):
        task = prog.add_task("ingesting", total=None)
        try:
            r = ingest_pending(s, store, run_id=run, all_runs=all_runs, progress=lambda n: prog.advance(task, n))
        except (IngestError, ConfigError) as e:
            fail(str(e), 2)
    if not r["runs"]:
        console.print("nothing to ingest: no finished crawl run is waiting (use --run ID or --all to replay)")
        return
    t = Table("", "count", title=f"ingest: {r['runs']} run(s)")
    for k in (
        "lines",
        "bad_lines",
        "documents_new",
        "documents_updated",
        "documents_unchanged",
        "duplicates",
        "spam",
        "mentions",
        "mentions_removed",
        "authors",
    ):
        t.add_row(k.replace("_", " "), f"{r.get(k, 0):,}")
    console.print(t)
    if r["mentions_by_brand"]:
        b = Table("brand", "mentions", title="mentions per brand")
        for brand, n in sorted(r["mentions_by_brand"].items(), key=lambda x: -x[1]):
            b.add_row(brand, f"{n:,}")
        console.print(b)
    if r["bad_lines"] or r.get("truncated_files") or r.get("damaged_files"):
        kinds = ", ".join(f"{k.replace('_', ' ')} {r[k]}" for k in BAD_LINE_REASONS if r.get(k))
        console.print(f"[yellow]{r['bad_lines']} bad line(s)[/yellow] ({kinds or 'none'}); first problems:")
        for problem in r["errors"][:10]:
            console.print(Text("  " + problem))
    if r.get("repaired"):
        console.print(
            f"{r['repaired']} line(s) repaired and kept (a byte order mark dropped; invalid UTF-8 or "
            "a lone surrogate replaced by U+FFFD)"
        )
    # damaged raw files are moved aside and the rest is stored: a warning, exit 0 (a rerun cannot do better)
    for q in r.get("quarantined", []):
        console.print(Text("warning: damaged raw file quarantined: " + q, style="yellow"))
    if r.get("damaged_files", 0) > len(r.get("quarantined", [])):
        console.print(
            Text(
                f"warning: {r['damaged_files'] - len(r.get('quarantined', []))} damaged raw file(s) "
                "could not be moved aside (see the log); the next ingest reports them again",
                style="yellow",
            )
        )


@cli.command("match")
def match(
    ctx: typer.Context,
    text: str = typer.Argument(..., help="Text to run the brand matcher on."),
    source: str | None = typer.Option(None, help="Source name (for excluded_sources)."),
) -> None:
    """Debug brand matching: which brands a text mentions, with spans and the scored context."""
    from pipeline.brands import build_matcher
    from pipeline.config import load_brands
    from pipeline.normalize import context_window, normalize_text

    s = settings_of(ctx)
    try:
        matcher = build_matcher(load_brands(s.brands_file), s)
    except ValueError as e:
        fail(str(e), 2)
    norm = normalize_text(text)
    found = matcher.match(norm, source)
    if not found:
        console.print("no brand mentioned")
        raise typer.Exit(1)
    t = Table("brand", "span", "matched", "context")
    for m in found:
        context, _ = context_window(norm, m.start, m.end, s.models.context_chars)
        t.add_row(m.brand_id, f"{m.start}-{m.end}", Text(m.matched), Text(context))
    console.print(t)


def register(app: typer.Typer) -> None:
    """Add this module's commands and groups to the app."""
    app.registered_commands += cli.registered_commands
