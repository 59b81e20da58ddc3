"""The `notifications` table: one row per (channel, event), each state change its own short transaction.

pending ──► sending ──► sent
               │ └────► failed ──(backoff)──► sending …   (dead after max_attempts, or at once when permanent)
               └ (a run killed here leaves `sending`: the next run resends with the same idempotency key)
Rows that are no longer worth sending (the item was closed, the alert acknowledged) become `skipped`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from pipeline.store import Store

DUE_STATES = ("pending", "failed", "sending")

COLUMNS = [
    "notification_id",
    "channel",
    "event_key",
    "event_kind",
    "brand_id",
    "level",
    "ref_id",
    "message_json",
    "state",
    "attempts",
    "next_attempt_at",
    "created_at",
    "updated_at",
]


def enqueue(store: Store, rows: list[dict[str, Any]]) -> list[str]:
    """Insert rows whose id is not there yet (a re-run queues nothing twice); returns the ids inserted."""
    if not rows:
        return []
    df = pd.DataFrame(rows, columns=COLUMNS).drop_duplicates("notification_id")
    df["next_attempt_at"] = pd.to_datetime(df["next_attempt_at"], utc=True)
    with store.write() as con:
        con.register("__new_notifications", df)
        try:
            return [
                r[0]
                for r in con.execute(
                    f"INSERT INTO notifications ({', '.join(COLUMNS)}) "
                    f"SELECT {', '.join(COLUMNS)} FROM __new_notifications "
                    "ON CONFLICT (notification_id) DO NOTHING RETURNING notification_id"
                ).fetchall()
            ]
        finally:
            con.unregister("__new_notifications")


def due(store: Store, now: datetime, limit: int = 500) -> pd.DataFrame:
    """Rows to try now: new, failed whose backoff is over, and interrupted (`sending`) ones; oldest first."""
    return store.query(
        f"""SELECT * FROM notifications
            WHERE state IN ({", ".join(repr(s) for s in DUE_STATES)})
              AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
            ORDER BY created_at, event_key, channel LIMIT ?""",
        [now, limit],
    )


def mark_sending(store: Store, notification_id: str, now: datetime) -> int:
    """Committed before the message leaves; returns the attempt number."""
    with store.write() as con:
        return int(
            con.execute(
                "UPDATE notifications SET state = 'sending', attempts = attempts + 1, "
                "last_attempt_at = ?, updated_at = ? "
                "WHERE notification_id = ? RETURNING attempts",
                [now, now, notification_id],
            ).fetchall()[0][0]
        )


def mark_sent(store: Store, notification_id: str, now: datetime) -> None:
    with store.write() as con:
        con.execute(
            "UPDATE notifications SET state = 'sent', sent_at = ?, last_error = NULL, next_attempt_at = NULL, "
            "updated_at = ? WHERE notification_id = ?",
            [now, now, notification_id],
        )


def mark_failed(store: Store, notification_id: str, now: datetime, error: str, retry_at: datetime | None) -> None:
    """`retry_at` None: dead (given up), else failed until then."""
    with store.write() as con:
        con.execute(
            "UPDATE notifications SET state = ?, last_error = ?, next_attempt_at = ?, updated_at = ? "
            "WHERE notification_id = ?",
            ["failed" if retry_at else "dead", error[:1000], retry_at, now, notification_id],
        )


def mark_skipped(store: Store, ids: list[str], reason: str, now: datetime) -> None:
    if ids:
        with store.write() as con:
            con.execute(
                "UPDATE notifications SET state = 'skipped', last_error = ?, updated_at = ? "
                "WHERE notification_id IN (SELECT * FROM unnest(?))",
                [reason, now, ids],
            )


def listing(store: Store, states: list[str] | None = None, limit: int = 50) -> pd.DataFrame:
    where = f"WHERE state IN ({', '.join('?' for _ in states)})" if states else ""
    return store.query(
        f"""SELECT left(notification_id, 8) AS id, channel, event_kind AS event, level, state, attempts,
                   strftime(next_attempt_at, '%Y-%m-%d %H:%M') AS next_try, strftime(sent_at, '%Y-%m-%d %H:%M') AS sent,
                   last_error, json_extract_string(message_json, '$.title') AS title
            FROM notifications {where} ORDER BY coalesce(updated_at, created_at) DESC LIMIT ?""",
        [*(states or []), limit],
    )


def retry_now(store: Store, now: datetime) -> int:
    """Failed and dead rows become due at once (after the operator fixed a channel)."""
    with store.write() as con:
        return len(
            con.execute(
                "UPDATE notifications SET state = 'failed', next_attempt_at = NULL, updated_at = ? "
                "WHERE state IN ('failed', 'dead') RETURNING notification_id",
                [now],
            ).fetchall()
        )
