"""`brandmon export`: a table or view → Parquet or CSV."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from brandmon.cli.common import console, fail, settings_of

cli = typer.Typer()  # this module's top-level commands; register() adds them to the app


@cli.command("export")
def export_cmd(
    ctx: typer.Context,
    table: str = typer.Option(
        ...,
        "--table",
        "-t",
        help="mentions, documents, scores, escalations, … or a view: mention_facts, current_scores.",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="The file to write (replaced if it exists)."),
    fmt: str | None = typer.Option(None, "--format", help="parquet or csv (default: from --out's suffix)."),
    since: str | None = typer.Option(
        None, "--since", help="Rows from then on: 2024-05-01, 7d, 24h (post time where rows belong to a post)."
    ),
    brand: str | None = typer.Option(None, "--brand", "-b", help="Rows of one brand id only."),
    raw_cells: bool = typer.Option(
        False,
        "--raw-cells",
        help="CSV: write text cells exactly as stored (by default a cell starting with = + - @ gets a leading ').",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Export a table or view to Parquet or CSV, streamed by DuckDB from a read-only connection."""
    from pipeline.exporting import ExportError, export_table, parse_since
    from pipeline.store import Store

    store = Store.from_settings(settings_of(ctx))
    try:
        res = export_table(
            store, table, out, fmt, parse_since(since) if since else None, brand, safe_cells=not raw_cells
        )
    except ExportError as e:
        fail(str(e), 2)
    if as_json:
        print(
            json.dumps(
                {
                    "table": res.table,
                    "path": str(res.path),
                    "format": res.fmt,
                    "rows": res.rows,
                    "seconds": res.seconds,
                    "filters": res.filters,
                },
                ensure_ascii=False,
            )
        )
        return
    by = f" ({'; '.join(res.filters)})" if res.filters else ""
    console.print(
        f"{res.table}: {res.rows:,} rows → {res.path} ({res.fmt}, {res.seconds:.1f} s){by}",
        highlight=False,
        markup=False,
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands and groups to the app."""
    app.registered_commands += cli.registered_commands
