"""Sentence embeddings kept on disk, so a theme run in a new process does not embed the same texts again.

The themes flow re-clusters each brand's last 60 days every hour, and each run is a new process: without this,
every run embeds every complaint of the window again (about 7 texts/s on 2 cores, docs/themes.md). The cache is one
SQLite file per embedder identity (model weights, prefix, length: `get_embedder` names it), keyed by the sha256
of the text, holding the float32 row exactly as the model returned it, so a run reading it clusters exactly as a
run that embedded.

It is derived data: a damaged or unreadable file is logged, moved aside and rebuilt, never an error for the stage.
Several processes may share it (SQLite's locking, WAL, a busy timeout); the oldest rows go first past `max_rows`
(`themes.embedding_cache_rows`).
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_CHUNK = 500  # keys per SELECT (SQLite's variable limit is 32k; smaller keeps statements short)


def _busy(e: sqlite3.OperationalError) -> bool:
    return "locked" in str(e) or "busy" in str(e)


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


class VectorCache:
    def __init__(self, path: Path, dim: int, max_rows: int = 100_000):
        self.path = Path(path)
        self.dim = dim
        self.max_rows = max_rows
        self._con: sqlite3.Connection | None = None
        self._off = False  # unusable for this process (an unwritable folder, a file that cannot be rebuilt)

    def _connect(self) -> sqlite3.Connection | None:
        if self._con is not None or self._off:
            return self._con
        for attempt in (1, 2):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                con.execute("PRAGMA journal_mode=WAL")
                con.execute(
                    "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vec BLOB NOT NULL, added REAL NOT NULL)"
                )
                con.execute("CREATE INDEX IF NOT EXISTS vectors_added ON vectors (added)")
                con.execute("SELECT count(*) FROM vectors").fetchone()
                self._con = con
                return con
            except sqlite3.OperationalError as e:
                if _busy(e):  # another process is writing it: this call goes without, the next one tries again
                    log.warning("embedding cache %s busy (%s): this batch is not cached", self.path, e)
                    return None
                error: Exception = e
            except sqlite3.DatabaseError as e:
                error = e
            except OSError as e:  # the folder cannot be made or written: no cache for this process
                log.warning("embedding cache %s unavailable (%s): embedding without it", self.path, e)
                self._off = True
                return None
            if attempt == 2:
                log.warning("embedding cache %s unusable (%s): embedding without it", self.path, error)
                self._off = True
                return None
            self._move_aside(error)
        return None

    def _move_aside(self, error: Exception) -> None:
        aside = self.path.with_name(f"{self.path.name}.damaged-{int(time.time())}")
        log.warning("embedding cache %s is damaged (%s): moved to %s, starting a new one", self.path, error, aside)
        try:
            for suffix in ("-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            self.path.replace(aside)
        except OSError as e:
            log.warning("could not move %s aside (%s)", self.path, e)

    def get(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached rows of those of ``texts`` that have one."""
        con = self._connect()
        if con is None or not texts:
            return {}
        by_key = {text_key(t): t for t in texts}
        keys = list(by_key)
        found: dict[str, np.ndarray] = {}
        try:
            for i in range(0, len(keys), _CHUNK):
                part = keys[i : i + _CHUNK]
                rows = con.execute(
                    f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(part))})", part
                ).fetchall()
                for key, blob in rows:
                    vec = np.frombuffer(blob, dtype=np.float32)
                    if vec.shape == (self.dim,):
                        found[by_key[bytes(key)]] = vec
        except sqlite3.DatabaseError as e:
            self._reset(e)
            return {}
        return found

    def put(self, texts: Sequence[str], vecs: np.ndarray) -> None:
        con = self._connect()
        if con is None or not len(texts):
            return
        now = time.time()
        rows = [(text_key(t), np.ascontiguousarray(v, dtype=np.float32).tobytes(), now) for t, v in zip(texts, vecs)]
        try:
            con.execute("BEGIN IMMEDIATE")
            con.executemany("INSERT OR REPLACE INTO vectors (key, vec, added) VALUES (?, ?, ?)", rows)
            (n,) = con.execute("SELECT count(*) FROM vectors").fetchone()
            if n > self.max_rows:
                con.execute(
                    "DELETE FROM vectors WHERE key IN (SELECT key FROM vectors ORDER BY added LIMIT ?)",
                    [n - self.max_rows],
                )
            con.execute("COMMIT")
        except sqlite3.DatabaseError as e:
            self._reset(e)

    def _reset(self, error: Exception) -> None:
        if self._con is not None:
            try:
                self._con.close()
            except sqlite3.Error:
                pass
            self._con = None
        if isinstance(error, sqlite3.OperationalError) and _busy(error):
            log.warning("embedding cache %s busy (%s): this batch is not cached", self.path, error)
            return
        self._move_aside(error)

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
