"""One writer at a time: a process-level file lock under the data folder.

DuckDB itself allows one read-write process per file, and `Store` retries short transactions while another
process holds it. That is enough for tiny writes (a crawl run row, an analyst action) but two *stages* writing
thousands of rows in alternating transactions would interleave and slow each other down. So every writing stage
of a flow holds `<data_dir>/.brandmon-write.lock` (fcntl `flock`) for its whole run.

Why a file lock and not a Prefect global concurrency limit: it works without a Prefect server (plain CLI runs,
`--no-prefect`, tests), it covers processes Prefect does not know about (`brandmon ingest` from a shell), and the
kernel releases it when the holder dies, even by SIGKILL, so a killed flow never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.store import StoreLockedError

LOCK_NAME = ".brandmon-write.lock"


class WriteLockTimeout(StoreLockedError):
    """Another flow kept the write lock longer than the timeout (transient: the flow task retries)."""


def lock_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / LOCK_NAME


@contextmanager
def write_lock(data_dir: str | Path, timeout: float = 600.0, poll: float = 0.2) -> Iterator[Path]:
    """Hold the data folder's write lock; raise `WriteLockTimeout` after `timeout` seconds of waiting.

    Re-entrant within one process is NOT supported (flock on a second descriptor would deadlock against
    itself), so stages take it, flows don't.
    """
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
        yield path
    finally:
        # Closing the descriptor releases the lock (also what the kernel does when the process dies).
        os.close(fd)


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 64).decode(errors="replace").strip() or "unknown pid"
    except OSError:
        return "unknown pid"
