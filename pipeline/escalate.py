"""Escalation queue: which scored mentions need a human, how urgently, and why; plus the analyst actions.

Priority is a weighted sum of factors in [0, 1] (weights in `Settings.escalation.weights`):

    priority = w_negativity·p_neg + w_complaint·P(complaint) + w_failure·P(failure)
             + w_threat·max(term weight)·(0.5 + 0.5·p_neg) + w_reach·reach + w_velocity·velocity
             + w_recency·0.5^(age_h / half_life)

Corrected mentions use their corrected labels as 0/1 instead of model probabilities. Every escalation stores
`reasons_json`: each factor's value, weight and contribution, the matched threat terms and the raw counts behind
reach and velocity, so an analyst sees why it is in the queue. Level thresholds and SLA hours come from settings.

Lifecycle: new → assigned → in_progress → resolved | dismissed; resolved/dismissed → new | assigned (reopen).
Every change writes an `escalation_events` row (with owner and version after the change) in the same
transaction as the change; analyst actions check `escalations.version` (optimistic concurrency).
On a store with snapshots (pipeline.actions) an action is checked against what the analyst sees, committed to the
journal, and applied at once when the write lock is free within a moment, else by the next writer; the queue and
history readers lay the journal's unpublished actions over the snapshot.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline import facts
from pipeline.actions import (
    CORRECT,
    ESCALATION,
    HeldStore,
    after,
    journaled,
    overlay_history,
    overlay_item,
    overlay_labels,
    overlay_queue,
    submit,
    unpublished,
)
from pipeline.actions import event_id as action_event_id
from pipeline.journal import Action, ActionRejected, register
from pipeline.labels import INTENTS, LEVELS, OPEN_STATES, SENTIMENTS, STATES
from pipeline.logs import log_context
from pipeline.store import Store, stable_id, utcnow
from pipeline.threats import compile_terms, match_terms

if TYPE_CHECKING:
    from pipeline.config import Settings

log = logging.getLogger(__name__)

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("assigned", "in_progress", "dismissed"),
    "assigned": ("in_progress", "resolved", "dismissed"),
    "in_progress": ("assigned", "resolved", "dismissed"),
    "resolved": ("new", "assigned"),
    "dismissed": ("new", "assigned"),
}
SYSTEM = "system"


class ActionError(ActionRejected):  # a ValueError
    """An analyst action that cannot be applied (illegal transition, stale version, unknown id)."""


# --------------------------------------------------------------------------------------------- scoring

CANDIDATES_SQL = """
WITH docs AS (
    SELECT d.*,
           coalesce(d.thread_url, d.url, d.doc_id) AS thread_key,
           coalesce(nullif(d.author_url, ''), nullif(d.author, '')) AS author_id,
           coalesce(d.posted_at, d.ingested_at) AS post_at
    FROM documents d
),
author_posts AS (
    SELECT source_id, author_id, count(*) AS author_posts, coalesce(sum(likes), 0) AS author_likes
    FROM docs WHERE author_id IS NOT NULL GROUP BY ALL
),
author_replies AS (
    SELECT p.source_id, p.author_id, count(*) AS author_replies
    FROM docs c JOIN docs p ON c.parent_id = p.doc_id
    WHERE p.author_id IS NOT NULL AND c.author_id IS DISTINCT FROM p.author_id
    GROUP BY ALL
),
thread_last AS (
    SELECT source_id, thread_key, max(post_at) AS last_at FROM docs GROUP BY ALL
),
velocity AS (
    SELECT d.source_id, d.thread_key, count(*) AS thread_posts_window
    FROM docs d JOIN thread_last t USING (source_id, thread_key)
    WHERE d.post_at > t.last_at - to_microseconds(CAST(? * 3600000000 AS BIGINT))
    GROUP BY ALL
),
official AS (
    SELECT source_id, thread_key, post_at FROM docs WHERE coalesce(is_official_answer, FALSE)
),
answered AS (
    SELECT d.doc_id, min(o.post_at) AS official_answer_at
    FROM docs d JOIN official o ON o.source_id = d.source_id AND o.thread_key = d.thread_key AND o.post_at >= d.post_at
    GROUP BY ALL
)
SELECT m.mention_id, m.brand_id, m.context, d.doc_id, d.source_id, d.url, d.thread_key, d.thread_title,
       d.author, d.post_at AS posted_at, coalesce(d.likes, 0) AS likes, coalesce(d.replies, 0) AS replies,
       coalesce(d.reach, 0) AS reach,
       cs.sentiment, cs.p_neg, cs.intent, cs.intent_probs_json, cs.corrected, cs.unsure,
       coalesce(ap.author_posts, 0) AS author_posts, coalesce(ap.author_likes, 0) AS author_likes,
       coalesce(ar.author_replies, 0) AS author_replies,
       coalesce(v.thread_posts_window, 0) AS thread_posts_window,
       a.official_answer_at
FROM current_scores cs
JOIN mentions m USING (mention_id)
JOIN docs d ON d.doc_id = m.doc_id
LEFT JOIN author_posts ap ON ap.source_id = d.source_id AND ap.author_id = d.author_id
LEFT JOIN author_replies ar ON ar.source_id = d.source_id AND ar.author_id = d.author_id
LEFT JOIN velocity v ON v.source_id = d.source_id AND v.thread_key = d.thread_key
LEFT JOIN answered a ON a.doc_id = d.doc_id
WHERE cs.sentiment IS NOT NULL
  AND NOT coalesce(d.spam, FALSE)
  AND (d.dup_of IS NULL OR d.dup_of = d.doc_id)
  AND NOT coalesce(d.is_official_answer, FALSE)
"""


def _prob(row_probs: str | None, label: str) -> float | None:
    if not row_probs:
        return None
    try:
        v = json.loads(row_probs).get(label)
    except (ValueError, AttributeError):
        return None
    return float(v) if v is not None else None


def level_of(priority: float, thresholds: dict[str, float]) -> str:
    for level in LEVELS[:-1]:  # most urgent first; below every threshold is "low"
        if level in thresholds and priority >= thresholds[level]:
            return level
    return "low"


def score_candidates(df: pd.DataFrame, settings: Settings, now: datetime) -> pd.DataFrame:
    """Add factor columns, `priority`, `level`, `threat_terms` and `reasons_json` to candidate rows (pure)."""
    es = settings.escalation
    w = {
        k: float(es.weights.get(k, 0.0))
        for k in ("negativity", "complaint", "failure", "threat", "reach", "velocity", "recency")
    }
    out = df.copy()
    if out.empty:
        for c in ("priority", "level", "reasons_json", "threat_terms"):
            out[c] = pd.Series(dtype=object)
        return out
    corrected = out["corrected"].fillna(False).astype(bool)
    neg_label = (out["sentiment"] == "negative").astype(float)
    p_neg = out["p_neg"].astype(float)
    out["f_negativity"] = np.where(corrected | p_neg.isna(), neg_label, p_neg)
    for name, label in (("complaint", "complaint"), ("failure", "failure")):
        indicator = (out["intent"] == label).astype(float)
        probs = out["intent_probs_json"].map(lambda s, lb=label: _prob(s, lb))
        probs = pd.to_numeric(probs, errors="coerce")
        out[f"f_{name}"] = np.where(corrected | probs.isna(), indicator, probs.fillna(0.0))
        # the model's argmax label counts fully even when its probability is modest
        out[f"f_{name}"] = np.maximum(out[f"f_{name}"], np.where(~corrected, indicator, 0.0))

    terms = compile_terms(es.extra_terms)
    matches = [match_terms(t or "", terms) for t in out["context"]]
    out["threat_terms"] = [
        [{"term": m.phrase, "category": m.category, "weight": m.weight, "found": m.found} for m in ms] for ms in matches
    ]
    term_w = np.array([ms[0].weight if ms else 0.0 for ms in matches])
    out["f_threat"] = term_w * (0.5 + 0.5 * out["f_negativity"].to_numpy())

    engagement = out["author_replies"] + out["author_likes"] + out["likes"] + out["replies"] + out["reach"] / 100.0
    out["f_reach"] = np.minimum(1.0, np.log1p(engagement.astype(float)) / math.log1p(es.reach_saturation))
    out["f_velocity"] = np.minimum(
        1.0, np.log1p(out["thread_posts_window"].astype(float)) / math.log1p(es.velocity_saturation)
    )
    posted = pd.to_datetime(out["posted_at"], utc=True)
    age_h = ((pd.Timestamp(now) - posted).dt.total_seconds() / 3600.0).fillna(0.0).clip(lower=0.0)
    out["age_hours"] = age_h
    out["f_recency"] = np.power(0.5, age_h / es.recency_half_life_hours)

    factors = list(w)
    contrib = np.column_stack([out[f"f_{k}"].to_numpy(dtype=float) * w[k] for k in factors])
    out["priority"] = contrib.sum(axis=1).round(4)
    out["level"] = [level_of(p, es.level_thresholds) for p in out["priority"]]
    out["reasons_json"] = None
    return out


def with_reasons(scored: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Fill `reasons_json` (only for the rows that need it: building JSON for every mention is the slow part)."""
    out = scored.copy()
    if out.empty:
        return out
    w = {
        k: float(settings.escalation.weights.get(k, 0.0))
        for k in ("negativity", "complaint", "failure", "threat", "reach", "velocity", "recency")
    }
    factors = list(w)
    contrib = np.column_stack([out[f"f_{k}"].to_numpy(dtype=float) * w[k] for k in factors])
    reasons = []
    for i, row in enumerate(out.itertuples(index=False)):
        reasons.append(
            json.dumps(
                {
                    "priority": float(row.priority),
                    "factors": {
                        k: {
                            "value": round(float(getattr(row, f"f_{k}")), 4),
                            "weight": w[k],
                            "contribution": round(float(contrib[i, j]), 4),
                        }
                        for j, k in enumerate(factors)
                    },
                    "threat_terms": row.threat_terms,
                    "sentiment": row.sentiment,
                    "intent": row.intent,
                    "corrected": bool(row.corrected) if row.corrected is not None else False,
                    "model_unsure": bool(row.unsure) if row.unsure is not None and not pd.isna(row.unsure) else False,
                    "reach_counts": {
                        "author_posts": int(row.author_posts),
                        "author_replies_received": int(row.author_replies),
                        "author_likes_received": int(row.author_likes),
                        "post_likes": int(row.likes),
                        "post_replies": int(row.replies),
                    },
                    "thread_posts_last_window": int(row.thread_posts_window),
                    "age_hours": round(float(row.age_hours), 1),
                },
                ensure_ascii=False,
            )
        )
    out["reasons_json"] = reasons
    return out


def explain(reasons_json: str | None) -> str:
    """One line from reasons_json: the biggest contributions first, then the matched terms."""
    if not reasons_json:
        return ""
    r = json.loads(reasons_json)
    parts = [
        f"{k} {v['value']:.2f}×{v['weight']:.2f}={v['contribution']:.2f}"
        for k, v in sorted(r.get("factors", {}).items(), key=lambda kv: -kv[1]["contribution"])
        if v["contribution"] > 0
    ]
    terms = r.get("threat_terms") or []
    if terms:
        parts.append("terms: " + ", ".join(f"{t['found']} ({t['category']})" for t in terms))
    if r.get("official_answer_at"):
        parts.append(f"brand answered in thread at {r['official_answer_at']}")
    if r.get("model_unsure"):
        parts.append("model unsure: check the sentiment")
    return "; ".join(parts)


# --------------------------------------------------------------------------------------------- escalate()


def _sla_due(received: pd.Series, level: pd.Series, sla_hours: dict[str, float]) -> pd.Series:
    hours = level.map(lambda lv: float(sla_hours.get(lv, sla_hours.get("low", 72))))
    return pd.to_datetime(received, utc=True) + pd.to_timedelta(hours, unit="h")


def _event_rows(rows: list[dict[str, Any]]) -> pd.DataFrame:
    cols = [
        "event_id",
        "escalation_id",
        "event_at",
        "actor",
        "action",
        "from_state",
        "to_state",
        "comment",
        "owner",
        "version",
    ]
    df = pd.DataFrame(rows, columns=cols)
    df["event_at"] = pd.to_datetime(df["event_at"], utc=True)
    return df


def _event_id(escalation_id: str, version: int, action: str, at: datetime) -> str:
    return stable_id(escalation_id, version, action, at.isoformat())


def _event(
    escalation_id: str,
    version: int,
    action: str,
    at: datetime,
    from_state: str | None,
    to_state: str | None,
    comment: str | None,
    owner: Any,
    actor: str = SYSTEM,
    event_id: str | None = None,
) -> dict[str, Any]:
    """One `escalation_events` row (owner and version after the change); the id is stable for a re-run."""
    return dict(
        event_id=event_id or _event_id(escalation_id, version, action, at),
        escalation_id=escalation_id,
        event_at=at,
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=to_state,
        comment=comment,
        owner=owner,
        version=version,
    )


_COUNTS = ("scored", "eligible", "created", "updated", "reopened", "auto_dismissed", "answered_by_brand")


def escalate(settings: Settings, store: Store, now: datetime | None = None) -> dict[str, int]:
    """Score every eligible mention, open/update queue items, reopen dismissed ones on new negative replies.

    Idempotent: escalation_id = stable_id(mention_id); a re-run updates priority/level/reasons of open items
    (without bumping their version, so an analyst's open form stays valid) and creates nothing twice.
    """
    stamp = utcnow()  # audit times are wall-clock; `now` is only the scoring reference (recency)
    now = now or stamp
    min_priority = settings.escalation.min_priority
    with log_context(stage="escalate"):
        scored, queued_at = _scored_candidates(settings, store, now)
        if scored.empty and not queued_at:
            return {**dict.fromkeys(_COUNTS, 0), "open": 0}
        counts = dict.fromkeys(_COUNTS, 0)
        counts["scored"] = len(scored)
        scored = _queue_rows(scored, queued_at, settings, stamp)
        eligible = scored[scored["priority"] >= min_priority]
        counts["eligible"] = len(eligible)
        with store.write() as con:
            existing = _existing(con)
            ex = existing.set_index("escalation_id") if not existing.empty else existing
            known = set(existing["escalation_id"]) if not existing.empty else set()
            events: list[dict[str, Any]] = []
            new = eligible[~eligible["escalation_id"].isin(known)]
            counts["created"] = _create(con, store, new, stamp, events)
            if known:
                cur = scored[scored["escalation_id"].isin(known)].copy()
                cur["state"] = cur["escalation_id"].map(ex["state"])
                cur = cur[cur["state"] != "resolved"]  # a resolved item keeps its snapshot
                counts["updated"] = _refresh(con, store, cur, stamp)
                counts["auto_dismissed"] = _dismiss_below_threshold(con, cur, ex, min_priority, stamp, events)
                counts["auto_dismissed"] += _dismiss_flagged(con, stamp, events)
                counts["reopened"] = _reopen_on_new_replies(con, existing, ex, stamp, events)
            answered = scored[
                scored["official_answer_at"].notna() & scored["escalation_id"].isin(known | set(new["escalation_id"]))
            ]
            counts["answered_by_brand"] = _official_answers(con, answered, stamp, events)
            if events:
                store.upsert("escalation_events", _event_rows(events), ["event_id"], con=con, update=[])
            counts["open"] = con.execute(
                "SELECT count(*) FROM escalations WHERE state IN ('new','assigned','in_progress')"
            ).fetchall()[0][0]
        log.info("escalate: %s", counts)
        return counts


def _scored_candidates(settings: Settings, store: Store, now: datetime) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every eligible mention scored, and {escalation_id: created_at} of what is queued already."""
    with store.read() as con:
        cand = con.execute(CANDIDATES_SQL, [float(settings.escalation.velocity_window_hours)]).df()
    # plain Python strings: the row-wise steps below iterate these columns, and Arrow-backed strings iterate slowly
    cand = cand.astype({c: object for c in cand.columns if pd.api.types.is_string_dtype(cand[c])})
    scored = score_candidates(cand, settings, now)
    with store.read() as con:
        queued_at = dict(con.execute("SELECT escalation_id, created_at FROM escalations").fetchall())
    return scored, queued_at


def _times_or(values: pd.Series, stamp: datetime) -> pd.Series:
    """UTC times with missing ones set to `stamp`, in one unit (pandas refuses to fill seconds with microseconds)."""
    return pd.to_datetime(values, utc=True).dt.as_unit("us").fillna(pd.Timestamp(stamp).as_unit("us"))


def _queue_rows(scored: pd.DataFrame, queued_at: dict[str, Any], settings: Settings, stamp: datetime) -> pd.DataFrame:
    """The rows the queue needs (above the threshold, or queued already) with escalation id, reasons and SLA due."""
    es = settings.escalation
    scored["escalation_id"] = pd.Series([stable_id(m) for m in scored["mention_id"]], index=scored.index, dtype=object)
    scored = scored[(scored["priority"] >= es.min_priority) | scored["escalation_id"].isin(set(queued_at))]
    scored = with_reasons(scored, settings)
    if es.sla_from == "posted":
        clock = _times_or(scored["posted_at"], stamp)
    else:  # "queued": the team's clock starts when the item enters the queue (a backfill is not born late)
        clock = _times_or(scored["escalation_id"].map(queued_at), stamp)
    scored["sla_due_at"] = _sla_due(clock, scored["level"], es.sla_hours)
    scored["official_answer_at"] = pd.to_datetime(scored["official_answer_at"], utc=True)
    return scored


def _existing(con: Any) -> pd.DataFrame:
    """The queue as stored, with when each item was last dismissed."""
    return con.execute(
        """SELECT e.escalation_id, e.state, e.owner, e.version, e.first_response_at,
                  (SELECT max(event_at) FROM escalation_events v
                    WHERE v.escalation_id = e.escalation_id AND v.to_state = 'dismissed') AS dismissed_at
           FROM escalations e"""
    ).df()


def _create(con: Any, store: Store, new: pd.DataFrame, stamp: datetime, events: list[dict[str, Any]]) -> int:
    """New queue items (state new, version 1), each with its `create` event."""
    if new.empty:
        return 0
    rows = pd.DataFrame(
        {
            "escalation_id": new["escalation_id"],
            "mention_id": new["mention_id"],
            "brand_id": new["brand_id"],
            "priority": new["priority"],
            "level": new["level"],
            "reasons_json": new["reasons_json"],
            "state": "new",
            "owner": None,
            "sla_due_at": new["sla_due_at"],
            "first_response_at": pd.NaT,  # set from an official answer (_official_answers), with its event
            "resolved_at": pd.NaT,
            "version": 1,
            "created_at": pd.Timestamp(stamp),
            "updated_at": pd.Timestamp(stamp),
        }
    )
    rows["resolved_at"] = pd.to_datetime(rows["resolved_at"], utc=True)
    rows["first_response_at"] = pd.to_datetime(rows["first_response_at"], utc=True)
    rows["owner"] = rows["owner"].astype(object)
    store.upsert("escalations", rows, ["escalation_id"], con=con)
    for r in new.itertuples(index=False):
        events.append(
            _event(r.escalation_id, 1, "create", stamp, None, "new", f"priority {r.priority:.2f} ({r.level})", None)
        )
    return len(new)


def _refresh(con: Any, store: Store, cur: pd.DataFrame, stamp: datetime) -> int:
    """Priority, level, reasons and SLA of queued items brought up to date (no version bump: no state change)."""
    if cur.empty:
        return 0
    upd = cur[["escalation_id", "priority", "level", "reasons_json", "sla_due_at"]].copy()
    upd["updated_at"] = pd.Timestamp(stamp)
    store.upsert("escalations", upd, ["escalation_id"], con=con)
    return len(upd)


def _system_move(
    con: Any,
    events: list[dict[str, Any]],
    stamp: datetime,
    escalation_id: str,
    version: int,
    from_state: str,
    to_state: str,
    action: str,
    comment: str,
    owner: Any = None,
) -> bool:
    """A state change the system makes, applied only while the item is still at `version` and `from_state` (an
    analyst's change in between wins), with its event; True when it applied."""
    v = int(version) + 1
    reopened = ", resolved_at=NULL" if to_state in OPEN_STATES else ""  # an open item has no resolved_at
    hit = con.execute(
        f"UPDATE escalations SET state=?, version=?, updated_at=?{reopened} "
        "WHERE escalation_id=? AND version=? AND state=? RETURNING escalation_id",
        [to_state, v, stamp, escalation_id, v - 1, from_state],
    ).fetchall()
    if hit:
        events.append(_event(escalation_id, v, action, stamp, from_state, to_state, comment, owner))
    return bool(hit)


def _dismiss_below_threshold(
    con: Any, cur: pd.DataFrame, ex: pd.DataFrame, min_priority: float, stamp: datetime, events: list[dict[str, Any]]
) -> int:
    """Untouched new items that fell below the threshold (e.g. corrected to positive) leave the queue."""
    low = cur[(cur["state"] == "new") & (cur["priority"] < min_priority)]
    low = low[low["escalation_id"].map(ex["owner"]).isna()]
    return sum(
        _system_move(
            con,
            events,
            stamp,
            r.escalation_id,
            ex.at[r.escalation_id, "version"],
            "new",
            "dismissed",
            "auto_dismiss",
            f"priority fell to {r.priority:.2f}, below {min_priority:.2f}",
        )
        for r in low.itertuples(index=False)
    )


def _dismiss_flagged(con: Any, stamp: datetime, events: list[dict[str, Any]]) -> int:
    """Untouched new items whose post was later flagged spam or duplicate (or is the brand's own) leave too."""
    gone = con.execute(
        """SELECT e.escalation_id, e.version,
                  CASE WHEN coalesce(d.spam, FALSE) THEN 'spam'
                       WHEN coalesce(d.is_official_answer, FALSE) THEN 'an official answer'
                       ELSE 'a duplicate' END AS why
           FROM escalations e JOIN mentions m USING (mention_id) JOIN documents d ON d.doc_id = m.doc_id
           WHERE e.state = 'new' AND e.owner IS NULL
             AND (coalesce(d.spam, FALSE) OR coalesce(d.is_official_answer, FALSE)
                  OR (d.dup_of IS NOT NULL AND d.dup_of <> d.doc_id))"""
    ).fetchall()
    return sum(
        _system_move(
            con, events, stamp, eid, version, "new", "dismissed", "auto_dismiss", f"the post is now marked as {why}"
        )
        for eid, version, why in gone
    )


REPLIES_SINCE_DISMISSAL_SQL = """
WITH docs AS (
    SELECT d.*, coalesce(d.thread_url, d.url, d.doc_id) AS thread_key,
           coalesce(d.posted_at, d.ingested_at) AS post_at
    FROM documents d
    WHERE NOT coalesce(d.spam, FALSE) AND (d.dup_of IS NULL OR d.dup_of = d.doc_id)
)
SELECT x.escalation_id, count(DISTINCT r.doc_id) AS n, min(r.post_at) AS first_at
FROM __dismissed x
JOIN escalations e USING (escalation_id)
JOIN mentions m ON m.mention_id = e.mention_id
JOIN docs d ON d.doc_id = m.doc_id
JOIN docs r ON r.source_id = d.source_id AND r.thread_key = d.thread_key
           AND r.doc_id <> d.doc_id AND r.post_at > x.dismissed_at
           AND NOT coalesce(r.is_official_answer, FALSE)
JOIN mentions rm ON rm.doc_id = r.doc_id AND rm.brand_id = m.brand_id
JOIN current_scores rs ON rs.mention_id = rm.mention_id AND rs.sentiment = 'negative'
GROUP BY ALL
"""


def _reopen_on_new_replies(
    con: Any, existing: pd.DataFrame, ex: pd.DataFrame, stamp: datetime, events: list[dict[str, Any]]
) -> int:
    """Dismissed items whose thread got new negative replies about the brand after the dismissal reopen."""
    dismissed = existing[(existing["state"] == "dismissed") & existing["dismissed_at"].notna()]
    if dismissed.empty:
        return 0
    con.register("__dismissed", dismissed[["escalation_id", "dismissed_at"]])
    try:
        fresh = con.execute(REPLIES_SINCE_DISMISSAL_SQL).df()
    finally:
        con.unregister("__dismissed")
    n = 0
    for r in fresh.itertuples(index=False):
        owner = ex.at[r.escalation_id, "owner"]
        owner = None if pd.isna(owner) else owner
        n += _system_move(
            con,
            events,
            stamp,
            r.escalation_id,
            ex.at[r.escalation_id, "version"],
            "dismissed",
            "assigned" if owner else "new",
            "reopen",
            f"{int(r.n)} new negative repl{'y' if r.n == 1 else 'ies'} in the thread since the dismissal",
            owner,
        )
    return n


def _official_answers(con: Any, ans: pd.DataFrame, stamp: datetime, events: list[dict[str, Any]]) -> int:
    """An official answer by the brand in the thread counts as the item's first response (the earliest wins)."""
    if ans.empty:
        return 0
    con.register("__ans", ans[["escalation_id", "official_answer_at"]])
    try:
        hit = con.execute(
            """UPDATE escalations e SET first_response_at = a.official_answer_at
               FROM __ans a
               WHERE e.escalation_id = a.escalation_id
                 AND (e.first_response_at IS NULL OR e.first_response_at > a.official_answer_at)
               RETURNING e.escalation_id, e.state, e.owner, e.version, e.first_response_at"""
        ).fetchall()
    finally:
        con.unregister("__ans")
    for eid, state, owner, version, at in hit:
        comment = f"the brand answered in the thread at {pd.Timestamp(at).isoformat()}"
        events.append(
            _event(
                eid,
                version,
                "official_answer",
                stamp,
                state,
                state,
                comment,
                owner,
                event_id=_event_id(eid, version, "official_answer", at),
            )
        )
    return len(hit)


# --------------------------------------------------------------------------------------------- analyst actions


def _one(cur: Any) -> tuple | None:
    """First row or None; fetches everything (duckdb keeps a half-read result open and blocks the connection)."""
    rows = cur.fetchall()
    return rows[0] if rows else None


_COLS = ["escalation_id", "mention_id", "state", "owner", "version", "updated_at", "first_response_at"]


def _load(con: Any, escalation_id: str) -> dict[str, Any]:
    row = _one(con.execute(f"SELECT {', '.join(_COLS)} FROM escalations WHERE escalation_id = ?", [escalation_id]))
    if row is None:
        raise ActionError(f"no escalation {escalation_id!r}")
    return dict(zip(_COLS, row))


def _stale(con: Any, item: dict[str, Any], expected: int, last: tuple | None = None) -> ActionError:
    last = last or _one(
        con.execute(
            "SELECT actor, event_at FROM escalation_events WHERE escalation_id = ? "
            "ORDER BY version DESC NULLS LAST, event_at DESC LIMIT 1",
            [item["escalation_id"]],
        )
    )
    who, when = last if last else ("someone", item["updated_at"])
    at = pd.Timestamp(when).strftime("%Y-%m-%d %H:%M:%S %Z")
    return ActionError(
        f"escalation {item['escalation_id']} was changed by {who} at {at} "
        f"(version {item['version']}, you had {expected}); reload and try again"
    )


def _apply(
    store: Store | HeldStore,
    escalation_id: str,
    actor: str,
    action: Any,
    *,
    to_state: str | None = None,
    owner: Any = ...,
    comment: str | None = None,
    expected_version: int | None = None,
    check: Any = None,
    now: datetime | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    if not actor:
        raise ActionError("an actor (who is acting) is required")
    if journaled(store):
        return _submit_escalation(
            store, escalation_id, actor, action, to_state, owner, comment, expected_version, check
        )
    now = now or utcnow()
    with store.write() as con:
        item = _load(con, escalation_id)
        if expected_version is not None and int(expected_version) != int(item["version"]):
            raise _stale(con, item, int(expected_version))
        if check is not None:
            check(item)
        from_state = item["state"]
        if callable(action):
            action = action(from_state)
        new_state = to_state or from_state
        new_owner = item["owner"] if owner is ... else owner
        v = int(item["version"]) + 1
        resolved_at = now if new_state == "resolved" else None
        hit = con.execute(
            """UPDATE escalations SET state = ?, owner = ?, version = ?, updated_at = ?,
                   first_response_at = coalesce(first_response_at, ?),
                   resolved_at = CASE WHEN ? = 'resolved' THEN ?
                                      WHEN ? IN ('new','assigned','in_progress') THEN NULL ELSE resolved_at END
               WHERE escalation_id = ? AND version = ? RETURNING escalation_id""",
            [new_state, new_owner, v, now, now, new_state, resolved_at, new_state, escalation_id, item["version"]],
        ).fetchall()
        if not hit:  # cannot happen under DuckDB's single-writer lock, kept as the contract
            raise _stale(con, item, int(item["version"]))
        ev = _event(
            escalation_id, v, action, now, from_state, new_state, comment, new_owner, actor=actor, event_id=event_id
        )
        store.upsert("escalation_events", _event_rows([ev]), ["event_id"], con=con, update=[])
        return {**item, "state": new_state, "owner": new_owner, "version": v, "updated_at": now}


def _current(store: Store, escalation_id: str) -> dict[str, Any]:
    """The item as the analyst sees it: the snapshot's row with the journal's unpublished actions laid over (the
    live row on a store without snapshots, or inside an applier)."""
    return _seen(store, escalation_id)[0]


def _seen(store: Store, escalation_id: str) -> tuple[dict[str, Any], list[Action]]:
    with store.reader() as con:
        item = _load(con, escalation_id)
    return overlay_item(item, unpublished(store))


def _submit_escalation(
    store: Store,
    escalation_id: str,
    actor: str,
    action: Any,
    to_state: str | None,
    owner: Any,
    comment: str | None,
    expected_version: int | None,
    check: Any,
) -> dict[str, Any]:
    """`_apply` through the journal: checked against what the analyst sees, with the version pinned when there is a
    check (so the store applies it only to the item that was checked)."""
    item, laid = _seen(store, escalation_id)
    if expected_version is not None and int(expected_version) != int(item["version"]):
        with store.reader() as con:  # who changed it: the last action laid over, else the snapshot's last event
            raise _stale(con, item, int(expected_version), (laid[-1].actor, laid[-1].created_at) if laid else None)
    if check is not None:
        check(item)
    if expected_version is None and check is not None:
        expected_version = int(item["version"])
    from_state = item["state"]
    payload: dict[str, Any] = {
        "action": action(from_state) if callable(action) else action,
        "from_state": from_state,
        "to_state": to_state,
        "comment": comment,
        "expected_version": expected_version,
        "owner_after": item["owner"] if owner is ... else owner,
    }
    if owner is not ...:
        payload["owner"] = owner
    a = submit(store, ESCALATION, escalation_id, actor, payload)
    if a.status == "rejected":
        raise ActionError(a.error or f"escalation {escalation_id}: the store refused the action")
    if a.status == "applied" and a.result:
        return {**item, **a.result, "pending": False}
    return {**after(item, a), "pending": True}


@register(ESCALATION)
def _apply_journaled(store: Store, con: Any, a: Action) -> dict[str, Any]:
    """A journaled queue action on the writer's connection, exactly once: its audit event carries its id."""
    if _one(con.execute("SELECT 1 FROM escalation_events WHERE event_id = ?", [action_event_id(a)])):
        return {**_load(con, a.target), "already": True}
    p = a.payload
    return _apply(
        HeldStore(store, con),
        a.target,
        a.actor,
        p["action"],
        to_state=p.get("to_state"),
        owner=p["owner"] if "owner" in p else ...,
        comment=p.get("comment"),
        expected_version=p.get("expected_version"),
        now=a.created_at,
        event_id=action_event_id(a),
    )


def assign(
    store: Store, escalation_id: str, owner: str, actor: str, expected_version: int | None = None
) -> dict[str, Any]:
    """Give the item to `owner` (new → assigned; an assigned or in-progress item is re-assigned)."""
    if not owner:
        raise ActionError("owner must not be empty")

    def check(item: dict[str, Any]) -> None:
        if item["state"] not in OPEN_STATES:
            raise ActionError(f"escalation {escalation_id} is {item['state']}; reopen it before assigning")

    def state_after(item_state: str) -> str:
        return "assigned" if item_state == "new" else item_state

    cur = _current(store, escalation_id)  # decide the target state from what the analyst sees; _apply re-checks
    return _apply(
        store,
        escalation_id,
        actor,
        "assign",
        to_state=state_after(cur["state"]),
        owner=owner,
        comment=f"assigned to {owner}",
        expected_version=expected_version if expected_version is not None else cur["version"],
        check=check,
    )


def transition(
    store: Store,
    escalation_id: str,
    to_state: str,
    actor: str,
    comment: str | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Move the item to `to_state` if the lifecycle allows it; raises ActionError otherwise."""
    if to_state not in STATES:
        raise ActionError(f"unknown state {to_state!r}; states are {', '.join(STATES)}")

    def check(item: dict[str, Any]) -> None:
        allowed = TRANSITIONS[item["state"]]
        if to_state not in allowed:
            raise ActionError(
                f"cannot move escalation {escalation_id} from {item['state']} to {to_state}; "
                f"allowed from {item['state']}: {', '.join(allowed)}"
            )
        if to_state == "assigned" and not item["owner"]:
            raise ActionError(f"escalation {escalation_id} has no owner; assign it to someone instead")

    def action(from_state: str) -> str:
        if to_state in ("new", "assigned"):
            return "reopen" if from_state in ("resolved", "dismissed") else "hand_back"
        return {"in_progress": "start", "resolved": "resolve", "dismissed": "dismiss"}[to_state]

    return _apply(
        store,
        escalation_id,
        actor,
        action,
        to_state=to_state,
        comment=comment,
        expected_version=expected_version,
        check=check,
    )


def reopen(
    store: Store, escalation_id: str, actor: str, comment: str | None = None, expected_version: int | None = None
) -> dict[str, Any]:
    """Resolved/dismissed → assigned when it has an owner, else new."""
    cur = _current(store, escalation_id)
    return transition(
        store,
        escalation_id,
        "assigned" if cur["owner"] else "new",
        actor,
        comment,
        expected_version if expected_version is not None else cur["version"],
    )


def add_comment(store: Store, escalation_id: str, actor: str, comment: str) -> dict[str, Any]:
    if not comment or not comment.strip():
        raise ActionError("comment must not be empty")
    return _apply(store, escalation_id, actor, "comment", comment=comment.strip())


def correct(
    store: Store | HeldStore,
    mention_id: str,
    field: str,
    value: str,
    actor: str,
    *,
    now: datetime | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """Record an analyst label (overrides the model in `current_scores`); logged on the mention's escalation."""
    allowed = {"sentiment": SENTIMENTS, "intent": INTENTS}
    if field not in allowed:
        raise ActionError(f"cannot correct {field!r}; fields are sentiment, intent")
    if value not in allowed[field]:
        raise ActionError(f"{field} must be one of {', '.join(allowed[field])}, not {value!r}")
    if not actor:
        raise ActionError("an actor (who is acting) is required")
    if journaled(store):
        return _submit_correction(store, mention_id, field, value, actor)
    now = now or utcnow()
    with store.write() as con:
        if _one(con.execute("SELECT 1 FROM mentions WHERE mention_id = ?", [mention_id])) is None:
            raise ActionError(f"no mention {mention_id!r}")
        before = _one(con.execute(f"SELECT {field} FROM current_scores WHERE mention_id = ?", [mention_id]))
        store.upsert(
            "corrections",
            pd.DataFrame(
                [
                    {
                        "mention_id": mention_id,
                        "field": field,
                        "value": value,
                        "actor": actor,
                        "corrected_at": pd.Timestamp(now),
                    }
                ]
            ),
            ["mention_id", "field"],
            con=con,
        )
        facts.refresh(con, mention_ids=[mention_id])
        esc = _one(
            con.execute(
                "SELECT state, owner, version FROM escalations WHERE escalation_id = ?", [stable_id(mention_id)]
            )
        )
        if esc is not None:
            state, owner, version = esc
            eid = stable_id(mention_id)
            ev = _event(
                eid,
                version,
                "correct",
                now,
                state,
                state,
                f"{field}: {before[0] if before else None} → {value}",
                owner,
                actor=actor,
                event_id=event_id or _event_id(eid, version, f"correct_{field}_{value}", now),
            )
            store.upsert("escalation_events", _event_rows([ev]), ["event_id"], con=con, update=[])
    return {"mention_id": mention_id, "field": field, "value": value, "previous": before[0] if before else None}


def _submit_correction(store: Store, mention_id: str, field: str, value: str, actor: str) -> dict[str, Any]:
    """`correct` through the journal, checked against what the analyst sees."""
    with store.reader() as con:
        if _one(con.execute("SELECT 1 FROM mentions WHERE mention_id = ?", [mention_id])) is None:
            raise ActionError(f"no mention {mention_id!r}")
        seen = con.execute(f"SELECT mention_id, {field} FROM current_scores WHERE mention_id = ?", [mention_id]).df()
    seen = overlay_labels(seen, unpublished(store))
    previous = None if seen.empty or pd.isna(seen[field].iloc[0]) else str(seen[field].iloc[0])
    a = submit(store, CORRECT, mention_id, actor, {"field": field, "value": value, "previous": previous})
    if a.status == "rejected":
        raise ActionError(a.error or f"mention {mention_id}: the store refused the correction")
    if a.status == "applied" and a.result:
        return {**a.result, "pending": False}
    return {"mention_id": mention_id, "field": field, "value": value, "previous": previous, "pending": True}


@register(CORRECT)
def _correct_journaled(store: Store, con: Any, a: Action) -> dict[str, Any]:
    """A journaled label correction on the writer's connection; applying it twice changes nothing."""
    p = a.payload
    return correct(
        HeldStore(store, con),
        a.target,
        p["field"],
        p["value"],
        a.actor,
        now=a.created_at,
        event_id=action_event_id(a),
    )


# --------------------------------------------------------------------------------------------- reading


def resolve_id(store: Store, prefix: str) -> str:
    """Full escalation id from a unique prefix (ids are long; people type the first few characters)."""
    prefix = prefix.strip()
    if len(prefix) < 4:
        raise ActionError("give at least 4 characters of the escalation id")
    with store.reader() as con:
        rows = con.execute(
            "SELECT escalation_id FROM escalations WHERE starts_with(escalation_id, ?) LIMIT 3", [prefix]
        ).df()
    if rows.empty:
        raise ActionError(f"no escalation id starts with {prefix!r}")
    if len(rows) > 1:
        raise ActionError(f"{prefix!r} matches several escalations; give more characters")
    return str(rows.iloc[0, 0])


def queue(
    store: Store,
    state: str | list[str] | None = None,
    owner: str | None = None,
    brand: str | None = None,
    limit: int = 50,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Queue items by priority (open ones by default), with the post, brand, SLA status and a one-line why.

    Read from the snapshot with the journal's unpublished actions laid over (`pending`: how many)."""
    now = now or utcnow()
    states = [state] if isinstance(state, str) else (list(state) if state else list(OPEN_STATES))
    bad = [s for s in states if s not in STATES]
    if bad:
        raise ActionError(f"unknown state {bad[0]!r}; states are {', '.join(STATES)}")
    acts = unpublished(store)
    moved = sorted({a.target for a in acts if a.kind == ESCALATION})  # may leave or enter the states asked for
    also = " OR list_contains(?, e.escalation_id)" if moved else ""
    with store.reader() as con:
        df = con.execute(
            f"""SELECT e.escalation_id, e.mention_id, e.brand_id, e.priority, e.level, e.state, e.owner, e.sla_due_at,
                   e.first_response_at, e.version, e.created_at, e.updated_at, e.reasons_json,
                   d.source_id, d.url, d.thread_title, d.author, d.posted_at, d.text
            FROM escalations e JOIN mentions m USING (mention_id) LEFT JOIN documents d ON d.doc_id = m.doc_id
            WHERE (e.state IN ({", ".join("?" for _ in states)}){also})
              AND (? IS NULL OR e.brand_id = ?)
              AND (? IS NULL OR e.owner = ?{also})
            ORDER BY e.priority DESC, e.created_at, e.escalation_id
            LIMIT ?""",
            [*states, *([moved] if moved else []), brand, brand, owner, owner, *([moved] if moved else [])]
            + [int(limit) + len(moved)],
        ).df()
    df = overlay_queue(df, acts)
    keep = df["state"].isin(states) & (df["owner"] == owner if owner is not None else True)
    df = df[keep].head(int(limit)).reset_index(drop=True)
    due = pd.to_datetime(df["sla_due_at"], utc=True)
    df["sla_breached"] = df["state"].isin(OPEN_STATES) & df["first_response_at"].isna() & (due < pd.Timestamp(now))
    df["why"] = df["reasons_json"].map(explain)
    return df


def history(store: Store, escalation_id: str) -> pd.DataFrame:
    """The item's audit trail from the snapshot, then its unpublished actions (a pending one says so)."""
    with store.reader() as con:
        df = con.execute(
            """SELECT event_at, actor, action, from_state, to_state, owner, version, comment
               FROM escalation_events WHERE escalation_id = ?
               ORDER BY event_at, version NULLS FIRST, action IN ('official_answer', 'correct'), event_id""",
            [escalation_id],
        ).df()
    return overlay_history(df, escalation_id, unpublished(store))


def replay(events: pd.DataFrame) -> dict[str, Any]:
    """State and owner rebuilt from the audit trail alone (ordered as `history` returns it)."""
    state, owner, version = None, None, 0
    for e in events.itertuples(index=False):
        if e.to_state is not None and not pd.isna(e.to_state):
            state = e.to_state
        owner = None if e.owner is None or pd.isna(e.owner) else e.owner
        if e.version is not None and not pd.isna(e.version):
            version = max(version, int(e.version))
    return {"state": state, "owner": owner, "version": version}
