"""Analyst actions through the journal, and what a reader of the snapshot sees of them before the snapshot does.

An action (pipeline.escalate: assign, transition, reopen, comment, correct) is checked against what the analyst
sees (the snapshot with the journal's unpublished actions laid over it), committed to the journal, then applied at
once when the write lock comes within `Store.action_wait` seconds, else by the next writer. Either way the call
returns within about a second: with the store's answer when it was applied, with the predicted one (`pending`)
otherwise. An applied action reaches readers with the next published snapshot; until then `overlay_*` lay it (and
the pending ones) over what the snapshot shows, so the analyst sees the click at once.

Laying over is idempotent: an escalation action is skipped when the snapshot's item already has the version the
action produces, a correction sets the value it set.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeGuard

import pandas as pd

from pipeline.journal import Action
from pipeline.store import StoreLockedError, stable_id

if TYPE_CHECKING:
    import duckdb

    from pipeline.store import Store

ESCALATION = "escalation"  # journal kinds
CORRECT = "correct"
ACK = "ack"  # an alert acknowledged (pipeline.alerts)


class HeldStore:
    """The store as an applier sees it: reads and writes go to the connection the journal's transaction holds."""

    snapshots = False  # an action applied through it is applied, not journaled again

    def __init__(self, store: Store, con: duckdb.DuckDBPyConnection):
        self.store = store
        self.con = con

    @contextmanager
    def write(self, **_: Any) -> Iterator[duckdb.DuckDBPyConnection]:
        yield self.con

    read = reader = write

    def upsert(self, table: str, rows: Any, key: Any, *, con: Any = None, update: Any = None) -> int:
        return self.store.upsert(table, rows, key, con=self.con, update=update)

    def query(self, sql: str, params: Any = None) -> pd.DataFrame:
        return self.con.execute(sql, params or []).df()


def journaled(store: Any) -> TypeGuard[Store]:
    """Actions on this store go through the journal (a Store with snapshots on; never a HeldStore)."""
    return bool(getattr(store, "snapshots", False)) and hasattr(store, "journal")


def event_id(action: Action) -> str:
    """The audit event an action writes: its id tells an applier the action is already in the store."""
    return stable_id("action", action.action_id)


def submit(store: Store, kind: str, target: str, actor: str, payload: dict[str, Any]) -> Action:
    """Commit the action to the journal, then apply what is pending if the write lock comes within
    `store.action_wait` seconds. Returns the action as the journal has it afterwards (status `pending` when the
    store stayed busy, `applied` with its result, or `rejected` with the store's reason)."""
    a = store.journal.record(kind, target, actor, payload)
    try:
        with store.write(timeout=store.action_wait, only_actions=True):
            pass  # Store.write() applies the pending actions, this one included, before its own transaction
    except StoreLockedError:
        return a
    return store.journal.get(a.action_id) or a


def unpublished(store: Any) -> list[Action]:
    """The actions a reader of `store.reader()` may not see yet (empty when readers read the live file). Pending
    ones are applied first when the file is free (a reader whose rows come from a cache never opens the store)."""
    if not journaled(store):
        return []
    store.apply_if_free()
    return store.journal.unpublished(store.published_at())


# --------------------------------------------------------------------------------------------- laying over


def _version_after(a: Action) -> int | None:
    if a.status == "applied" and a.result and a.result.get("version") is not None:
        return int(a.result["version"])
    v = a.payload.get("expected_version")
    return None if v is None else int(v) + 1


def after(item: dict[str, Any], a: Action) -> dict[str, Any]:
    """The escalation item (state, owner, version) once the escalation action `a` is applied to it."""
    p = a.payload
    out = dict(item)
    out["state"] = p.get("to_state") or item["state"]
    if "owner" in p:
        out["owner"] = p["owner"]
    out["version"] = int(item["version"]) + 1
    return out


def overlay_item(item: dict[str, Any], actions: list[Action]) -> tuple[dict[str, Any], list[Action]]:
    """`item` with the actions on it that its version does not include yet; and those actions."""
    laid = []
    for a in actions:
        if a.kind != ESCALATION or a.target != item["escalation_id"] or a.status == "rejected":
            continue
        v = _version_after(a)
        if v is not None and int(item["version"]) >= v:
            continue  # the snapshot has it
        item = after(item, a)
        laid.append(a)
    return item, laid


def overlay_queue(df: pd.DataFrame, actions: list[Action]) -> pd.DataFrame:
    """Queue rows (escalation_id, state, owner, version) with unpublished actions laid over; `pending` counts them."""
    df = df.copy()
    df["pending"] = 0
    targets = {a.target for a in actions if a.kind == ESCALATION}
    if df.empty or not targets:
        return df
    for i in df.index[df["escalation_id"].isin(targets)]:
        row = {k: df.at[i, k] for k in ("escalation_id", "state", "owner", "version")}
        new, laid = overlay_item(row, actions)
        for k in ("state", "owner", "version"):
            df.at[i, k] = new[k]
        df.at[i, "pending"] = len(laid)
    return df


def overlay_labels(df: pd.DataFrame, actions: list[Action]) -> pd.DataFrame:
    """Rows with mention_id and sentiment/intent columns, with unpublished label corrections laid over."""
    fixes = [a for a in actions if a.kind == CORRECT and a.status != "rejected"]
    if df.empty or not fixes or "mention_id" not in df.columns:
        return df
    df = df.copy()
    for a in fixes:  # in the order they were made: the last one wins, as in the store
        field, value = a.payload["field"], a.payload["value"]
        if field not in df.columns:
            continue
        hit = df["mention_id"] == a.target
        if hit.any():
            df.loc[hit, field] = value
            if "corrected" in df.columns:
                df.loc[hit, "corrected"] = True
    return df


def overlay_history(df: pd.DataFrame, escalation_id: str, actions: list[Action]) -> pd.DataFrame:
    """An item's audit rows (event_at, actor, action, from_state, to_state, owner, version, comment) with a row
    for each unpublished action on it whose event the rows do not hold yet (a pending one says so)."""
    seen = set(zip(df["version"], df["action"])) if not df.empty else set()
    rows = []
    for a in actions:
        if a.kind != ESCALATION or a.target != escalation_id or a.status == "rejected":
            continue
        p, v = a.payload, _version_after(a)
        if v is not None and (v, p.get("action")) in seen:
            continue
        rows.append(
            {
                "event_at": pd.Timestamp(a.created_at),
                "actor": a.actor,
                "action": p.get("action"),
                "from_state": p.get("from_state"),
                "to_state": p.get("to_state") or p.get("from_state"),
                "owner": p.get("owner", p.get("owner_after")),
                "version": v,
                "comment": ("(pending) " if a.status == "pending" else "") + (p.get("comment") or ""),
            }
        )
    if not rows:
        return df
    extra = pd.DataFrame(rows, columns=df.columns).astype({"version": "Int64"})
    return pd.concat([df.astype({"version": "Int64"}), extra], ignore_index=True)


def overlay_alerts(df: pd.DataFrame, actions: list[Action], show: str = "all") -> pd.DataFrame:
    """Alert rows with the journal's acknowledgements laid over (the first one counts, as when applied); with
    `show="open"` the rows just acknowledged drop out of the list."""
    acks: dict[str, Action] = {}
    for a in actions:
        if a.kind == ACK and a.status != "rejected":
            acks.setdefault(a.target, a)
    if df.empty or not acks or "alert_id" not in df.columns:
        return df
    out = df.copy()
    hit = out["alert_id"].isin(acks) & out["acknowledged_by"].isna()
    if not hit.any():
        return out
    out.loc[hit, "acknowledged_by"] = out.loc[hit, "alert_id"].map(lambda i: acks[i].actor)
    if "acknowledged_at" in out.columns:
        at = pd.to_datetime(out["acknowledged_at"], utc=True)
        out["acknowledged_at"] = at.where(
            ~hit, pd.to_datetime(out["alert_id"].map(lambda i: acks[i].created_at if i in acks else None), utc=True)
        )
    if show == "open":
        out = out[~hit].reset_index(drop=True)
    return out
