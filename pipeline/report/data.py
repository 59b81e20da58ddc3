"""What a brand's digest says, read from the store: the numbers of a period and of the period before it.

Counts follow the dashboard's definitions (`mention_facts`: spam, copies and the brand's own answers do not count;
negative share = negative / scored mentions); KPIs are `pipeline.kpis.compute_kpis` over the same windows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from pipeline.escalate import explain
from pipeline.kpis import compute_kpis
from pipeline.report.period import ReportError
from pipeline.store import Store

OPEN = "('new', 'assigned', 'in_progress')"


@dataclass
class Digest:
    brand_id: str
    brand_name: str
    since: datetime
    until: datetime
    prev_since: datetime
    daily: pd.DataFrame  # day, negative, neutral, positive, unscored, mentions, negative_share
    totals: dict[str, Any]  # mentions, negative, scored, negative_share: this period
    prev_totals: dict[str, Any]
    kpis: dict[str, Any]  # pipeline.kpis summary of this period
    prev_kpis: dict[str, Any]
    themes: list[dict[str, Any]]  # top themes of the period, with examples; `new` marks themes first seen in it
    escalations: list[dict[str, Any]]  # worst open items
    alerts: pd.DataFrame  # raised in the period
    changes: list[str] = field(default_factory=list)


def _totals(con, brand: str, since: datetime, until: datetime) -> dict[str, Any]:
    mentions, negative, scored = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE sentiment = 'negative'),
                  count(*) FILTER (WHERE sentiment IS NOT NULL)
           FROM mention_facts WHERE brand_id = ? AND countable AND posted_at >= ? AND posted_at < ?""",
        [brand, since, until],
    ).fetchall()[0]
    return {
        "mentions": int(mentions),
        "negative": int(negative),
        "scored": int(scored),
        "negative_share": negative / scored if scored else None,
    }


def _daily(con, brand: str, since: datetime, until: datetime) -> pd.DataFrame:
    df = con.execute(
        """SELECT day, coalesce(sentiment, 'unscored') AS sentiment, count(*) AS n FROM mention_facts
           WHERE brand_id = ? AND countable AND posted_at >= ? AND posted_at < ? GROUP BY ALL""",
        [brand, since, until],
    ).df()
    days = pd.date_range(
        pd.Timestamp(since).tz_convert("UTC").normalize(),
        pd.Timestamp(until - timedelta(microseconds=1)).tz_convert("UTC").normalize(),
        freq="D",
    )
    wide = (
        df.pivot_table(index="day", columns="sentiment", values="n", aggfunc="sum", fill_value=0)
        if not df.empty
        else pd.DataFrame()
    )
    wide.index = pd.to_datetime(wide.index).tz_localize("UTC") if len(wide) else wide.index
    wide = wide.reindex(days, fill_value=0).reindex(
        columns=["negative", "neutral", "positive", "unscored"], fill_value=0
    )
    wide = wide.fillna(0).astype(int)
    wide["mentions"] = wide.sum(axis=1)
    scored = wide["mentions"] - wide["unscored"]
    wide["negative_share"] = (wide["negative"] / scored.where(scored > 0)).astype(float)
    wide.index.name = "day"
    return wide.reset_index()


def _themes(con, brand: str, since: datetime, until: datetime, limit: int, examples: int) -> list[dict[str, Any]]:
    top = con.execute(
        """SELECT t.theme_id, t.label, t.keywords_json, t.status, t.first_seen, count(*) AS n
           FROM theme_members tm JOIN themes t USING (theme_id) JOIN mention_facts f USING (mention_id)
           WHERE t.brand_id = ? AND f.countable AND f.posted_at >= ? AND f.posted_at < ?
           GROUP BY ALL ORDER BY n DESC, t.theme_id LIMIT ?""",
        [brand, since, until, limit],
    ).df()
    out = []
    for r in top.itertuples(index=False):
        ex = con.execute(
            """SELECT m.context, d.url, d.posted_at, d.source_id FROM theme_members tm
               JOIN mention_facts f USING (mention_id) JOIN mentions m USING (mention_id)
               JOIN documents d ON d.doc_id = m.doc_id
               WHERE tm.theme_id = ? AND f.countable AND f.posted_at >= ? AND f.posted_at < ?
               ORDER BY tm.distance NULLS LAST, f.posted_at DESC, m.mention_id LIMIT ?""",
            [r.theme_id, since, until, examples],
        ).df()
        try:
            keywords = json.loads(r.keywords_json or "[]")
        except ValueError:
            keywords = []
        first = pd.Timestamp(r.first_seen) if r.first_seen is not None and not pd.isna(r.first_seen) else None
        out.append(
            {
                "theme_id": r.theme_id,
                "label": r.label or r.theme_id,
                "keywords": keywords[:6],
                "status": r.status,
                "mentions": int(r.n),
                "new": bool(first is not None and first >= pd.Timestamp(since)) or r.status == "new",
                "examples": ex.to_dict("records"),
            }
        )
    return out


def _escalations(con, brand: str, limit: int) -> list[dict[str, Any]]:
    df = con.execute(
        f"""SELECT e.escalation_id, e.priority, e.level, e.state, e.owner, e.sla_due_at, e.first_response_at,
                   e.reasons_json, m.context, d.url, d.source_id, d.posted_at
            FROM escalations e JOIN mentions m USING (mention_id) LEFT JOIN documents d ON d.doc_id = m.doc_id
            WHERE e.brand_id = ? AND e.state IN {OPEN}
            ORDER BY e.priority DESC, e.created_at, e.escalation_id LIMIT ?""",
        [brand, limit],
    ).df()
    rows = df.astype(object).where(df.notna(), None).to_dict("records")
    for r in rows:
        r["why"] = explain(r.pop("reasons_json"))
    return rows


def _pct(new: float | None, old: float | None) -> str:
    if new is None or old is None:
        return "n/a"
    if old == 0:
        return "new" if new else "no change"
    return f"{(new - old) / old:+.0%}"


def changes(d: Digest) -> list[str]:
    """What changed against the previous period, one line each, in the order a manager reads them."""
    t, p, k, pk = d.totals, d.prev_totals, d.kpis, d.prev_kpis
    out = [f"Mentions: {t['mentions']:,} (previous period {p['mentions']:,}, {_pct(t['mentions'], p['mentions'])})."]
    if t["negative_share"] is not None and p["negative_share"] is not None:
        delta = (t["negative_share"] - p["negative_share"]) * 100
        out.append(f"Negative share: {t['negative_share']:.0%} ({delta:+.1f} percentage points).")
    elif t["negative_share"] is not None:
        out.append(f"Negative share: {t['negative_share']:.0%} (no scored mentions the period before).")
    out.append(
        f"Escalations received: {k['received']:,} (previous {pk['received']:,}); "
        f"SLA breaches: {k['sla_breached_open'] + k['sla_answered_late']:,} "
        f"(previous {pk['sla_breached_open'] + pk['sla_answered_late']:,})."
    )
    if k["response_rate"] is not None:
        prev = f"{pk['response_rate']:.0%}" if pk["response_rate"] is not None else "n/a"
        out.append(f"Response rate: {k['response_rate']:.0%} (previous {prev}).")
    new = [th["label"] for th in d.themes if th["new"]]
    if new:
        out.append(f"New complaint themes: {', '.join(new)}.")
    if not d.alerts.empty:
        kinds = d.alerts["kind"].value_counts()
        out.append("Alerts: " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in kinds.items()) + ".")
    return out


def digest_data(
    store: Store, brand: str, until: datetime, period: timedelta, *, themes: int = 5, examples: int = 2, worst: int = 5
) -> Digest:
    since, prev_since = until - period, until - 2 * period
    with store.read() as con:
        row = con.execute("SELECT name FROM brands WHERE brand_id = ?", [brand]).fetchall()
        if not row:
            known = [r[0] for r in con.execute("SELECT brand_id FROM brands ORDER BY 1").fetchall()]
            raise ReportError(f"unknown brand {brand!r}; known: {', '.join(known) or 'none'}")
        d = Digest(
            brand_id=brand,
            brand_name=row[0][0] or brand,
            since=since,
            until=until,
            prev_since=prev_since,
            daily=_daily(con, brand, since, until),
            totals=_totals(con, brand, since, until),
            prev_totals=_totals(con, brand, prev_since, since),
            kpis={},
            prev_kpis={},
            themes=_themes(con, brand, since, until, themes, examples),
            escalations=_escalations(con, brand, worst),
            alerts=con.execute(
                "SELECT kind, explanation, created_at FROM alerts "
                "WHERE brand_id = ? AND created_at >= ? AND created_at < ? ORDER BY created_at DESC",
                [brand, since, until],
            ).df(),
        )
    d.kpis = compute_kpis(store, since, until, brand, now=until)["summary"]
    d.prev_kpis = compute_kpis(store, prev_since, since, brand, now=since)["summary"]
    d.changes = changes(d)
    return d
