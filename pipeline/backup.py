"""A consistent copy of the store while flows run (`brandmon db backup`), and putting one back (`db restore`).

Backup holds the write lock (applying the analyst actions still pending in the journal first, so the copy has them)
and writes nothing while it copies: no transaction commits halfway through the copy. Under it the file (and a
write-ahead log a crashed writer left) is copied byte for byte, which takes as long as the disk needs for the file
and nothing more (measured in docs/import-export.md). Writers that want the file meanwhile wait (`Store._connect`
retries for `lock_timeout_seconds`); a long ingest lets go of the file every `ingest.hold_lock_seconds`, so the
backup gets in between two batches. The copy is then opened on its own, its log folded in (CHECKPOINT), its row
counts compared with the ones read under the lock, and only then renamed to the name asked for.

Restore refuses a backup whose schema this code does not know (a newer brandmon wrote it), refuses to replace a
store that holds rows unless forced, upgrades an older backup's schema, compares row counts, and swaps the file in
with one rename while holding the flows' write lock, so no stage writes into the file being replaced. The replaced
file is kept beside it (`<db>.before-restore-<time>`): a restore loses nothing.
"""

from __future__ import annotations

import os
import shutil
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from pipeline.schema import MIGRATIONS
from pipeline.snapshot import copy_file
from pipeline.store import Store, StoreError


class BackupError(StoreError):
    """A backup or restore cannot go on; the message says why in one line."""


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' "
            "ORDER BY table_name"
        ).fetchall()
    ]


def row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows of every base table, one query."""
    names = _tables(con)
    if not names:
        return {}
    sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM \"{t}\"" for t in names)
    return {t: int(n) for t, n in con.execute(sql).fetchall()}


def schema_version(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        rows = con.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()
    except duckdb.CatalogException:
        return None
    return rows[-1][0] if rows else None


def inspect(path: Path) -> tuple[str | None, dict[str, int]]:
    """(schema version, row counts) of a database file opened read-only on its own."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as e:
        raise BackupError(f"{path}: not a DuckDB database ({str(e).splitlines()[0][:120]})") from None
    try:
        return schema_version(con), row_counts(con)
    finally:
        con.close()


def _fold(path: Path) -> dict[str, int]:
    """Open a copied file read-write on its own, fold its log into it, return its row counts."""
    con = duckdb.connect(str(path))
    try:
        con.execute("CHECKPOINT")
        return row_counts(con)
    finally:
        con.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _clear(path: Path) -> None:
    path.unlink(missing_ok=True)
    _wal(path).unlink(missing_ok=True)


@dataclass
class BackupResult:
    path: Path
    bytes: int
    schema_version: str | None
    counts: dict[str, int]
    locked_seconds: float  # how long writers were kept out
    seconds: float


def backup(store: Store, dest: str | Path) -> BackupResult:
    """Copy the store to `dest` (a DuckDB file), consistent as of one moment, while other processes use it."""
    dest = Path(dest)
    if dest.absolute() == store.path.absolute():
        raise BackupError(f"{dest}: that is the database itself; give another file")
    if not store.path.exists():
        raise BackupError(f"{store.path}: database file does not exist; nothing to back up")
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(f".{dest.name}.part")
    _clear(part)
    t0 = time.monotonic()
    try:
        # As a writer: the journal's pending analyst actions are applied first, so the copy holds them; the lock is
        # held (nothing written) until the copy is done, so no transaction commits halfway through it.
        with store.write(publish=False) as con:
            t_lock = time.monotonic()
            version, counts = schema_version(con), row_counts(con)
            # In a child process: closing any descriptor of the file in this one would drop DuckDB's lock.
            copy_file(store.path, part)
            if _wal(store.path).exists():  # a writer that died left committed work in its log
                copy_file(_wal(store.path), _wal(part))
            locked = time.monotonic() - t_lock
        got = _fold(part)
        if got != counts:
            raise BackupError(f"{dest}: the copy's row counts differ from the store's ({_diff(counts, got)})")
        _fsync(part)
        os.replace(part, dest)
    finally:
        _clear(part)
    return BackupResult(dest, dest.stat().st_size, version, counts, round(locked, 3), round(time.monotonic() - t0, 3))


def _diff(want: dict[str, int], got: dict[str, int]) -> str:
    out = [f"{t}: {want.get(t)} vs {got.get(t)}" for t in sorted(set(want) | set(got)) if want.get(t) != got.get(t)]
    return "; ".join(out[:5])


@dataclass
class RestoreResult:
    path: Path
    schema_version: str | None
    upgraded: list[str]
    counts: dict[str, int]
    kept: Path | None  # the replaced file, kept beside the store
    seconds: float
    replaced_rows: int = 0
    notes: list[str] = field(default_factory=list)


def restore(
    store: Store, src: str | Path, force: bool = False, lock: AbstractContextManager[Any] | None = None
) -> RestoreResult:
    """Replace the store's file with the backup `src`. `lock` is held from the copy to the swap (the CLI passes
    the flows' write lock). Raises BackupError without touching the store when anything is wrong."""
    src, target = Path(src), store.path
    t0 = time.monotonic()
    version, counts = inspect(src)
    known = [m.name for m in MIGRATIONS]
    if version is None:
        raise BackupError(f"{src}: not a brandmon database (no schema_migrations table)")
    if version not in known:
        raise BackupError(
            f"{src}: schema {version} is newer than this brandmon knows (its newest is {known[-1]}); "
            "restore it with the version that wrote it"
        )
    replaced = 0
    if target.exists():
        with store.read() as con:
            replaced = sum(n for t, n in row_counts(con).items() if t != "schema_migrations")
        if replaced > 0 and not force:
            raise BackupError(
                f"{target}: the store holds {replaced:,} rows; restoring over it needs --force "
                "(the current file is then kept beside it)"
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f".{target.name}.restore.part")
    kept: Path | None = None
    with lock or nullcontext():
        _clear(part)
        try:
            shutil.copyfile(src, part)
            if _wal(src).exists():
                shutil.copyfile(_wal(src), _wal(part))
            got = _fold(part)
            if got != counts:
                raise BackupError(f"{src}: the copy's row counts differ from the backup's ({_diff(counts, got)})")
            upgraded = Store(part).upgrade()  # an older backup gets this code's schema
            with Store(part).read() as con:
                after = row_counts(con)
            if any(after.get(t) != n for t, n in counts.items() if t != "schema_migrations"):
                raise BackupError(f"{src}: row counts changed while upgrading ({_diff(counts, after)})")
            _fsync(part)
            if target.exists():
                # wait for DuckDB writers outside the flows (an analyst's action), fold the old file's log
                with store.write() as con:
                    con.execute("CHECKPOINT")
                kept = target.with_name(f"{target.name}.before-restore-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
                try:
                    os.link(target, kept)
                except OSError:
                    shutil.copyfile(target, kept)
                if _wal(target).exists():  # a writer slipped in after the checkpoint: its log goes with its file
                    os.replace(_wal(target), _wal(kept))
            os.replace(part, target)
        finally:
            _clear(part)
    with store.read() as con:
        final = row_counts(con)
    if any(final.get(t) != n for t, n in counts.items() if t != "schema_migrations"):
        raise BackupError(
            f"{target}: restored, but row counts differ from the backup ({_diff(counts, final)}); "
            f"the previous file is {kept}"
        )
    return RestoreResult(target, version, upgraded, final, kept, round(time.monotonic() - t0, 3), replaced)


# ----------------------------------------------------------------------------------- to a team server


@dataclass
class MigrateResult:
    target: str  # the server's URL, password masked
    source: dict[str, int]  # rows per table in the file
    copied: dict[str, int]  # rows per table on the server afterwards
    fingerprints_match: dict[str, bool]
    already: bool  # the server held exactly this store already: nothing was written
    seconds: float


def _fingerprint_sql(table: str, columns: list[tuple[str, str]]) -> str:
    """One row per table that both engines compute alike: rows, non-null values per column, characters of the
    text columns, sums of the integer ones. Cheap (one scan) and sensitive to a lost, cut or changed value."""
    parts = ["count(*)"]
    for name, typ in columns:
        q = f'"{name}"'
        parts.append(f"count({q})")
        t = typ.upper()
        if t in ("VARCHAR", "TEXT"):
            parts.append(f"coalesce(sum(length({q})), 0)")
        elif t in ("INTEGER", "BIGINT", "SMALLINT"):
            parts.append(f"coalesce(sum({q}), 0)")
    return f'SELECT {", ".join(parts)} FROM "{table}"'


def _fingerprint(con: Any, table: str, columns: list[tuple[str, str]]) -> tuple[int, ...]:
    row = con.execute(_fingerprint_sql(table, columns)).fetchone()
    return tuple(int(x) for x in row)


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    return [
        (r[0], r[1])
        for r in con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
            [table],
        ).fetchall()
    ]


def migrate(store: Store, url: str, batch_rows: int = 50_000) -> MigrateResult:
    """Copy the DuckDB store into the empty Postgres database at `url`, table by table, in one server transaction
    (all or nothing), then compare rows and fingerprints per table. A second run over the same data writes nothing;
    a server database that holds other rows is refused. The file is held read-only for the copy, so no stage
    writes into it meanwhile; pending analyst actions are applied first."""
    from pipeline.pg_store import PgStore

    t0 = time.monotonic()
    if not store.path.exists():
        raise BackupError(f"{store.path}: database file does not exist; nothing to migrate")
    if store.pending_migrations():
        raise BackupError(f"{store.path}: schema is not current; run `brandmon db upgrade` first")
    target = PgStore(url, lock_timeout=store.lock_timeout)
    target.upgrade()  # the server's schema from the same migrations (raises StoreError when unreachable)
    if store.journal.has_pending():
        with store.write(only_actions=True):
            pass  # a write applies the journal's pending actions first
    with store.read() as src:
        names = [t for t in _tables(src) if t != "schema_migrations"]
        cols = {t: _columns(src, t) for t in names}
        source = {t: int(src.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in names}  # type: ignore[index]
        want = {t: _fingerprint(src, t, cols[t]) for t in names}
        missing = sorted(set(names) - set(target.tables()))
        if missing:
            raise BackupError(f"{target.describe()}: tables {', '.join(missing)} are missing on the server")
        with target.read() as dst:
            held = {t: int(dst.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in names}  # type: ignore[index]
            if any(held.values()):
                same = held == source and all(_fingerprint(dst, t, cols[t]) == want[t] for t in names)
                if same:
                    return MigrateResult(
                        target.describe(), source, held, dict.fromkeys(names, True), True, time.monotonic() - t0
                    )
                raise BackupError(
                    f"{target.describe()}: the server database already holds {sum(held.values()):,} rows that are "
                    "not this store's; migrate into an empty database"
                )
        raw = target._connect(read_only=False).raw  # type: ignore[attr-defined]
        try:
            with raw.transaction():
                for t in names:
                    _copy_table(src, raw, t, [c for c, _ in cols[t]], batch_rows)
        except Exception as e:
            raise BackupError(f"{target.describe()}: copy failed, nothing kept: {str(e).splitlines()[0]}") from None
        finally:
            raw.close()
    with target.read() as dst:
        copied = {t: int(dst.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]) for t in names}  # type: ignore[index]
        match = {t: _fingerprint(dst, t, cols[t]) == want[t] for t in names}
    if copied != source or not all(match.values()):
        bad = [t for t in names if copied[t] != source[t] or not match[t]]
        raise BackupError(f"{target.describe()}: copied tables differ from the file: {', '.join(bad)}")
    return MigrateResult(target.describe(), source, copied, match, False, round(time.monotonic() - t0, 3))


def _copy_table(src: duckdb.DuckDBPyConnection, raw: Any, table: str, columns: list[str], batch_rows: int) -> None:
    from pipeline.pg import py_value

    col_sql = ", ".join(f'"{c}"' for c in columns)
    cur = src.cursor()  # its own result stream: the connection's last result may be unfinished
    try:
        reader = cur.sql(f'SELECT {col_sql} FROM "{table}"').to_arrow_reader(batch_rows)
        with raw.cursor().copy(f'COPY "{table}" ({col_sql}) FROM STDIN') as cp:
            for batch in reader:
                for row in zip(*(batch.column(i).to_pylist() for i in range(batch.num_columns)), strict=True):
                    cp.write_row([py_value(v) for v in row])
    finally:
        cur.close()
