"""`brandmon` command line: a thin layer over the library.

Each area keeps its commands at module level in its own module here (``db_cmds``, ``crawl_cmds``, …), on that
module's own Typer, with a ``register(app)`` that adds them; what they share is in ``common``. This file only builds
the app, loads settings once and hands them down via ``ctx.obj``.

The contract every command keeps (see EPILOG): listings take ``--format table|csv|json``; a usage error, a bad
option value or a configuration problem is one line on stderr and exit 2; a database that stays locked or cannot be
opened is exit 3; a failed step is exit 1.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from brandmon.cli.common import EXIT_DATABASE, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, console
from brandmon.cli.common import one_line as _one_line
from pipeline.config import ConfigError, Settings, load_settings
from pipeline.logs import configure_logging
from pipeline.priority import lower_cpu_priority
from pipeline.store import StoreError

EPILOG = (
    "Exit codes: 0 ok; 1 a step failed; 2 a usage or configuration error (bad option value, unknown name, invalid "
    "settings file); 3 a database error (the file stays locked by another process past lock_timeout_seconds, or "
    "cannot be opened). Listings take --format table|csv|json. Shell completion: brandmon --install-completion."
)


class BrandmonGroup(TyperGroup):
    """The root command: turns usage errors, configuration errors and database errors into one line on stderr
    and the documented exit code, wherever the command is run from (the console script, `python -m`, a test)."""

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: Any = None,
        complete_var: Any = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as e:  # typer's (vendored click's) usage and parameter errors
            if type(e).__name__ == "NoArgsIsHelpError":
                sys.exit(EXIT_OK)  # the help has been printed
            ctx = getattr(e, "ctx", None)
            hint = f" (see {ctx.command_path} --help)" if ctx is not None else ""
            _one_line("error", e.format_message() + hint)
            code = getattr(e, "exit_code", EXIT_USAGE)
        except typer.Abort:
            _one_line("error", "aborted")
            code = EXIT_FAILURE
        except ConfigError as e:
            _one_line("config error", str(e))
            code = EXIT_USAGE
        except StoreError as e:
            _one_line("database error", str(e))
            code = EXIT_DATABASE
        sys.exit(code if isinstance(code, int) else EXIT_OK)


def _version(value: bool) -> None:
    if value:
        console.print(f"brandmon {package_version()}", highlight=False)
        raise typer.Exit(EXIT_OK)


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("brandmon")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


app = typer.Typer(
    name="brandmon",
    cls=BrandmonGroup,
    help="Brand reputation monitoring: crawl, find mentions, score, cluster complaints, escalate.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)

# Long writing jobs: in their own process they take `schedule.nice` (readers on the machine keep their speed).
BACKGROUND_COMMANDS = frozenset({"run", "serve", "crawl", "ingest", "score", "rescore", "escalate", "import", "train"})
_own_process = False  # set by main(): an embedding caller (a notebook, a test's CliRunner) keeps its priority

# Command modules, in the order their commands appear in --help.
COMMAND_MODULES = [
    "brandmon.cli.db_cmds",
    "brandmon.cli.crawl_cmds",
    "brandmon.cli.queue_cmds",
    "brandmon.cli.flow_cmds",
    "brandmon.cli.demoweb_cmds",
    "brandmon.cli.ingest_cmds",
    "brandmon.cli.models_cmds",
    "brandmon.cli.themes_cmds",
    "brandmon.cli.dashboard_cmds",
    "brandmon.cli.notify_cmds",
    "brandmon.cli.report_cmds",
    "brandmon.cli.import_cmds",
    "brandmon.cli.export_cmds",
]


@app.callback()
def _root(
    ctx: typer.Context,
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Settings TOML (default: $BRANDMON_CONFIG or ./brandmon.toml)."
    ),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Data folder (default: ./data)."),
    db: Path | None = typer.Option(None, "--db", help="DuckDB file (default: <data-dir>/brandmon.duckdb)."),
    log_level: str | None = typer.Option(None, "--log-level", help="DEBUG, INFO, WARNING, ..."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    # absolute before any subprocess (the crawler, a flow, the dashboard) sees them: those run in other folders
    config, data_dir, db = (p.absolute() if p is not None else None for p in (config, data_dir, db))
    ctx.obj = _settings_from(config, data_dir=data_dir, db_path=db, log_level=log_level)
    configure_logging(ctx.obj.log_level, ctx.obj.log_file)
    if _own_process and ctx.invoked_subcommand in BACKGROUND_COMMANDS:
        lower_cpu_priority(ctx.obj.schedule.nice)


def _settings_from(config: Path | None, **overrides) -> Settings:
    try:
        return load_settings(config, **overrides)
    except ConfigError as e:
        _one_line("config error", str(e))
        raise typer.Exit(EXIT_USAGE) from None


for _mod in COMMAND_MODULES:
    importlib.import_module(_mod).register(app)


def main() -> None:
    global _own_process
    _own_process = True
    app(prog_name="brandmon")  # BrandmonGroup.main maps every error to its exit code
