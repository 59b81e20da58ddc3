"""One writer at a time: a file lock under the data folder, or an advisory lock on the team server.

DuckDB itself allows one read-write process per file, and `Store` retries short transactions while another
process holds it. That is enough for tiny writes (a crawl run row, an analyst action) but two *stages* writing
thousands of rows in alternating transactions would interleave and slow each other down. So every writing stage
of a flow holds the write lock for its whole run:

- the DuckDB file: `<data_dir>/.brandmon-write.lock` (fcntl `flock`);
- a team server (`store.url`): a session-level Postgres advisory lock, taken on a connection of its own that stays
  open for the stage. Writers on several machines share one server but not one data folder, so only the server
  can keep them apart. The holder's connection is named after it (`application_name`: stage, pid@host), which is
  how a waiter that gives up says who holds it.

Why these and not a Prefect global concurrency limit: they work without a Prefect server (plain CLI runs,
`--no-prefect`, tests), they cover processes Prefect does not know about (`brandmon ingest` from a shell), and they
die with their holder: the kernel drops a flock when the process dies, even by SIGKILL; the server drops an
advisory lock when the holder's connection closes (its socket is closed by the kernel then too), and, for a
machine that vanishes without closing it, after the TCP keepalive set on that session (about a minute).
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.store import StoreError, StoreLockedError

log = logging.getLogger(__name__)

LOCK_NAME = ".brandmon-write.lock"

# The advisory lock's first key ("bmon"); the second is the store's schema, hashed by the server. Advisory locks
# are scoped to one database, so each store (database and schema) has its own write lock.
PG_LOCK_CLASS = 0x626D6F6E
_PG_KEY = "(SELECT %s::int4 AS k1, hashtext(current_schema()) AS k2)"

# A vanished holder machine: the server probes its idle connection after 20 s, then every 10 s, 3 times.
_KEEPALIVE = {"tcp_keepalives_idle": "20", "tcp_keepalives_interval": "10", "tcp_keepalives_count": "3"}


class WriteLockTimeout(StoreLockedError):
    """Another flow kept the write lock longer than the timeout (transient: the flow task retries)."""


def lock_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / LOCK_NAME


@contextmanager
def write_lock(
    data_dir: str | Path, timeout: float = 600.0, poll: float = 0.2, *, url: str = "", stage: str = ""
) -> Iterator[str]:
    """Hold the store's write lock; raise `WriteLockTimeout` after `timeout` seconds of waiting.

    `url`: the team server (`settings.store.url`): its advisory lock instead of the data folder's file; `stage`:
    the holder's name in a waiter's message. Yields where the lock lives (the file's path, or the server).

    Re-entrant within one process is NOT supported (a second flock descriptor or a second server session would
    wait for the first), so stages take it, flows don't.
    """
    if url:
        with _server_lock(url, timeout, poll, stage) as where:
            yield where
        return
    path = lock_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    raise WriteLockTimeout(
                        f"{path}: another brandmon process ({holder}) has been writing for more than "
                        f"{timeout:.0f}s; try again later"
                    ) from None
                time.sleep(poll)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid={os.getpid()}\n".encode())
        yield str(path)
    finally:
        # Closing the descriptor releases the lock (also what the kernel does when the process dies).
        os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 64).decode(errors="replace").strip() or "unknown pid"
    except OSError:
        return "unknown pid"


# ------------------------------------------------------------------------------------------ the team server


def holder_name(stage: str = "") -> str:
    """This process as a lock holder: `brandmon <stage> pid=<pid>@<host>` (Postgres keeps 63 bytes of it)."""
    return f"brandmon {stage or 'writer'} pid={os.getpid()}@{socket.gethostname()}"[:63]


@contextmanager
def _server_lock(url: str, timeout: float, poll: float, stage: str) -> Iterator[str]:
    from pipeline.pg_store import redact

    try:
        import psycopg
    except ImportError as e:
        raise StoreError(
            f"store.url is a Postgres server, but {e.name} is not installed: pip install 'brandmon[team]'"
        ) from None
    where = f"{redact(url)} (advisory write lock)"
    try:
        con = psycopg.connect(url, autocommit=True, connect_timeout=10, application_name=holder_name(stage))
    except psycopg.Error as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise StoreError(f"{redact(url)}: cannot connect to the Postgres server for the write lock: {first}") from None
    try:
        for name, value in _KEEPALIVE.items():
            con.execute("SELECT set_config(%s, %s, false)", (name, value))
        if con.info.server_version >= 140000:  # a server-wide idle timeout must not end the holder's session
            con.execute("SET idle_session_timeout = 0")
        deadline = time.monotonic() + timeout
        while not _try_lock(con):
            if time.monotonic() >= deadline:
                raise WriteLockTimeout(
                    f"{where}: another brandmon process ({_server_holder(con)}) has been writing for more than "
                    f"{timeout:.0f}s; try again later"
                )
            time.sleep(poll)
        try:
            yield where
        finally:
            _unlock(con, where)
    finally:
        con.close()  # also what the server does with the lock when this process dies


def _try_lock(con: Any) -> bool:
    row = con.execute(f"SELECT pg_try_advisory_lock(k.k1, k.k2) FROM {_PG_KEY} k", (PG_LOCK_CLASS,)).fetchone()
    return bool(row and row[0])


def _unlock(con: Any, where: str) -> None:
    """Let go explicitly; a lost server connection lost the lock with it, which the stage's writes could not see."""
    try:
        row = con.execute(f"SELECT pg_advisory_unlock(k.k1, k.k2) FROM {_PG_KEY} k", (PG_LOCK_CLASS,)).fetchone()
        held = bool(row and row[0])
    except Exception as e:  # psycopg.Error: the session is gone
        log.warning("%s: the server session holding the write lock was lost during the stage: %s", where, e)
        return
    if not held:
        log.warning("%s: the write lock was no longer held at the end of the stage", where)


def _server_holder(con: Any) -> str:
    """Who holds the server's write lock: the holder's session name, its address and since when (or 'unknown')."""
    try:
        row = con.execute(
            "SELECT a.application_name, host(a.client_addr), a.pid, "
            "to_char(a.state_change AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') "
            f"FROM {_PG_KEY} k JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 "
            "AND l.classid = k.k1::oid AND l.objid = k.k2::oid "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "JOIN pg_stat_activity a ON a.pid = l.pid",
            (PG_LOCK_CLASS,),
        ).fetchone()
    except Exception:  # psycopg.Error: the message names what it can without it
        row = None
    if row is None:
        return "unknown holder"
    app, addr, backend, since = row
    parts = [app or f"server backend {backend}"]
    if addr:
        parts.append(f"from {addr}")
    if since:
        parts.append(f"since {since} UTC")
    return ", ".join(parts)
