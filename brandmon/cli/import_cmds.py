"""`brandmon import`: CSV, JSONL or Parquet files → a raw run → the normal ingest."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from brandmon.cli.common import console, fail, settings_of

cli = typer.Typer()  # this module's top-level commands; register() adds them to the app


@cli.command("import")
def import_cmd(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="CSV, JSONL or Parquet files (format from the name)."),
    source: str = typer.Option(..., "--source", "-s", help="Source name the rows are stored under."),
    mapping: list[str] = typer.Option(
        None,
        "--map",
        help="field=column pairs, comma-separated: text=body,author=user,posted_at=date,url=link "
        "(also id, thread_url, thread_title, likes, reach, rating, …). Default: the files "
        "source's options.map in sources.yaml.",
    ),
    fmt: str | None = typer.Option(None, "--format", help="csv, jsonl or parquet (default: from the name)."),
    encoding: str | None = typer.Option(None, "--encoding", help="CSV text encoding (default utf-8)."),
    delimiter: str | None = typer.Option(None, "--delimiter", help="CSV field separator (default ',')."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Import rows from files: checked row by row, then deduplicated, PII-masked and matched like crawled posts."""
    from flows.stages import run_stage  # the ingest stage's own write lock and logging
    from pipeline.config import ConfigError
    from pipeline.importing import ImportFailed, import_files
    from pipeline.ingest import IngestError
    from pipeline.store import Store

    s = settings_of(ctx)
    store = Store.from_settings(s)
    store.upgrade()
    try:
        res = import_files(s, store, files, source, mapping, fmt, encoding, delimiter)
        ing = run_stage("ingest", s, store, run_id=res.run_id) if res.items else {}
    except (ImportFailed, IngestError, ConfigError) as e:
        fail(str(e), 2)
    if as_json:
        print(json.dumps({"import": res.as_dict(), "ingest": ing}, ensure_ascii=False, default=str))
    else:
        t = Table("", "count", title=f"import into {source} (run {res.run_id})")
        rows = [("files read", res.files), ("rows", res.rows), ("rows imported", res.items), ("bad rows", res.bad_rows)]
        rows += [
            (k.replace("_", " "), ing.get(k, 0))
            for k in ("documents_new", "documents_updated", "documents_unchanged", "duplicates", "mentions")
        ]
        for k, v in rows:
            t.add_row(k, f"{v:,}")
        console.print(t)
        for err in res.file_errors:
            console.print(Text("file skipped: " + err, style="red"), soft_wrap=True)
        if res.bad_rows:
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(res.counts.items()))
            console.print(f"[yellow]{res.bad_rows:,} bad row(s)[/yellow] ({kinds}); first problems:")
            for err in res.errors[:10]:
                console.print(Text("  " + err), soft_wrap=True)
    if res.status == "failed":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add this module's commands and groups to the app."""
    app.registered_commands += cli.registered_commands
