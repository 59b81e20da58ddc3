"""`brandmon` command line: a thin layer over the library.

Each area keeps its commands in its own module here (``db_cmds``, ``crawl_cmds``, …) exposing
``register(app)``; this file only builds the app, loads settings once and hands them down via ``ctx.obj``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape  # messages quote config values and queries: never read them as markup

from pipeline.config import ConfigError, Settings, load_settings
from pipeline.logs import configure_logging
from pipeline.store import StoreError

app = typer.Typer(
    name="brandmon",
    help="Brand reputation monitoring: crawl, find mentions, score, cluster complaints, escalate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

# Command modules, in the order their commands appear in --help.
COMMAND_MODULES = [
    "pipeline.cli.db_cmds",
    "pipeline.cli.crawl_cmds",
    "pipeline.cli.queue_cmds",
    "pipeline.cli.flow_cmds",
    "pipeline.cli.demoweb_cmds",
    "pipeline.cli.ingest_cmds",
    "pipeline.cli.models_cmds",
    "pipeline.cli.themes_cmds",
    "pipeline.cli.dashboard_cmds",
    "pipeline.cli.notify_cmds",
    "pipeline.cli.report_cmds",
    "pipeline.cli.import_cmds",
    "pipeline.cli.export_cmds",
]


@app.callback()
def _root(
    ctx: typer.Context,
    config: Optional[Path] = typer.Option(
        None, "--config", "-c", help="Settings TOML (default: $BRANDMON_CONFIG or ./brandmon.toml)."
    ),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Data folder (default: ./data)."),
    db: Optional[Path] = typer.Option(None, "--db", help="DuckDB file (default: <data-dir>/brandmon.duckdb)."),
    log_level: Optional[str] = typer.Option(None, "--log-level", help="DEBUG, INFO, WARNING, ..."),
) -> None:
    # absolute before any subprocess (the crawler, a flow, the dashboard) sees them: those run in other folders
    config, data_dir, db = (p.absolute() if p is not None else None for p in (config, data_dir, db))
    ctx.obj = _settings_from(config, data_dir=data_dir, db_path=db, log_level=log_level)
    configure_logging(ctx.obj.log_level, ctx.obj.log_file)


def _settings_from(config: Optional[Path], **overrides) -> Settings:
    try:
        return load_settings(config, **overrides)
    except ConfigError as e:
        err_console.print(f"[red]config error:[/red] {escape(str(e))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)


def settings_of(ctx: typer.Context) -> Settings:
    """The settings built by the root callback (commands take them from here, never from globals)."""
    obj = ctx.find_root().obj
    if not isinstance(obj, Settings):  # called outside the app (tests invoking a sub-command directly)
        obj = load_settings()
    return obj


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


for _mod in COMMAND_MODULES:
    importlib.import_module(_mod).register(app)


def main() -> None:
    try:
        app()
    except ConfigError as e:
        err_console.print(f"[red]config error:[/red] {escape(str(e))}", highlight=False, soft_wrap=True)
        raise SystemExit(2)
    except StoreError as e:
        err_console.print(f"[red]database error:[/red] {e}", highlight=False)
        raise SystemExit(3)
