"""The analyst actions journal: a click is committed here at once, and applied to the store by the next writer.

While a flow writes, the DuckDB file is locked for every other process, so an analyst's click (assign, resolve,
correct a label) could wait minutes for it. Instead every action is first committed to this small SQLite file
(WAL mode, `synchronous=FULL`: durable when `record` returns, a few milliseconds), with an action id that makes
recording it twice harmless. Whoever holds the store's write lock next applies the pending actions in the order they
were made, each in its own transaction (`apply_pending`, called by `Store.write()` and by a `WriteSession` when it
opens and at each periodic release), and the action itself tries the lock for `store.action_wait_seconds` first,
so on a free store it is applied before the call returns.

Exactly once: an action's changes carry its id (the audit event id is derived from it), so an applier that finds
its event already in the store only marks the action applied; that covers a crash between the store's commit and
the journal's mark. An action the store refuses when it is applied (the item changed meanwhile: a stale version,
an illegal transition) is marked `rejected` with the reason (`brandmon db actions` lists them).

Appliers register by kind (`register`); pipeline.escalate registers the queue and label actions.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS actions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    action_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    applied_at REAL,
    result TEXT,
    error TEXT
);
CREATE INDEX IF NOT EXISTS actions_status ON actions (status, seq);
"""
KEEP_APPLIED_DAYS = 30


class ActionRejected(ValueError):
    """The store refused an action (the message says why in one line); pipeline.escalate.ActionError is one."""


@dataclass(frozen=True)
class Action:
    seq: int
    action_id: str
    kind: str
    target: str
    actor: str
    created_at: datetime
    payload: dict[str, Any]
    status: str
    applied_at: float | None
    result: dict[str, Any] | None
    error: str | None


Applier = Callable[[Any, Any, Action], dict[str, Any]]  # (store, DuckDB connection, action) -> result
APPLIERS: dict[str, Applier] = {}


def register(kind: str) -> Callable[[Applier], Applier]:
    def deco(fn: Applier) -> Applier:
        APPLIERS[kind] = fn
        return fn

    return deco


def journal_path(db_path: str | Path) -> Path:
    """`data/brandmon.duckdb` → `data/brandmon.actions.sqlite`."""
    p = Path(db_path)
    return p.with_name(f"{p.stem}.actions.sqlite")


def _row(r: sqlite3.Row) -> Action:
    return Action(
        seq=r["seq"],
        action_id=r["action_id"],
        kind=r["kind"],
        target=r["target"],
        actor=r["actor"],
        created_at=datetime.fromisoformat(r["created_at"]),
        payload=json.loads(r["payload"]),
        status=r["status"],
        applied_at=r["applied_at"],
        result=json.loads(r["result"]) if r["result"] else None,
        error=r["error"],
    )


class Journal:
    """The journal file beside the database. Cheap to construct; each call opens and closes its connection."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @contextmanager
    def _con(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        try:
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
            con.executescript(SCHEMA)
            yield con
        finally:
            con.close()

    def record(
        self,
        kind: str,
        target: str,
        actor: str,
        payload: dict[str, Any],
        action_id: str | None = None,
        created_at: datetime | None = None,
    ) -> Action:
        """Commit an action (durable on return). The same action id recorded again keeps the first."""
        aid = action_id or uuid.uuid4().hex
        at = (created_at or datetime.now(UTC)).isoformat()
        with self._con() as con:
            con.execute(
                "INSERT OR IGNORE INTO actions (action_id, kind, target, actor, created_at, payload) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [aid, kind, target, actor, at, json.dumps(payload, default=str)],
            )
            return _row(con.execute("SELECT * FROM actions WHERE action_id = ?", [aid]).fetchone())

    def get(self, action_id: str) -> Action | None:
        if not self.path.exists():
            return None
        with self._con() as con:
            r = con.execute("SELECT * FROM actions WHERE action_id = ?", [action_id]).fetchone()
        return _row(r) if r else None

    def pending(self) -> list[Action]:
        if not self.path.exists():
            return []
        with self._con() as con:
            return [_row(r) for r in con.execute("SELECT * FROM actions WHERE status = 'pending' ORDER BY seq")]

    def has_pending(self) -> bool:
        if not self.path.exists():
            return False
        with self._con() as con:
            return con.execute("SELECT 1 FROM actions WHERE status = 'pending' LIMIT 1").fetchone() is not None

    def unpublished(self, published_at: float | None) -> list[Action]:
        """Actions a reader of a snapshot written at `published_at` may not see yet: the pending ones and the ones
        applied since (a few seconds of slack for the clocks of two processes), in the order they were made."""
        if not self.path.exists():
            return []
        since = (published_at or 0.0) - 5.0
        with self._con() as con:
            rows = con.execute(
                "SELECT * FROM actions WHERE status = 'pending' OR (status = 'applied' AND applied_at >= ?) "
                "ORDER BY seq",
                [since],
            )
            return [_row(r) for r in rows]

    def listing(self, statuses: list[str] | None = None, limit: int = 100) -> list[Action]:
        if not self.path.exists():
            return []
        sts = statuses or ["pending", "rejected", "applied"]
        with self._con() as con:
            rows = con.execute(
                f"SELECT * FROM actions WHERE status IN ({', '.join('?' for _ in sts)}) ORDER BY seq DESC LIMIT ?",
                [*sts, int(limit)],
            )
            return [_row(r) for r in rows]

    def mark(self, action_id: str, status: str, result: dict[str, Any] | None = None, error: str | None = None) -> None:
        with self._con() as con:
            con.execute(
                "UPDATE actions SET status = ?, applied_at = ?, result = ?, error = ? WHERE action_id = ?",
                [status, time.time(), json.dumps(result, default=str) if result else None, error, action_id],
            )

    def prune(self, days: float = KEEP_APPLIED_DAYS) -> int:
        """Forget applied actions older than `days` (the store's audit trail keeps them)."""
        if not self.path.exists():
            return 0
        with self._con() as con:
            cur = con.execute(
                "DELETE FROM actions WHERE status = 'applied' AND applied_at < ?", [time.time() - days * 86400]
            )
            return cur.rowcount


def apply_pending(
    journal: Journal,
    store: Any,
    con: Any,
    transaction: Callable[[Any], AbstractContextManager[None]],
) -> dict[str, int]:
    """Apply the pending actions in order, each in its own transaction on `con` (the caller holds the write lock).

    A refused action is marked rejected and the next one goes on; any other error (a schema not yet migrated, a
    full disk) leaves it and the ones after it pending, for the next writer."""
    counts = {"applied": 0, "rejected": 0}
    todo = journal.pending()
    if not todo:
        return counts
    import pipeline.alerts  # noqa: F401  registers the alert acknowledgement applier
    import pipeline.escalate  # noqa: F401  registers the queue and label appliers

    for a in todo:
        fn = APPLIERS.get(a.kind)
        if fn is None:
            log.warning("journal: no applier for %s action %s; left pending", a.kind, a.action_id)
            break
        try:
            with transaction(con):
                result = fn(store, con, a)
        except ActionRejected as e:
            journal.mark(a.action_id, "rejected", error=str(e))
            counts["rejected"] += 1
            log.warning("journal: %s action %s by %s rejected: %s", a.kind, a.action_id, a.actor, e)
            continue
        except Exception as e:  # left pending: the next writer tries again
            log.warning("journal: %s action %s left pending: %s", a.kind, a.action_id, str(e).splitlines()[0])
            break
        journal.mark(a.action_id, "applied", result=result)
        counts["applied"] += 1
    return counts
