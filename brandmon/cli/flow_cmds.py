"""`brandmon run`, `brandmon serve`, `brandmon demo`: the Prefect flows from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table
from rich.text import Text

from brandmon.cli.common import console, err_console, fail, settings_of
from brandmon.cli.output import Format, cell, chosen, format_option, json_alias, print_frame, print_json

cli = typer.Typer()  # this module's top-level commands; register() adds them to the app

if TYPE_CHECKING:
    from pipeline.config import Settings


def _split(values: list[str] | None) -> list[str] | None:
    """Accept `--sources a,b` and `--sources a --sources b`."""
    out = [v.strip() for item in values or [] for v in item.split(",") if v.strip()]
    return out or None


def run_monitor(
    settings: Settings, *, sources=None, brands=None, stages=None, since=None, use_prefect=True, progress=None
) -> dict:
    """Run the monitor chain once, through Prefect (retries as tasks) or plainly (same chain, plain retries)."""
    from flows.deploy import prefect_env
    from pipeline.config import dump_without_secrets

    if use_prefect:
        prefect_env(settings)
        from flows.monitor import monitor_flow

        return monitor_flow(  # Prefect stores flow parameters: the settings go without their secrets
            settings=dump_without_secrets(settings), sources=sources, brands=brands, stages=stages, since=since
        )
    from flows import stages as st
    from flows.faults import store_for

    sch = settings.schedule
    return st.monitor_body(
        settings,
        store_for(settings),
        sources=sources,
        brands=brands,
        stages=stages,
        since=since,
        call_stage=st.with_retries(st.run_stage, sch.retries, sch.retry_delay_seconds, sch.retry_jitter_factor),
        call_crawl=st.with_retries(st.crawl_source, sch.retries, sch.retry_delay_seconds, sch.retry_jitter_factor),
        submit_crawl=st.thread_submitter(
            st.with_retries(st.crawl_source, sch.retries, sch.retry_delay_seconds, sch.retry_jitter_factor),
            sch.crawl_concurrency,
        ),
        on_progress=progress,
    )


def summary_rows(summary: dict) -> list[dict]:
    """One row per crawled source and per stage: stage, status, seconds, counts / error."""
    rows = [(f"crawl {s}", r) for s, r in summary["sources"].items()]
    rows += [(n, r) for n, r in summary["stages"].items() if n != "crawl" or not summary["sources"]]
    return [
        {
            "stage": name,
            "status": r["status"],
            "seconds": round(r["seconds"], 1),
            "counts / error": r["error"]
            or ", ".join(f"{k}={cell(v)}" for k, v in r["counts"].items() if not isinstance(v, (dict, list))),
        }
        for name, r in rows
    ]


def summary_table(summary: dict) -> Table:
    t = Table(title=f"{summary['flow']} {summary['status']}  ({summary['flow_run_id']})")
    for c in ("stage", "status", "seconds", "counts / error"):
        t.add_column(c, overflow="fold")
    for r in summary_rows(summary):
        style = {"ok": "green", "failed": "red", "skipped": "yellow"}.get(r["status"], "")
        t.add_row(r["stage"], Text(r["status"], style=style), f"{r['seconds']:.1f}", Text(r["counts / error"][:200]))
    return t


@cli.command("run")
def run(
    ctx: typer.Context,
    sources: list[str] | None = typer.Option(
        None, "--sources", "-s", help="Source names (comma-separated or repeated); default all enabled."
    ),
    brands: list[str] | None = typer.Option(None, "--brands", "-b", help="Brand ids to score; default all."),
    stages: list[str] | None = typer.Option(
        None, "--stages", help="Subset of crawl,ingest,score,themes,escalate,advocates,alerts,notify."
    ),
    since: str | None = typer.Option(None, "--since", help="Crawl posts since this date."),
    no_prefect: bool = typer.Option(False, "--no-prefect", help="Run the same chain without Prefect (plain retries)."),
    workers: int = typer.Option(
        0,
        "--workers",
        min=0,
        help="Crawl and score on N local worker processes (Dask); 0: as the workers settings say.",
    ),
    fmt: Format = format_option(),
    as_json: bool = json_alias(),
) -> None:
    """Run the monitor flow once: crawl → ingest → score → themes → escalate → advocates → alerts → notify.

    json: the summary as one JSON document; csv: one row per stage."""
    s = settings_of(ctx)
    if workers:  # and as many sources crawled at a time, one on each worker
        s.workers.local = workers
        s.schedule.crawl_concurrency = max(s.schedule.crawl_concurrency, workers)
        s.crawl.processes = max(s.crawl.processes, workers)
    fmt = chosen(fmt, as_json)

    def progress(name: str, r: dict) -> None:  # on stderr when stdout is for a script
        (console if fmt is Format.table else err_console).print(
            f"  {name}: {r['status']} in {r['seconds']:.1f}s", highlight=False
        )

    try:
        summary = run_monitor(
            s,
            sources=_split(sources),
            brands=_split(brands),
            stages=_split(stages),
            since=since,
            use_prefect=not no_prefect,
            progress=progress,
        )
    except ValueError as e:  # unknown stage / source names
        fail(str(e), 2)
    if fmt is Format.json:
        print_json(summary)
    elif fmt is Format.csv:
        import pandas as pd

        print_frame(pd.DataFrame(summary_rows(summary)), fmt)
    else:
        console.print(summary_table(summary))
    if summary["status"] != "ok":
        raise typer.Exit(1)


@cli.command("serve")
def serve(
    ctx: typer.Context,
    sources: list[str] | None = typer.Option(
        None, "--sources", "-s", help="Sources the scheduled crawl covers; default all enabled."
    ),
    brands: list[str] | None = typer.Option(None, "--brands", "-b", help="Brands the scheduled scoring covers."),
    limit: int = typer.Option(2, "--limit", help="Concurrent flow runs in this process."),
) -> None:
    """Serve the scheduled deployments.

    Monitor every 30 min, themes hourly, alerts every 15 min, rescore nightly.
    """
    from flows.deploy import serve as serve_deployments

    s = settings_of(ctx)
    console.print(
        f"serving deployments: monitor every {s.schedule.crawl_minutes} min, themes every "
        f"{s.schedule.themes_minutes} min, alerts every {s.schedule.alerts_minutes} min, "
        f"rescore at cron '{s.schedule.rescore_cron}' (Ctrl-C stops)",
        highlight=False,
    )
    serve_deployments(s, _split(sources), _split(brands), limit=limit)


@cli.command("demo")
def demo(
    ctx: typer.Context,
    no_dashboard: bool = typer.Option(False, "--no-dashboard", help="Stop after the summary."),
    port: int | None = typer.Option(None, "--port", help="Dashboard port (default Settings.dashboard.port)."),
    no_prefect: bool = typer.Option(False, "--no-prefect", help="Run the chain without Prefect."),
) -> None:
    """The demo: db upgrade → demo web on 127.0.0.1 → monitor flow over it → summary → dashboard."""
    from flows import demo as d
    from pipeline.store import Store

    s = settings_of(ctx)
    for p in (s.data_dir, s.raw_dir, s.models.cache_dir):
        if p is not None:  # both derived from data_dir once settings load
            p.mkdir(parents=True, exist_ok=True)
    store = Store.from_settings(s)
    applied = store.upgrade()
    console.print(f"database {s.db_path}: " + (f"applied {', '.join(applied)}" if applied else "up to date"))
    for p in d.seed_demo_config(s):
        console.print(f"{p}: the bundled demo's {p.name}")
    try:
        web = d.start_demo_web(s)
    except RuntimeError as e:
        fail(str(e))
    d.use_demo_credentials()  # the VK / YouTube stand-ins' token and key (crawl subprocesses inherit them)
    console.print(f"demo web: {s.demo_web_url}" + (" (already running)" if web is None else ""))
    try:
        _build_backbone(s)
        summary = run_monitor(s, use_prefect=not no_prefect)
        console.print(summary_table(summary))
        counts = d.table_counts(store)
        t = Table("table", "rows", title="database")
        for name, n in counts.items():
            t.add_row(name, f"{n:,}")
        console.print(t)
        esc = d.top_escalations(store)
        if not esc.empty:
            print_frame(esc, title="top escalations", console=console)
        alerts = d.latest_alerts(store)
        if not alerts.empty:
            print_frame(alerts, title="alerts", console=console)
        if no_dashboard:
            return
        _run_dashboard(s, port, ctx.find_root().params.get("config"))
    finally:
        if web is not None:
            web.stop()


def register(app: typer.Typer) -> None:
    """Add this module's commands and groups to the app."""
    app.registered_commands += cli.registered_commands


def _build_backbone(settings: Settings) -> None:
    """Build the offline backbone cache on first use, with a message (the score stage would do it silently)."""
    from brandmon.cli.common import console

    try:
        from models.backbone import ensure_backbone
    except ImportError:
        return
    with console.status("preparing the offline model backbone (first run only)…"):
        ensure_backbone(settings)


def _run_dashboard(settings: Settings, port: int | None, config: Path | None) -> None:
    """`brandmon dashboard` in a child process (it prints its URL); returns when it exits (Ctrl-C)."""
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "brandmon.cli"]
    if config:
        cmd += ["--config", str(config)]
    cmd += ["--data-dir", str(settings.data_dir), "--db", str(settings.db_path), "dashboard"]
    if port:
        cmd += ["--port", str(port)]
    try:
        subprocess.run(cmd, check=False)
    except KeyboardInterrupt:
        pass
