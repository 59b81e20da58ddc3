"""Support KPIs over a time window, computed in SQL: response rate, time to first response, backlog, SLA breaches,
share of negative mentions per brand and source.

Definitions (the README repeats them):
- an item is *received* at its post's time (`documents.posted_at`, else when it entered the queue); the window
  (since ≤ received < until) selects items by that time;
- *received* counts queue items except dismissed ones (noise is not a customer waiting for an answer);
  *answered* those with `first_response_at` (first human action, or the brand's official answer in the thread);
- time to first response = first_response_at − received, in hours (median and p90 over answered items);
- SLA breaches: open items with no response past `sla_due_at` (as of `now`), and items answered after it;
- backlog: open items now (not windowed) by age bucket × level.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from pipeline.labels import LEVELS
from pipeline.store import Store, utcnow

AGE_BUCKETS = [(0, 2, "<2h"), (2, 8, "2-8h"), (8, 24, "8-24h"), (24, 72, "1-3d"), (72, 168, "3-7d"), (168, None, ">7d")]

_ITEMS = """
WITH items AS (
    SELECT e.*, coalesce(d.posted_at, e.created_at) AS received_at, d.source_id
    FROM escalations e
    JOIN mentions m USING (mention_id)
    LEFT JOIN documents d ON d.doc_id = m.doc_id
    WHERE (CAST(? AS TIMESTAMPTZ) IS NULL OR coalesce(d.posted_at, e.created_at) >= CAST(? AS TIMESTAMPTZ))
      AND (CAST(? AS TIMESTAMPTZ) IS NULL OR coalesce(d.posted_at, e.created_at) < CAST(? AS TIMESTAMPTZ))
      AND (CAST(? AS VARCHAR) IS NULL OR e.brand_id = ?)
)
"""

_RESP = "greatest(0, epoch(first_response_at) - epoch(received_at)) / 3600.0"

_SUMMARY = (
    _ITEMS
    + f"""
SELECT {{group}}
    count(*) FILTER (WHERE state <> 'dismissed') AS received,
    count(*) FILTER (WHERE state <> 'dismissed' AND first_response_at IS NOT NULL) AS answered,
    count(*) FILTER (WHERE state = 'dismissed') AS dismissed,
    count(*) FILTER (WHERE state = 'resolved') AS resolved,
    median({_RESP}) FILTER (WHERE state <> 'dismissed' AND first_response_at IS NOT NULL) AS ttfr_median_hours,
    quantile_cont({_RESP}, 0.9) FILTER (WHERE state <> 'dismissed' AND first_response_at IS NOT NULL) AS ttfr_p90_hours,
    count(*) FILTER (WHERE state IN ('new','assigned','in_progress') AND first_response_at IS NULL
                     AND sla_due_at < CAST(? AS TIMESTAMPTZ)) AS sla_breached_open,
    count(*) FILTER (WHERE first_response_at IS NOT NULL AND first_response_at > sla_due_at) AS sla_answered_late
FROM items {{group_by}}
"""
)

_NEG_SHARE = """
SELECT {key},
       count(*) AS mentions,
       count(*) FILTER (WHERE cs.sentiment = 'negative') AS negative,
       round(count(*) FILTER (WHERE cs.sentiment = 'negative') / count(*), 4) AS negative_share
FROM mentions m
JOIN current_scores cs USING (mention_id)
JOIN documents d ON d.doc_id = m.doc_id
WHERE cs.sentiment IS NOT NULL
  AND NOT coalesce(d.spam, FALSE) AND (d.dup_of IS NULL OR d.dup_of = d.doc_id)
  AND NOT coalesce(d.is_official_answer, FALSE)
  AND (CAST(? AS TIMESTAMPTZ) IS NULL OR coalesce(d.posted_at, d.ingested_at) >= CAST(? AS TIMESTAMPTZ))
  AND (CAST(? AS TIMESTAMPTZ) IS NULL OR coalesce(d.posted_at, d.ingested_at) < CAST(? AS TIMESTAMPTZ))
  AND (CAST(? AS VARCHAR) IS NULL OR m.brand_id = ?)
GROUP BY ALL ORDER BY negative_share DESC, mentions DESC
"""


def _bucket_sql() -> str:
    cases = []
    for lo, hi, name in AGE_BUCKETS:
        cond = f"age_h >= {lo}" + (f" AND age_h < {hi}" if hi is not None else "")
        cases.append(f"WHEN {cond} THEN '{name}'")
    return "CASE " + " ".join(cases) + " END"


def _rate(answered: int, received: int) -> float | None:
    return round(answered / received, 4) if received else None


def compute_kpis(
    store: Store,
    since: datetime | None = None,
    until: datetime | None = None,
    brand: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """KPIs for the window; scalars in `summary`, tables as DataFrames."""
    now = now or utcnow()
    win = [since, since, until, until, brand, brand]
    with store.reader() as con:
        summary = con.execute(_SUMMARY.format(group="", group_by=""), [*win, now]).df().iloc[0].to_dict()
        by_brand = con.execute(
            _SUMMARY.format(group="brand_id,", group_by="GROUP BY brand_id ORDER BY received DESC"), [*win, now]
        ).df()
        backlog_long = con.execute(
            f"""SELECT bucket, level, count(*) AS n FROM (
                    SELECT {_bucket_sql()} AS bucket, coalesce(level, 'low') AS level FROM (
                        SELECT level,
                               (epoch(CAST(? AS TIMESTAMPTZ)) - epoch(coalesce(d.posted_at, e.created_at)))
                               / 3600.0 AS age_h
                        FROM escalations e JOIN mentions m USING (mention_id)
                             LEFT JOIN documents d ON d.doc_id = m.doc_id
                        WHERE e.state IN ('new','assigned','in_progress')
                              AND (CAST(? AS VARCHAR) IS NULL OR e.brand_id = ?)))
                GROUP BY ALL""",
            [now, brand, brand],
        ).df()
        neg_brand = con.execute(_NEG_SHARE.format(key="m.brand_id"), win).df()
        neg_source = con.execute(_NEG_SHARE.format(key="d.source_id"), win).df()

    summary = {
        k: (
            None if pd.isna(v) else (int(v) if k not in ("ttfr_median_hours", "ttfr_p90_hours") else round(float(v), 2))
        )
        for k, v in summary.items()
    }
    summary["response_rate"] = _rate(summary["answered"], summary["received"])
    by_brand["response_rate"] = [_rate(a, r) for a, r in zip(by_brand["answered"], by_brand["received"])]

    names = [b for _, _, b in AGE_BUCKETS]
    backlog = (
        backlog_long.pivot_table(index="bucket", columns="level", values="n", aggfunc="sum", fill_value=0)
        if not backlog_long.empty
        else pd.DataFrame()
    )
    backlog = backlog.reindex(index=names, columns=LEVELS, fill_value=0).fillna(0).astype(int)
    backlog.index.name = "age"
    backlog["total"] = backlog.sum(axis=1)
    return {
        "window": {"since": since, "until": until, "brand": brand, "now": now},
        "summary": summary,
        "by_brand": by_brand,
        "backlog": backlog.reset_index(),
        "negative_by_brand": neg_brand,
        "negative_by_source": neg_source,
    }
