"""`brandmon db …`, `brandmon sql`, `brandmon config check`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from brandmon.cli.common import console, fail, settings_of
from brandmon.cli.output import Format, chosen, format_option, json_alias, print_frame, print_json
from pipeline.store import Store

cli = typer.Typer()  # this module's top-level commands; register() adds them to the app


db = typer.Typer(help="Database file: create/upgrade the schema, show counts.", no_args_is_help=True)


@db.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Create the database file or apply pending schema migrations (a no-op when up to date)."""
    store = Store.from_settings(settings_of(ctx))
    applied = store.upgrade()
    console.print(f"{store.describe()}: " + (f"applied {', '.join(applied)}" if applied else "schema up to date"))


@db.command("status")
def db_status(ctx: typer.Context, fmt: Format = format_option(), as_json: bool = json_alias()) -> None:
    """Schema version and row counts per table (csv: one line per table)."""
    import pandas as pd

    fmt = chosen(fmt, as_json)
    st = Store.from_settings(settings_of(ctx)).status()
    if fmt is Format.json:
        print_json(st)
        return
    if fmt is Format.csv:
        counts = pd.DataFrame(list(st["counts"].items()), columns=["table", "rows"])
        print_frame(counts.astype({"rows": "Int64"}), fmt)
        return
    console.print(f"database: {st['path']}")
    console.print(f"schema version: {st['schema_version'] or '(new file: run `brandmon db upgrade`)'}")
    if st["pending"]:
        console.print(f"pending migrations: {', '.join(st['pending'])}")
    t = Table("table", "rows")
    for name, n in st["counts"].items():
        t.add_row(name, "-" if n is None else f"{n:,}")
    console.print(t)


@db.command("facts")
def db_facts(
    ctx: typer.Context,
    rebuild: bool = typer.Option(False, "--rebuild", help="Rebuild mention_facts from scratch."),
) -> None:
    """Check that the dashboard's mention_facts match the data (after editing tables by hand: --rebuild)."""
    from pipeline import facts

    store = Store.from_settings(settings_of(ctx))
    store.upgrade()
    if rebuild:
        with store.write() as con:
            n = facts.refresh(con)
        console.print(f"mention_facts rebuilt: {n:,} rows")
    with store.read() as con:
        diff = facts.check(con)
    if any(diff.values()):
        fail(
            f"mention_facts out of step: {diff['missing_or_stale']:,} missing or stale rows, "
            f"{diff['extra']:,} extra; run `brandmon db facts --rebuild`",
            1,
        )
    console.print("mention_facts in step with mentions, documents and current scores")


@db.command("actions")
def db_actions(
    ctx: typer.Context,
    status: list[str] | None = typer.Option(
        None, "--status", "-s", help="pending, applied or rejected (repeatable; default: all)."
    ),
    limit: int = typer.Option(50, "--limit", "-n", help="Actions to show at most, newest first."),
    apply: bool = typer.Option(False, "--apply", help="Apply the pending ones now (waits for the write lock)."),
    fmt: Format = format_option(),
) -> None:
    """Analyst actions in the journal: pending ones wait for the next writer, rejected ones say why."""
    import pandas as pd

    bad = [x for x in status or [] if x not in ("pending", "applied", "rejected")]
    if bad:
        fail(f"--status {bad[0]!r}: expected pending, applied or rejected", 2)
    store = Store.from_settings(settings_of(ctx))
    if apply and not store.path.exists():
        fail(f"{store.path}: database file does not exist; run `brandmon db upgrade` first", 3)
    if apply:
        with store.write(only_actions=True):
            pass  # a write applies the journal's pending actions first
    rows = [
        {
            "seq": a.seq,
            "status": a.status,
            "kind": a.kind,
            "target": a.target,
            "actor": a.actor,
            "made_at": a.created_at,
            "what": ", ".join(f"{k}={v}" for k, v in a.payload.items() if v is not None and k != "from_state"),
            "error": a.error or "",
        }
        for a in store.journal.listing(status or None, limit)
    ]
    cols = ["seq", "status", "kind", "target", "actor", "made_at", "what", "error"]
    df = pd.DataFrame(rows, columns=cols)
    if df.empty and fmt is Format.table:
        console.print("no journaled actions" + (f" ({', '.join(status)})" if status else ""))
        return
    print_frame(df, fmt, console=console)


@db.command("backup")
def db_backup(ctx: typer.Context, dest: Path = typer.Argument(..., help="The backup file to write.")) -> None:
    """Copy the database to FILE, consistent as of one moment, while flows run (writers wait for the copy)."""
    from pipeline.backup import BackupError, backup

    try:
        r = backup(Store.from_settings(settings_of(ctx)), dest)
    except BackupError as e:
        fail(str(e), 1)
    console.print(
        f"{r.path}: {r.bytes / 1e6:,.1f} MB, schema {r.schema_version}, "
        f"{sum(r.counts.values()):,} rows; writers waited {r.locked_seconds:.2f} s",
        highlight=False,
        markup=False,
    )


@db.command("restore")
def db_restore(
    ctx: typer.Context,
    src: Path = typer.Argument(..., help="A file written by `brandmon db backup`."),
    force: bool = typer.Option(False, "--force", help="Replace a store that holds rows (it is kept beside)."),
) -> None:
    """Put a backup in place of the database: schema checked (and upgraded), row counts compared."""
    from flows.locking import write_lock
    from pipeline.backup import BackupError, restore

    s = settings_of(ctx)
    try:
        r = restore(
            Store.from_settings(s),
            src,
            force=force,
            lock=write_lock(s.data_dir, timeout=s.schedule.write_lock_timeout_seconds),
        )
    except BackupError as e:
        fail(str(e), 1)
    console.print(
        f"{r.path}: restored from {src} (schema {r.schema_version}"
        + (f", upgraded: {', '.join(r.upgraded)}" if r.upgraded else "")
        + f"), {sum(r.counts.values()):,} rows, counts match the backup",
        highlight=False,
        markup=False,
    )
    if r.kept:
        console.print(f"the previous file is kept as {r.kept}", highlight=False, markup=False)


@db.command("migrate")
def db_migrate(
    ctx: typer.Context,
    to: str = typer.Option(..., "--to", help="The empty Postgres database: postgresql://user@host:port/dbname."),
) -> None:
    """Move the database file to a Postgres server (a team server): every table copied, rows and checksums compared."""
    from pydantic import ValidationError

    from pipeline.backup import BackupError, migrate
    from pipeline.config import StoreSettings

    try:
        url = StoreSettings(url=to).url
    except ValidationError as e:
        fail(str(e.errors()[0]["msg"]).removeprefix("Value error, "), 2)
    if not url:
        fail("--to: give a postgresql:// URL", 2)
    s = settings_of(ctx)
    try:
        r = migrate(Store(s.db_path, lock_timeout=s.lock_timeout_seconds, snapshots=s.store.snapshots), url)
    except BackupError as e:  # an unreachable server is a StoreError: one line and exit code 3, as everywhere
        fail(str(e), 1)
    t = Table("table", "file rows", "server rows", "checksum")
    for name, n in r.source.items():
        t.add_row(name, f"{n:,}", f"{r.copied[name]:,}", "match" if r.fingerprints_match[name] else "DIFFERS")
    console.print(t)
    what = "already holds this store; nothing written" if r.already else f"copied in {r.seconds:.1f} s"
    console.print(
        f"{r.target}: {what}; {sum(r.copied.values()):,} rows in {len(r.copied)} tables match the file. "
        f"Set store.url (BRANDMON_STORE__URL) to use it.",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )


@cli.command("sql")
def sql(
    ctx: typer.Context,
    query: str = typer.Argument(..., help="A read: SELECT, WITH, VALUES, FROM, DESCRIBE, SHOW, SUMMARIZE or EXPLAIN."),
    fmt: Format = format_option(),
    limit: int = typer.Option(1000, help="Rows to print at most (0 = all)."),
) -> None:
    """Run read-only SQL on the database file (reads only: no files, extensions, ATTACH or SET)."""
    import duckdb

    from pipeline.sql_sandbox import SqlRefused, run_read_query

    try:
        df = run_read_query(Store.from_settings(settings_of(ctx)), query)
    except (SqlRefused, duckdb.Error) as e:
        fail(str(e).splitlines()[0], 2)
    if limit:
        df = df.head(limit)
    print_frame(df, fmt, console=console)


cfg = typer.Typer(help="Configuration files.", no_args_is_help=True)


@cfg.command("check")
def config_check(ctx: typer.Context) -> None:
    """Validate settings, brands.yaml and sources.yaml as ingest and crawl will: one line per problem."""
    from rich.text import Text

    from crawlers.parsers import ENGINE_NAMES
    from pipeline.config_check import check_config

    res = check_config(settings_of(ctx), ENGINE_NAMES)
    for label, n in res.counts.items():
        console.print(f"{label}: {n} ok")
    for line in res.problems:  # plain text (it may quote the file), never wrapped
        console.print(Text(line, style="red"), soft_wrap=True)
    if res.problems:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    """Add this module's commands and groups to the app."""
    app.registered_commands += cli.registered_commands
    app.add_typer(db, name="db")
    app.add_typer(cfg, name="config")
