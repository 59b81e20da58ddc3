"""DuckDB file store.

DuckDB lets one process hold a file read-write, or many hold it read-only, never both. So every writer opens
the file for one short transaction and closes it again (`Store.write()`; a long job of many transactions, an
ingest, holds one connection and lets go of it every `hold_seconds`: `WriteSession`), and every reader of the live
file opens read-only with a bounded retry while a writer holds the lock (`Store.read()`). After `lock_timeout`
seconds the caller gets `StoreLockedError`, a clear message instead of a DuckDB traceback.

Readers that only show data (the dashboard, `brandmon sql`, the queue listings) use `Store.reader()` instead: with
`snapshots` on (the settings' default) it opens the latest published copy of the file (pipeline.snapshot), which
no writer ever locks. Writers publish that copy when they let go of the file (at most every `publish_interval`
seconds in the middle of a long job, always at its end); a reader that finds the copy older than a free live file
refreshes it itself. Analyst actions go through the journal (pipeline.journal): every write applies the pending
ones first.

Upserts are vectorised: rows go in as one Arrow/pandas relation and one `INSERT ... ON CONFLICT DO UPDATE`.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from pipeline import snapshot
from pipeline.journal import Journal, apply_pending, journal_path
from pipeline.schema import MIGRATIONS, TABLES

if TYPE_CHECKING:
    from pipeline.config import Settings

log = logging.getLogger(__name__)


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

# Write transactions on one file in one process take turns with each other and with publishing a snapshot: the
# copy must not see half a transaction, and other processes are kept out by DuckDB's own lock.
_GATES: dict[Path, threading.RLock] = {}
_GATES_LOCK = threading.Lock()


# Which thread holds a read-write connection to a file in this process. DuckDB refuses a read-only connection to a
# file this process has open read-write ("different configuration"): another thread's read waits for the writer
# as for another process's lock; the writing thread's own read fails at once (it would wait for itself).
_WRITERS: dict[Path, int] = {}


def _same_file_other_mode(e: Exception) -> bool:
    return "different configuration" in str(e)


def _release_writer(key: Path, outer: int | None) -> None:
    if outer is None:
        _WRITERS.pop(key, None)
    else:  # a nested write in the same thread: the outer one still holds the file
        _WRITERS[key] = outer


def _gate(path: Path) -> threading.RLock:
    key = path.absolute()
    with _GATES_LOCK:
        return _GATES.setdefault(key, threading.RLock())


class Store:
    """A DuckDB file. Cheap to construct; connections are opened per transaction.

    `snapshots`: publish a read copy for `reader()` and journal analyst actions (on from settings; off for a bare
    `Store(path)`, such as a backup being checked). `publish_interval`: seconds between two publishes in the middle
    of a long job. `action_wait`: how long an analyst action waits for the write lock before it is left to the next
    writer (None: `lock_timeout`)."""

    def __init__(
        self,
        path: str | Path,
        lock_timeout: float = 30.0,
        *,
        snapshots: bool = False,
        publish_interval: float = 30.0,
        action_wait: float | None = None,
    ):
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self.snapshots = snapshots
        self.publish_interval = publish_interval
        self.action_wait = lock_timeout if action_wait is None else action_wait
        self.snapshot = snapshot.snapshot_path(self.path)
        self.journal = Journal(journal_path(self.path))

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        if settings.store.url and cls is Store:  # a team server (pipeline.pg_store); subclasses stay DuckDB files
            from pipeline.pg_store import PgStore

            return PgStore.from_settings(settings)
        return cls(
            settings.db_path,
            lock_timeout=settings.lock_timeout_seconds,
            snapshots=settings.store.snapshots,
            publish_interval=settings.store.publish_interval_seconds,
            action_wait=settings.store.action_wait_seconds,
        )

    def describe(self) -> str:
        """The store's name in messages: the file's path (a server store gives its URL, password masked)."""
        return str(self.path)

    # ----------------------------------------------------------------------------------- connections

    def _connect(
        self, read_only: bool, config: dict[str, Any] | None = None, timeout: float | None = None
    ) -> duckdb.DuckDBPyConnection:
        if read_only and not self.path.exists():
            raise StoreError(f"{self.path}: database file does not exist; run `brandmon db upgrade` first")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        timeout = self.lock_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            try:
                with _OPEN_CLOSE:
                    return duckdb.connect(str(self.path), read_only=read_only, config=config or {})
            except (duckdb.IOException, duckdb.ConnectionException) as e:
                if _same_file_other_mode(e) and _WRITERS.get(self.path.absolute()) == threading.get_ident():
                    raise StoreError(
                        f"{self.path}: this thread holds the file for writing; read through that connection"
                    ) from e
                if not (_is_lock_error(e) or _same_file_other_mode(e)):
                    raise StoreError(f"{self.path}: cannot open database: {e}") from e
                if time.monotonic() >= deadline:
                    raise StoreLockedError(
                        f"{self.path}: database is locked by another process for more than "
                        f"{timeout:.0f}s (a running crawl/flow?); try again later"
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
    def write(
        self,
        *,
        timeout: float | None = None,
        apply_actions: bool = True,
        publish: bool = True,
        only_actions: bool = False,
        force_publish: bool = False,
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """One short read-write transaction: committed on success, rolled back on any exception.

        The journal's pending analyst actions are applied first and again after the commit (their own
        transactions: the second time, the ones made while this one held the file); after the commit the
        read snapshot is published when one is due (`publish`). `timeout`: wait this long for the lock (else
        `lock_timeout`). `only_actions`: the caller writes nothing but the journal's actions; when the snapshot was
        current before, it is marked as still current for readers that lay the journal over it (no copy).
        `force_publish`: publish now if stale, whatever the interval."""
        with _gate(self.path):
            con = self._connect(read_only=False, timeout=timeout)
            key, outer = self.path.absolute(), _WRITERS.get(self.path.absolute())
            _WRITERS[key] = threading.get_ident()
            try:
                current = (
                    only_actions and self.snapshots and not snapshot.is_stale(self.path, self.snapshot, exact=False)
                )
                if apply_actions:
                    self.apply_actions(con)
                with self.transaction(con):
                    yield con
                if apply_actions:  # the ones made while this transaction held the file
                    self.apply_actions(con)
                if publish and not only_actions:
                    self.publish(con, force=force_publish)
                elif current:
                    self._cover(con)
            finally:
                _release_writer(key, outer)
                with _OPEN_CLOSE:
                    con.close()

    @contextmanager
    def read(self, config: dict[str, Any] | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection to the live file, retried while a writer holds it; `config`: DuckDB settings it
        opens with. For stages that read what they are about to change; display reads use `reader()`."""
        con = self._connect(read_only=True, config=config)
        try:
            yield con
        finally:
            with _OPEN_CLOSE:
                con.close()

    @contextmanager
    def reader(self, config: dict[str, Any] | None = None, exact: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection for showing data: the published snapshot (never waits for a writer), refreshed
        first when it is older than a free live file; the live file (`read()`) when there is no snapshot yet or
        `snapshots` is off. What it shows is the store as of the last publish; pending analyst actions are laid
        over it by the callers that show them (pipeline.escalate's queue and history); `exact`: also refresh the copy
        for applied actions alone (for readers that show raw tables, `brandmon sql`)."""
        if not self.snapshots:
            with self.read(config) as con:
                yield con
            return
        self.apply_if_free()
        self.catch_up(exact=exact)
        snap: duckdb.DuckDBPyConnection | None = None
        if self.snapshot.exists():
            try:
                with _OPEN_CLOSE:
                    snap = duckdb.connect(str(self.snapshot), read_only=True, config=config or {})
            except duckdb.Error as e:  # a damaged copy: read the live file, the next publish replaces it
                log.warning("%s: cannot open the read snapshot (%s); reading the live file", self.snapshot, e)
        if snap is None:
            with self.read(config) as con:
                yield con
            return
        con = snap
        try:
            yield con
        finally:
            with _OPEN_CLOSE:
                con.close()

    def published_at(self) -> float | None:
        """When the snapshot `reader()` opens was written (epoch seconds); None when readers read the live file."""
        return snapshot.published_at(self.snapshot) if self.snapshots else None

    @contextmanager
    def job(self) -> Iterator[None]:
        """A long writing job of many transactions (an ingest, a scoring run). While it runs, readers do not copy
        the file between its transactions (a 700 MB copy in a reader's path made the reads' p95 during an ingest
        twice the idle one); the job publishes at `publish_interval` as it writes, and once more at its end."""
        if not self.snapshots:
            yield
            return
        with snapshot.job_running(self.snapshot):
            try:
                yield
            finally:
                if snapshot.is_stale(self.path, self.snapshot):
                    try:
                        with self.write(force_publish=True):
                            pass
                    except StoreError as e:  # readers refresh the copy themselves once the job has let go
                        log.warning("%s: read snapshot not published at the job's end: %s", self.path, e)

    def session(self, hold_seconds: float) -> WriteSession:
        """Many write transactions on one held connection (see WriteSession)."""
        return WriteSession(self, hold_seconds)

    def _hold(self, con: duckdb.DuckDBPyConnection) -> None:
        """A WriteSession's connection: this instance checkpoints at release only."""
        con.execute("SET checkpoint_threshold = '1TB'")

    # ----------------------------------------------------------------------------------- snapshot and journal

    def publish(self, con: duckdb.DuckDBPyConnection, force: bool) -> float | None:
        """Publish the read snapshot from a held read-write connection when it is stale and (unless `force`) the
        last one is `publish_interval` old. Returns the seconds it took, None when not published. A failure is
        logged, never raised: readers then see an older state, writers lose nothing."""
        if not self.snapshots or not snapshot.is_stale(self.path, self.snapshot):
            return None
        last = snapshot.published_at(self.snapshot)
        if not force and last is not None and time.time() - last < self.publish_interval:
            return None
        try:
            with _gate(self.path):
                con.execute("CHECKPOINT")
                took = snapshot.publish(self.path, self.snapshot)
        except (duckdb.Error, OSError) as e:
            log.warning("%s: read snapshot not published: %s", self.path, str(e).splitlines()[0])
            return None
        log.debug("%s: read snapshot published in %.2fs", self.path, took)
        return took

    def _cover(self, con: duckdb.DuckDBPyConnection) -> None:
        try:
            con.execute("CHECKPOINT")  # the file's final state: closing the connection then changes nothing
            snapshot.mark_covered(self.path, self.snapshot)
        except (duckdb.Error, OSError) as e:
            log.warning("%s: %s", self.path, str(e).splitlines()[0])

    def catch_up(self, exact: bool = False) -> bool:
        """A reader's refresh: when the snapshot is older than the live file and no writer holds that, copy it
        under a read-only connection (which keeps writers out for the copy). Never waits: when anyone else holds
        the file or is refreshing, the reader reads the snapshot there is. Returns True when it published."""
        if not self.path.exists() or snapshot.has_log(self.path):
            return False
        if not snapshot.is_stale(self.path, self.snapshot, exact=exact):
            return False
        if snapshot.job_is_running(self.snapshot):  # it publishes at its interval and its end: no copy per read
            return False
        gate = _gate(self.path)
        if not gate.acquire(blocking=False):  # a write of this process is under way
            return False
        try:
            with snapshot.catch_up_turn(self.snapshot) as mine:
                if not mine:
                    return False
                try:
                    with _OPEN_CLOSE:
                        con = duckdb.connect(str(self.path), read_only=True)
                except duckdb.Error:  # a writer holds it (or this process does, read-write)
                    return False
                try:
                    # a log left by a writer that died is folded in by the next writer, not copied half
                    if not snapshot.is_stale(self.path, self.snapshot, exact=exact) or snapshot.has_log(self.path):
                        return False
                    snapshot.publish(self.path, self.snapshot)
                    return True
                except OSError as e:
                    log.warning("%s: read snapshot not refreshed: %s", self.path, e)
                    return False
                finally:
                    with _OPEN_CLOSE:
                        con.close()
        finally:
            gate.release()

    def apply_if_free(self) -> bool:
        """Apply pending analyst actions when nobody holds the file (one try, no wait): a writer that died, or one
        that committed an action's neighbour and left, leaves them to the next reader as well. True when it did."""
        if not self.journal.has_pending() or not self.path.exists():
            return False
        gate = _gate(self.path)
        if not gate.acquire(blocking=False):
            return False
        try:
            with self.write(timeout=0, only_actions=True):
                pass
            return True
        except StoreError:  # held by a writer (StoreLockedError) or not openable now: the next one applies them
            return False
        finally:
            gate.release()

    def apply_actions(self, con: duckdb.DuckDBPyConnection) -> dict[str, int]:
        """Apply the journal's pending analyst actions on a held read-write connection (see pipeline.journal)."""
        if not self.journal.path.exists():
            return {"applied": 0, "rejected": 0}
        return apply_pending(self.journal, self, con, self.transaction)

    # ----------------------------------------------------------------------------------- schema

    def upgrade(self) -> list[str]:
        """Apply pending migrations; returns the names applied (empty when up to date)."""
        applied: list[str] = []
        with self.write(apply_actions=False) as con:  # actions wait for the schema they were made against
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

    def show(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """`query` for listings a person reads (CLI tables, reports): from the published snapshot, never waiting
        for a running flow. Stages that act on what they read use `query` (the live file)."""
        with self.reader() as con:
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
    Reads between writes go through the held connection while it is open. Use as a context manager.

    When it takes the file it first applies the journal's pending analyst actions, and again before each release,
    where it also publishes the read snapshot when one is due (always at the end of the job)."""

    def __init__(self, store: Store, hold_seconds: float):
        self.store = store
        self.hold_seconds = hold_seconds
        self._con: duckdb.DuckDBPyConnection | None = None
        self._opened = 0.0
        self._outer: int | None = None
        self._job: AbstractContextManager[None] = nullcontext()

    def __enter__(self) -> WriteSession:
        self._job = self.store.job()  # readers leave publishing to this session while it runs
        self._job.__enter__()
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        try:
            self.release(final=exc_type is None)
        finally:
            self._job.__exit__(None, None, None)

    def release(self, final: bool = False, publish: bool = True) -> None:
        """Let go of the file: pending actions applied and the snapshot published first (forced when `final`)."""
        if self._con is None:
            return
        con, self._con = self._con, None
        _release_writer(self.store.path.absolute(), self._outer)
        with _gate(self.store.path):
            try:
                if publish:
                    self.store.apply_actions(con)
                    self.store.publish(con, force=final)
            finally:
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
        with _gate(self.store.path):
            if self._con is None:
                self._con = self.store._connect(read_only=False)
                self._outer = _WRITERS.get(self.store.path.absolute())
                _WRITERS[self.store.path.absolute()] = threading.get_ident()
                self.store._hold(self._con)
                self._opened = time.monotonic()
                try:
                    self.store.apply_actions(self._con)
                except BaseException:
                    self.release(publish=False)
                    raise
            con = self._con
            try:
                with self.store.transaction(con):
                    yield con
            except BaseException:
                self.release(publish=False)
                raise
            if time.monotonic() - self._opened >= self.hold_seconds:
                self.release()
