"""DuckDB file store.

DuckDB lets one process hold a file read-write, or many hold it read-only, never both. So every writer opens
the file for one short transaction and closes it again (`Store.write()`; a long job of many transactions, an
ingest, holds one connection and lets go of it every `hold_seconds`: `WriteSession`), and every reader opens read-only
with a bounded retry while a writer holds the lock (`Store.read()`). After `lock_timeout` seconds the caller
gets `StoreLockedError`, a clear message instead of a DuckDB traceback.

Upserts are vectorised: rows go in as one Arrow/pandas relation and one `INSERT ... ON CONFLICT DO UPDATE`.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from pipeline.schema import MIGRATIONS, TABLES

if TYPE_CHECKING:
    from pipeline.config import Settings


class StoreError(RuntimeError):
    pass


class StoreLockedError(StoreError):
    """Another process kept the database file locked longer than the configured timeout."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def stable_id(*parts: Any, length: int = 16) -> str:
    """Deterministic id from parts (None and '' are distinct from each other; order matters)."""
    h = hashlib.sha1()
    for p in parts:
        h.update(b"\x1f" if p is None else str(p).encode("utf-8"))
        h.update(b"\x1e")
    return h.hexdigest()[:length]


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def _is_lock_error(e: Exception) -> bool:
    msg = str(e).lower()
    return "lock" in msg or "conflicting lock" in msg or "could not set lock" in msg


# Connections to one file in one process share a DuckDB instance that the last close tears down; opening while
# another thread closes raced (a fresh connection without the pandas scan: "pandas_scan does not exist" in
# fanned-out crawls). Opening and closing are quick, so they take turns.
_OPEN_CLOSE = threading.Lock()


class Store:
    """A DuckDB file. Cheap to construct; connections are opened per transaction."""

    def __init__(self, path: str | Path, lock_timeout: float = 30.0):
        self.path = Path(path)
        self.lock_timeout = lock_timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        return cls(settings.db_path, lock_timeout=settings.lock_timeout_seconds)

    # ----------------------------------------------------------------------------------- connections

    def _connect(self, read_only: bool, config: dict[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
        if read_only and not self.path.exists():
            raise StoreError(f"{self.path}: database file does not exist; run `brandmon db upgrade` first")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout
        delay = 0.01
        while True:
            try:
                with _OPEN_CLOSE:
                    return duckdb.connect(str(self.path), read_only=read_only, config=config or {})
            except (duckdb.IOException, duckdb.ConnectionException) as e:
                if not _is_lock_error(e):
                    raise StoreError(f"{self.path}: cannot open database: {e}") from e
                if time.monotonic() >= deadline:
                    raise StoreLockedError(
                        f"{self.path}: database is locked by another process for more than "
                        f"{self.lock_timeout:.0f}s (a running crawl/flow?); try again later"
                    ) from None
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.25)

    @contextmanager
    def transaction(self, con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """BEGIN … COMMIT on `con`, ROLLBACK on any exception. Every write transaction (Store.write, WriteSession)
        goes through here, so a subclass can watch them all (flows.faults pauses at the n-th)."""
        con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One short read-write transaction: committed on success, rolled back on any exception."""
        con = self._connect(read_only=False)
        try:
            with self.transaction(con):
                yield con
        finally:
            with _OPEN_CLOSE:
                con.close()

    @contextmanager
    def read(self, config: dict[str, Any] | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection, retried while a writer holds the file; `config`: DuckDB settings it opens with."""
        con = self._connect(read_only=True, config=config)
        try:
            yield con
        finally:
            with _OPEN_CLOSE:
                con.close()

    def session(self, hold_seconds: float) -> WriteSession:
        """Many write transactions on one held connection (see WriteSession)."""
        return WriteSession(self, hold_seconds)

    # ----------------------------------------------------------------------------------- schema

    def upgrade(self) -> list[str]:
        """Apply pending migrations; returns the names applied (empty when up to date)."""
        applied: list[str] = []
        with self.write() as con:
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMPTZ)"
            )
            done = {r[0] for r in con.execute("SELECT name FROM schema_migrations").fetchall()}
            for m in MIGRATIONS:
                if m.name in done:
                    continue
                con.execute(m.sql)
                con.execute("INSERT INTO schema_migrations VALUES (?, ?)", [m.name, utcnow()])
                applied.append(m.name)
        return applied

    def schema_version(self) -> str | None:
        if not self.path.exists():
            return None
        with self.read() as con:
            try:
                rows = con.execute("SELECT name FROM schema_migrations ORDER BY name").fetchall()
            except duckdb.CatalogException:
                return None
        return rows[-1][0] if rows else None

    def pending_migrations(self) -> list[str]:
        current = self.schema_version()
        names = [m.name for m in MIGRATIONS]
        if current is None:
            return names
        return names[names.index(current) + 1 :] if current in names else []

    def status(self) -> dict[str, Any]:
        """Schema version and row counts per table (one query)."""
        version = self.schema_version()
        counts: dict[str, int | None] = {t: None for t in TABLES}
        if version is not None:
            with self.read() as con:
                existing = {
                    r[0]
                    for r in con.execute(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema='main'"
                    ).fetchall()
                }
                present = [t for t in TABLES if t in existing]
                if present:
                    sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in present)
                    counts.update({t: n for t, n in con.execute(sql).fetchall()})
        return {
            "path": str(self.path),
            "schema_version": version,
            "pending": self.pending_migrations(),
            "counts": counts,
        }

    # ----------------------------------------------------------------------------------- data helpers

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run a read-only query and return a DataFrame (writes are refused by the read-only connection)."""
        with self.read() as con:
            return con.execute(sql, params or []).df()

    def upsert(
        self,
        table: str,
        rows: pd.DataFrame | Sequence[dict[str, Any]],
        key: Sequence[str],
        *,
        con: duckdb.DuckDBPyConnection | None = None,
        update: Sequence[str] | None = None,
    ) -> int:
        """Insert rows, updating existing ones with the same key. Returns the number of input rows.

        Duplicate keys inside `rows` keep the last occurrence. `update` limits the columns overwritten on
        conflict (default: every non-key column given). Pass `con` to join a caller's transaction.
        """
        df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
        if df.empty:
            return 0
        df = df.drop_duplicates(subset=list(key), keep="last")
        cols = list(df.columns)
        upd = [c for c in (update if update is not None else cols) if c not in key]
        col_sql = ", ".join(f'"{c}"' for c in cols)
        conflict = "DO UPDATE SET " + ", ".join(f'"{c}" = excluded."{c}"' for c in upd) if upd else "DO NOTHING"
        sql = (
            f"INSERT INTO {table} ({col_sql}) SELECT {col_sql} FROM __upsert_df "
            f"ON CONFLICT ({', '.join(key)}) {conflict}"
        )

        def _run(c: duckdb.DuckDBPyConnection) -> None:
            c.register("__upsert_df", df)
            try:
                c.execute(sql)
            finally:
                c.unregister("__upsert_df")

        if con is not None:
            _run(con)
        else:
            with self.write() as c:
                _run(c)
        return len(df)


class WriteSession:
    """Consecutive write transactions for one long job (an ingest of many batches) on a held read-write connection.

    Closing a DuckDB connection checkpoints the file: WAL into the tables, every changed index rewritten. That
    grows with the database, not with the batch (0.5-2.7 s a batch at 200k documents), so closing after every
    batch spent more time checkpointing than inserting. The session keeps its connection (automatic checkpoints
    off) and releases it, one checkpoint, after the first commit `hold_seconds` after opening it: other processes
    (the dashboard) still get the file at least that often, and every batch is committed (in the WAL) as before.
    Reads between writes go through the held connection while it is open. Use as a context manager."""

    def __init__(self, store: Store, hold_seconds: float):
        self.store = store
        self.hold_seconds = hold_seconds
        self._con: duckdb.DuckDBPyConnection | None = None
        self._opened = 0.0

    def __enter__(self) -> WriteSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    def release(self) -> None:
        if self._con is not None:
            con, self._con = self._con, None
            with _OPEN_CLOSE:
                con.close()

    @contextmanager
    def read(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._con is not None:
            yield self._con
        else:
            with self.store.read() as con:
                yield con

    @contextmanager
    def write(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction, as Store.write(); on any exception it is rolled back and the connection released."""
        if self._con is None:
            self._con = self.store._connect(read_only=False)
            self._con.execute("SET checkpoint_threshold = '1TB'")  # this instance only: checkpoint at release
            self._opened = time.monotonic()
        con = self._con
        try:
            with self.store.transaction(con):
                yield con
        except BaseException:
            self.release()
            raise
        if time.monotonic() - self._opened >= self.hold_seconds:
            self.release()
