"""Published read snapshots: a copy of the database file that readers open while a writer holds the original.

DuckDB lets one process write a file and no other process open it meanwhile, not even to read. So the writer
publishes a copy (`<db>.read.duckdb` beside it) and readers open that copy read-only: they never meet the
writer's lock. A copy is taken under a lock on the live file that keeps every writer out (the writer's own
connection, or a reader's read-only one), after a CHECKPOINT has folded the write-ahead log into the file, so it
is consistent as of one commit. It is written to a temporary file in the same folder, flushed to disk, and renamed
over the snapshot name in one step: a reader that has the old snapshot open keeps reading it (POSIX keeps the
old file alive while it is open), the next reader opens the new one.

The copy is made by `cp` in a child process, never by this process: DuckDB locks the file with POSIX record
locks, and closing *any* descriptor of the file in the holding process drops all of that process's locks on it
(measured: after an `os.open`/`os.close` of the file, another process opened it although a connection held it).
`cp --reflink=auto` shares the blocks instead of copying them where the file system can (Btrfs, XFS).

Freshness: each publish records the live file's signature (inode, size and modification time of the file and of
its write-ahead log) beside the snapshot; the snapshot is stale when the live file's signature differs, which any
commit, checkpoint or restore (a new inode) makes it do.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def snapshot_path(db_path: str | Path) -> Path:
    """`data/brandmon.duckdb` → `data/brandmon.read.duckdb`."""
    p = Path(db_path)
    return p.with_name(f"{p.stem}.read{p.suffix or '.duckdb'}")


def wal_path(db_path: str | Path) -> Path:
    p = Path(db_path)
    return p.with_name(p.name + ".wal")


def _mtime(path: Path) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return None


def published_at(snap: Path) -> float | None:
    """When the snapshot was written (epoch seconds), None when there is none."""
    m = _mtime(snap)
    return None if m is None else m / 1e9


def live_signature(db_path: Path) -> str:
    """The live file's and its log's inode, size and modification time: any commit or restore changes it."""
    parts = []
    for p in (db_path, wal_path(db_path)):
        try:
            st = os.stat(p)
            parts.append(f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}")
        except FileNotFoundError:
            parts.append("-")
    return "/".join(parts)


def _source(snap: Path) -> Path:
    return snap.with_name(f".{snap.name}.source")


def _covered(snap: Path) -> Path:
    return snap.with_name(f".{snap.name}.covered")


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def mark_covered(db_path: Path, snap: Path) -> None:
    """Record that the live file's changes since the snapshot are applied analyst actions only, which readers lay
    over the snapshot anyway (pipeline.actions): a reader need not copy the file for them. The caller holds the
    write lock and has checkpointed, so the signature is the file's final one."""
    _write(_covered(snap), live_signature(db_path))


def is_stale(db_path: Path, snap: Path, exact: bool = True) -> bool:
    """True when the live file changed since the snapshot was published from it, or there is no snapshot.
    Not `exact`: changes that are only applied analyst actions (`mark_covered`) do not count."""
    if not snap.exists():
        return True
    sig = live_signature(db_path)
    if _read(_source(snap)) == sig:
        return False
    return exact or _read(_covered(snap)) != sig


def has_log(db_path: Path) -> bool:
    """A write-ahead log with content: committed work not yet folded into the file."""
    try:
        return os.stat(wal_path(db_path)).st_size > 0
    except FileNotFoundError:
        return False


_CP = shutil.which("cp")


def copy_file(src: Path, dst: Path) -> None:
    """Copy src to dst in a child process (see the module docstring for why never in this one), then fsync dst."""
    if _CP is not None:
        r = subprocess.run([_CP, "--reflink=auto", str(src), str(dst)], capture_output=True, text=True)
        if r.returncode != 0:
            raise OSError(f"cp {src} {dst}: {r.stderr.strip()}")
    else:  # no coreutils: the same copy by a Python child
        code = "import shutil, sys; shutil.copyfile(sys.argv[1], sys.argv[2])"
        subprocess.run([sys.executable, "-c", code, str(src), str(dst)], check=True)
    fd = os.open(dst, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(db_path: Path, snap: Path) -> float:
    """Copy the live file to the snapshot name atomically; the caller holds a lock that keeps writers out and has
    checkpointed. Returns the seconds it took."""
    t = time.perf_counter()
    sig = live_signature(db_path)  # the file does not change under the caller's lock
    tmp = snap.with_name(f".{snap.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        copy_file(db_path, tmp)
        os.replace(tmp, snap)
    finally:
        tmp.unlink(missing_ok=True)
    _write(_source(snap), sig)  # a crash before this only costs one needless copy
    dfd = os.open(snap.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)  # the rename itself survives a crash
    finally:
        os.close(dfd)
    return time.perf_counter() - t


def _job_lock(snap: Path) -> Path:
    return snap.with_name(f".{snap.name}.job")


@contextmanager
def job_running(snap: Path) -> Iterator[None]:
    """Held (a shared flock) while a long writing job runs: readers then leave publishing to the job (at its
    interval and its end) instead of copying the file between its transactions. The kernel lets go of it when the
    job's process dies, so a crashed job never keeps readers from refreshing."""
    try:
        fd = os.open(_job_lock(snap), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # a read-only data folder: no job writes there anyway
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def job_is_running(snap: Path) -> bool:
    """True while some process (this one included) runs a job under `job_running`."""
    try:
        fd = os.open(_job_lock(snap), os.O_RDONLY)
    except OSError:  # no job has ever run here
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


@contextmanager
def catch_up_turn(snap: Path) -> Iterator[bool]:
    """One reader at a time refreshes a stale snapshot; the others read the one there is (yields False)."""
    lock = snap.with_name(f".{snap.name}.lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # a read-only data folder: nobody refreshes, readers read what is there
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # releases the flock
