"""Spike and theme alerts.

For each scope (brand; brand × source; theme) the mentions of the last `window_hours` are compared with the
same-length windows of the previous `baseline_days`: expected = median, spread = max(1.4826·MAD, √median, 1),
z = (observed − expected) / spread. A spike needs z ≥ z_threshold AND observed ≥ min_count AND
observed ≥ min_ratio·max(expected, 1), so a quiet scope going from 1 to 3 posts does not page anyone.
Kinds: volume_spike (all mentions), negativity_spike (negative mentions), theme_spike, new_theme, growing_theme,
and hot_thread (see `hot_threads`).

alert_id = stable_id(kind, scope, window bucket) where the bucket is the window-length slot `now` falls in, so
re-runs inside one slot update the same alert (and keep its acknowledgement) instead of adding another.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline.journal import Action, register
from pipeline.logs import log_context
from pipeline.store import Store, stable_id, utcnow

ACK_KIND = "ack"  # the journal kind of an alert acknowledgement (pipeline.actions.ACK)

if TYPE_CHECKING:
    from pipeline.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpikeTest:
    observed: float
    expected: float
    spread: float
    z: float
    ratio: float
    is_spike: bool


def spike_test(
    baseline: np.ndarray | list[float],
    observed: float,
    z_threshold: float = 3.0,
    min_count: float = 5,
    min_ratio: float = 2.0,
) -> SpikeTest:
    """Robust z-score of `observed` against per-window `baseline` counts, with count and ratio guards (pure)."""
    b = np.asarray(baseline, dtype=float)
    med = float(np.median(b)) if b.size else 0.0
    mad = float(np.median(np.abs(b - med))) * 1.4826 if b.size else 0.0
    spread = max(mad, math.sqrt(max(med, 0.0)), 1.0)
    z = (observed - med) / spread
    ratio = observed / max(med, 1.0)
    return SpikeTest(
        float(observed), med, spread, z, ratio, bool(z >= z_threshold and observed >= min_count and ratio >= min_ratio)
    )


_ROWS = """
WITH docs AS (
    SELECT d.doc_id, d.source_id, d.thread_url, d.thread_title, d.text, coalesce(d.likes, 0) AS likes,
           coalesce(d.posted_at, d.ingested_at) AS post_at
    FROM documents d
    WHERE NOT coalesce(d.spam, FALSE) AND (d.dup_of IS NULL OR d.dup_of = d.doc_id)
      AND NOT coalesce(d.is_official_answer, FALSE)
)
SELECT m.mention_id, m.brand_id, d.source_id, d.thread_url, d.thread_title, d.post_at, d.text, d.likes,
       coalesce(cs.sentiment = 'negative', FALSE) AS negative, tm.theme_id
FROM mentions m
JOIN docs d ON d.doc_id = m.doc_id
LEFT JOIN current_scores cs USING (mention_id)
LEFT JOIN (SELECT mention_id, min(theme_id) AS theme_id FROM theme_members GROUP BY ALL) tm USING (mention_id)
WHERE d.post_at >= CAST(? AS TIMESTAMPTZ) AND d.post_at < CAST(? AS TIMESTAMPTZ)
"""


def _clip(text: str, n: int = 80) -> str:
    t = " ".join(str(text or "").split())
    return t if len(t) <= n else t[: n - 1] + "…"


def _top_posts(rows: pd.DataFrame, n: int) -> str:
    """An alert's quoted posts: negative first, then the most liked."""
    top = rows.sort_values(["negative", "likes"], ascending=False)
    return ", ".join(f"«{_clip(x)}»" for x in top["text"].head(n))


def _fmt(x: float) -> str:
    return f"{x:.0f}" if abs(x - round(x)) < 0.05 else f"{x:.1f}"


def fetch_inputs(settings: Settings, store: Store, start: datetime, end: datetime) -> dict[str, Any]:
    """Mentions posted in [start, end) with brand, source, negativity and theme; brand names; themes."""
    with store.read() as con:
        rows = con.execute(_ROWS, [pd.Timestamp(start).to_pydatetime(), pd.Timestamp(end).to_pydatetime()]).df()
        rows["post_at"] = pd.to_datetime(rows["post_at"], utc=True)
        # plain Python strings: Arrow-backed ones make each groupby/filter below several times slower
        rows = rows.astype({c: object for c in rows.columns if pd.api.types.is_string_dtype(rows[c])})
        names = dict(con.execute("SELECT brand_id, name FROM brands").fetchall())
        themes = con.execute(
            "SELECT theme_id, brand_id, label, keywords_json, size, prev_size, status, first_seen FROM themes"
        ).df()
    return {"rows": rows, "names": names, "themes": themes}


def lookback(settings: Settings) -> timedelta:
    """How far before `now` the inputs must reach: the window plus the baseline windows."""
    st = settings.alerts
    n_base = max(1, math.ceil(st.baseline_days * 24 / st.window_hours))
    return timedelta(hours=st.window_hours) * (n_base + 1)


def find_alerts(settings: Settings, inputs: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Alert rows for the window ending at `now` (pure: no I/O). `inputs` may cover more time than needed."""
    st = settings.alerts
    now = pd.Timestamp(now)
    win = timedelta(hours=st.window_hours)
    n_base = max(1, math.ceil(st.baseline_days * 24 / st.window_hours))
    slot = int(now.timestamp() // win.total_seconds())
    rows, names, themes = inputs["rows"], inputs["names"], inputs["themes"]
    if not rows.empty:
        at = rows["post_at"]
        rows = rows[((at >= now - lookback(settings)) & (at < now)).to_numpy()]
    tlabel = dict(zip(themes["theme_id"], themes["label"]))
    tbrand = dict(zip(themes["theme_id"], themes["brand_id"]))
    per_day = "day" if st.window_hours == 24 else f"{st.window_hours} h"

    alerts: list[dict[str, Any]] = []
    if not rows.empty:
        rows = rows.assign(k=((now - rows["post_at"]) // win).astype(int))  # 0 = current window, 1..n_base = baseline
        slim = rows[["brand_id", "source_id", "theme_id", "negative", "k"]]
        scopes = [
            ("volume_spike", "brand", ["brand_id"], None),
            ("negativity_spike", "brand", ["brand_id"], "negative"),
            ("volume_spike", "source", ["brand_id", "source_id"], None),
            ("negativity_spike", "source", ["brand_id", "source_id"], "negative"),
            ("theme_spike", "theme", ["theme_id"], None),
        ]
        for kind, scope, keys, flag in scopes:
            sub = slim if flag is None else slim[slim[flag].to_numpy(dtype=bool)]
            if "theme_id" in keys:
                sub = sub[sub["theme_id"].notna().to_numpy()]
            if sub.empty:
                continue
            counts = sub.groupby(keys + ["k"]).size().unstack("k", fill_value=0)
            counts = counts.reindex(columns=range(n_base + 1), fill_value=0)
            for key, series in counts.iterrows():
                obs = float(series[0])
                if obs < st.min_count:
                    continue
                t = spike_test(series.iloc[1:].to_numpy(), obs, st.z_threshold, st.min_count, st.min_ratio)
                if not t.is_spike:
                    continue
                key = key if isinstance(key, tuple) else (key,)
                kv = dict(zip(keys, key))
                brand_id = kv.get("brand_id") or tbrand.get(kv.get("theme_id"))
                bname = names.get(brand_id, brand_id) or "?"
                what = {"volume_spike": "mentions", "negativity_spike": "negative mentions", "theme_spike": "mentions"}[
                    kind
                ]
                if scope == "brand":
                    head = f"{bname}"
                elif scope == "source":
                    head = f"{bname} on {kv['source_id']}"
                else:
                    head = f"{bname}, complaints about «{tlabel.get(kv['theme_id'], kv['theme_id'])}»"
                mask = (rows["k"] == 0).to_numpy() & (rows[flag].to_numpy(dtype=bool) if flag else True)
                for c, v in kv.items():
                    mask &= (rows[c] == v).to_numpy()
                tops = _top_posts(rows[mask], st.top_posts)
                expl = (
                    f"{head}: {_fmt(obs)} {what} in {st.window_hours} h vs {_fmt(t.expected)}±{_fmt(t.spread)} "
                    f"per {per_day} over {st.baseline_days} days (z {t.z:.1f}, ×{t.ratio:.1f})"
                    + (f"; top posts: {tops}" if tops else "")
                )
                scope_key = "|".join([scope, *[str(x) for x in key]])
                alerts.append(
                    dict(
                        alert_id=stable_id(kind, scope_key, slot),
                        kind=kind,
                        brand_id=brand_id,
                        source_id=kv.get("source_id"),
                        theme_id=kv.get("theme_id"),
                        window_start=now - win,
                        window_end=now,
                        observed=obs,
                        expected=t.expected,
                        z=round(t.z, 3),
                        explanation=expl,
                        created_at=now,
                    )
                )

    if not rows.empty:
        alerts += hot_threads(rows, st, names, now, slot)

    for th in themes.itertuples(index=False):
        if th.status not in ("new", "growing"):
            continue
        bname = names.get(th.brand_id, th.brand_id) or "?"
        try:
            kws = ", ".join(json.loads(th.keywords_json or "[]")[:5])
        except (ValueError, TypeError):
            kws = ""
        size = int(th.size or 0)
        prev = int(th.prev_size or 0)
        if th.status == "new":
            aid = stable_id("new_theme", th.theme_id)
            expl = (
                f"{bname}: new complaint theme «{th.label}» ({size} mentions"
                + (f"; keywords: {kws}" if kws else "")
                + ")"
            )
        else:
            aid = stable_id("growing_theme", th.theme_id, slot)
            expl = f"{bname}: complaint theme «{th.label}» grew from {prev} to {size} mentions" + (
                f" (keywords: {kws})" if kws else ""
            )
        alerts.append(
            dict(
                alert_id=aid,
                kind=f"{th.status}_theme",
                brand_id=th.brand_id,
                source_id=None,
                theme_id=th.theme_id,
                window_start=now - win,
                window_end=now,
                observed=float(size),
                expected=float(prev),
                z=None,
                explanation=expl,
                created_at=now,
            )
        )

    return alerts


def hot_threads(
    rows: pd.DataFrame, st: Any, names: dict[str, str], now: pd.Timestamp, slot: int
) -> list[dict[str, Any]]:
    """hot_thread alerts: one thread (forum topic, comment section, product page) filling with negative mentions of
    a brand, the way a story starts to spread, which brand-wide and brand-on-source counts can miss.

    `rows` carry `k` (0 = the current window, 1.. = the baseline windows). A thread is hot when its negative
    mentions of the brand in the current window reach `thread_min_count` and `min_ratio` × the larger of
    - what the brand's threads on that source usually get: over the threads with negative mentions in the baseline
      windows, the 90th percentile of each one's busiest window (per thread, so one long-running complaints thread
      is one sample, not one a day that would make every new thread look ordinary), and
    - this thread's own busiest baseline window (a long-running complaints thread alerts when it escalates, not
      every day it is busy; a thread already reported stays quiet until it doubles again).
    """
    neg = rows[rows["negative"].to_numpy(dtype=bool) & rows["thread_url"].notna().to_numpy()]
    if neg.empty:
        return []
    n = neg.groupby(["brand_id", "source_id", "thread_url", "k"]).size().rename("n").reset_index()
    base, cur = n[n["k"] > 0], n[(n["k"] == 0) & (n["n"] >= st.thread_min_count)]
    if cur.empty:
        return []
    busiest = base.groupby(["brand_id", "source_id", "thread_url"])["n"].max()
    own = busiest.to_dict()
    peers = {key: g.to_numpy(dtype=float) for key, g in busiest.groupby(level=["brand_id", "source_id"])}
    titles = neg.groupby("thread_url")["thread_title"].first().to_dict()
    win = timedelta(hours=st.window_hours)
    per = "day" if st.window_hours == 24 else f"{st.window_hours} h"
    out = []
    for r in cur.itertuples(index=False):
        dist = peers.get((r.brand_id, r.source_id), np.zeros(0))
        usual = float(np.percentile(dist, 90)) if dist.size else 0.0
        before = float(own.get((r.brand_id, r.source_id, r.thread_url), 0))
        expected = max(usual, before)
        obs = float(r.n)
        if obs < st.min_ratio * max(expected, 1.0):
            continue
        t = spike_test(dist, obs, st.z_threshold, st.thread_min_count, st.min_ratio)
        bname = names.get(r.brand_id, r.brand_id) or "?"
        title = _clip(titles.get(r.thread_url) or "", 100)
        head = f"{bname} in the thread «{title}» on {r.source_id}" if title else f"{bname} in a thread on {r.source_id}"
        mask = (
            (rows["k"] == 0)
            & rows["negative"].astype(bool)
            & (rows["brand_id"] == r.brand_id)
            & (rows["thread_url"] == r.thread_url)
        ).to_numpy()
        tops = _top_posts(rows[mask], st.top_posts)
        expl = (
            f"{head}: {_fmt(obs)} negative mentions in {st.window_hours} h; its threads there usually get up to "
            f"{_fmt(usual)} in their busiest {per} (90th percentile over {st.baseline_days} days)"
            + (f", this thread at most {_fmt(before)}" if before else "")
            + (f"; top posts: {tops}" if tops else "")
            + f"; {r.thread_url}"
        )
        out.append(
            dict(
                alert_id=stable_id("hot_thread", r.brand_id, r.source_id, r.thread_url, slot),
                kind="hot_thread",
                brand_id=r.brand_id,
                source_id=r.source_id,
                theme_id=None,
                window_start=now - win,
                window_end=now,
                observed=obs,
                expected=expected,
                z=round(t.z, 3),
                explanation=expl,
                created_at=now,
            )
        )
    return out


def detect_alerts(settings: Settings, store: Store, now: datetime | None = None) -> dict[str, int]:
    """Find spikes for the window ending at `now` and alerts for new/growing themes; upsert them."""
    now = pd.Timestamp(now or utcnow())
    with log_context(stage="alerts"):
        alerts = find_alerts(settings, fetch_inputs(settings, store, now - lookback(settings), now), now)
        counts = {"alerts": len(alerts), "new": 0}
        for k in ("volume_spike", "negativity_spike", "hot_thread", "theme_spike", "new_theme", "growing_theme"):
            counts[k] = sum(1 for a in alerts if a["kind"] == k)
        if alerts:
            df = pd.DataFrame(alerts)
            for c in ("window_start", "window_end", "created_at"):
                df[c] = pd.to_datetime(df[c], utc=True)
            for c in ("brand_id", "source_id", "theme_id"):
                df[c] = df[c].astype(object)
            with store.write() as con:
                known = {r[0] for r in con.execute("SELECT alert_id FROM alerts").fetchall()}
                counts["new"] = int((~df["alert_id"].isin(known)).sum())
                # a re-run refreshes numbers but keeps created_at and the acknowledgement
                store.upsert(
                    "alerts",
                    df,
                    ["alert_id"],
                    con=con,
                    update=["window_start", "window_end", "observed", "expected", "z", "explanation"],
                )
        log.info("alerts: %s", counts)
        return counts


def acknowledge(store: Store, alert_id: str, actor: str) -> dict[str, Any]:
    """Mark an alert seen by `actor`; acknowledging it again keeps the first acknowledgement (`already`).

    With read snapshots on it goes through the analyst-action journal like a queue action: it returns within about
    a second during a flow (`pending` when the writer still holds the file) and is applied exactly once."""
    from pipeline.actions import ACK, journaled, submit
    from pipeline.escalate import ActionError

    if not actor:
        raise ActionError("an actor (who is acting) is required")
    if not journaled(store):
        with store.write() as con:
            return _acknowledge(con, alert_id, actor, utcnow())
    with store.reader() as con:  # what the analyst sees, the journal's acks laid over
        rows = con.execute("SELECT acknowledged_by, acknowledged_at FROM alerts WHERE alert_id = ?", [alert_id])
        seen = rows.fetchall()
    if not seen:
        raise ActionError(f"no alert {alert_id!r}")
    from pipeline.actions import unpublished

    earlier = [a for a in unpublished(store) if a.kind == ACK and a.target == alert_id and a.status != "rejected"]
    if seen[0][0] or earlier:
        by, at = (seen[0][0], seen[0][1]) if seen[0][0] else (earlier[0].actor, earlier[0].created_at)
        return {"alert_id": alert_id, "acknowledged_by": by, "acknowledged_at": at, "already": True, "pending": False}
    a = submit(store, ACK, alert_id, actor, {})
    if a.status == "rejected":
        raise ActionError(a.error or f"alert {alert_id}: the store refused the acknowledgement")
    if a.status == "applied" and a.result:
        return {**a.result, "pending": False}
    return {
        "alert_id": alert_id,
        "acknowledged_by": actor,
        "acknowledged_at": a.created_at,
        "already": False,
        "pending": True,
    }


def _acknowledge(con: Any, alert_id: str, actor: str, now: datetime) -> dict[str, Any]:
    from pipeline.escalate import ActionError

    rows = con.execute("SELECT acknowledged_by, acknowledged_at FROM alerts WHERE alert_id = ?", [alert_id]).fetchall()
    if not rows:
        raise ActionError(f"no alert {alert_id!r}")
    if rows[0][0]:
        return {"alert_id": alert_id, "acknowledged_by": rows[0][0], "acknowledged_at": rows[0][1], "already": True}
    con.execute("UPDATE alerts SET acknowledged_by = ?, acknowledged_at = ? WHERE alert_id = ?", [actor, now, alert_id])
    return {"alert_id": alert_id, "acknowledged_by": actor, "acknowledged_at": now, "already": False}


@register(ACK_KIND)
def _apply_journaled_ack(store: Store, con: Any, a: Action) -> dict[str, Any]:
    """A journaled acknowledgement on the writer's connection; applying it twice keeps the first (idempotent)."""
    out = _acknowledge(con, a.target, a.actor, a.created_at)
    return {**out, "acknowledged_at": out["acknowledged_at"].isoformat() if out["acknowledged_at"] else None}


def list_alerts(store: Store, unacknowledged: bool = False, brand: str | None = None, limit: int = 50) -> pd.DataFrame:
    df = store.show(
        """SELECT alert_id, kind, brand_id, source_id, theme_id, window_end, observed, expected, z,
                  explanation, created_at, acknowledged_by, acknowledged_at
           FROM alerts
           WHERE (NOT ? OR acknowledged_by IS NULL) AND (CAST(? AS VARCHAR) IS NULL OR brand_id = ?)
           ORDER BY created_at DESC, z DESC NULLS LAST LIMIT ?""",
        [bool(unacknowledged), brand, brand, int(limit)],
    )
    from pipeline.actions import overlay_alerts, unpublished

    return overlay_alerts(df, unpublished(store), "open" if unacknowledged else "all")  # acks not published yet
