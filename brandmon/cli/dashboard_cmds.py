"""`brandmon dashboard`: run the Streamlit app on localhost over the configured database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from brandmon.cli.common import console, fail, settings_of

cli = typer.Typer()  # this module's top-level commands; register() adds them to the app

if TYPE_CHECKING:
    from pipeline.config import Settings

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def streamlit_command(app: Path, host: str, port: int, config: Path | None) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "minimal",
    ]
    if config is not None:
        cmd += ["--", "--config", str(config)]
    return cmd


def dashboard_env(settings: Settings, config: Path | None) -> dict[str, str]:
    """The app loads its own settings; pass the resolved paths so it opens the same database as this CLI."""
    env = dict(os.environ)
    env["BRANDMON_DATA_DIR"] = str(Path(settings.data_dir).resolve())
    env["BRANDMON_DB_PATH"] = str(Path(settings.db_path).resolve())
    if config is not None:
        env["BRANDMON_CONFIG"] = str(Path(config).resolve())
    return env


@cli.command("dashboard")
def dashboard(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="Address to listen on (default 127.0.0.1)."),
    port: int | None = typer.Option(None, "--port", help="Port (default 8501)."),
) -> None:
    """Start the Streamlit dashboard on localhost (headless; open the printed URL)."""
    s = settings_of(ctx)
    if not s.store.url and not Path(s.db_path).exists():  # a team server's store has no file here
        fail(f"{s.db_path}: no database yet; run `brandmon db upgrade` (or `make demo`) first", 2)
    root = ctx.find_root().params if ctx.find_root() else {}
    config = root.get("config") or (Path(os.environ["BRANDMON_CONFIG"]) if os.environ.get("BRANDMON_CONFIG") else None)
    h, p = host or s.dashboard.host, port or s.dashboard.port
    console.print(f"dashboard: http://{h}:{p}  (database {s.db_path}; Ctrl+C to stop)")
    try:
        raise typer.Exit(subprocess.call(streamlit_command(APP, h, p, config), env=dashboard_env(s, config)))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def register(app: typer.Typer) -> None:
    """Add this module's commands and groups to the app."""
    app.registered_commands += cli.registered_commands
