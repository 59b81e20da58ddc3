"""Read-only SQL behind every dashboard view.

Plain functions `(con, ...) -> DataFrame | dict` over an open DuckDB connection: parameterised (no string
building from user input), one query per view, aggregation done in SQL. No Streamlit here, so the benchmark
and tests call them directly; `dashboard.reads.q()` adds the cache and the lock handling.
Filtering and counting go through `mention_facts` (one narrow row per mention: brand, source, time, countable,
current score; kept in step by the pipeline), so a page query is a column scan, not a join of 1M-row tables;
text columns are joined only for the rows shown. Scores follow `current_scores` (active model, current context,
corrections win).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

from pipeline.labels import INTENTS, OPEN_STATES, SENTIMENTS, STATES  # noqa: F401 (the views import them here)

# What statistics count (as pipeline.kpis does): no spam, no duplicates, not the brand's own answers.
COUNTABLE = "f.countable"


def _one(cur) -> tuple:
    """The row of an aggregate query (always exactly one); fetches everything, since DuckDB keeps a half-read
    result open and blocks the connection."""
    return cur.fetchall()[0]


def _df(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def _in(column: str, values: list | tuple | None, params: list[Any]) -> str:
    """`AND column IN (?, ?, …)` for a non-empty selection, '' otherwise (placeholders, never literals)."""
    if not values:
        return ""
    params.extend(values)
    return f" AND {column} IN ({', '.join('?' for _ in values)})"


def _dollars(where: str, start: int) -> str:
    """Number `?` placeholders as $start, $start+1, … (for queries that also reuse $1, $2)."""
    parts = where.split("?")
    return "".join(p + (f"${start + i}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))


# ------------------------------------------------------------------------------------------ lookups


def brands(con) -> pd.DataFrame:
    return _df(
        con,
        """
        SELECT brand_id, coalesce(b.name, brand_id) AS name
        FROM (SELECT DISTINCT brand_id FROM mentions) m FULL JOIN brands b USING (brand_id)
        ORDER BY name""",
    )


def sources(con) -> pd.DataFrame:
    return _df(
        con,
        """
        SELECT source_id, coalesce(s.name, source_id) AS name, s.kind
        FROM (SELECT DISTINCT source_id FROM documents) d FULL JOIN sources s USING (source_id)
        ORDER BY source_id""",
    )


def theme_options(con, brand_ids: list[str] | None = None) -> pd.DataFrame:
    p: list[Any] = []
    where = _in("brand_id", brand_ids, p)
    return _df(con, f"SELECT theme_id, brand_id, label, size FROM themes WHERE TRUE {where} ORDER BY size DESC", p)


def owners(con) -> list[str]:
    return [
        r[0]
        for r in con.execute("SELECT DISTINCT owner FROM escalations WHERE owner IS NOT NULL ORDER BY 1").fetchall()
    ]


# ------------------------------------------------------------------------------------------ overview


def overview_kpis(con, since: datetime, brand_ids: list[str] | None = None, now: datetime | None = None) -> dict:
    """Headline numbers for the window starting at `since`."""
    p: list[Any] = [since]
    where = _in("f.brand_id", brand_ids, p)
    row = _one(
        con.execute(
            f"""
        SELECT count(*) AS mentions,
               count(*) FILTER (WHERE f.sentiment = 'negative') AS negative,
               count(*) FILTER (WHERE f.sentiment IS NOT NULL) AS scored
        FROM mention_facts f
        WHERE f.posted_at >= ? AND {COUNTABLE} {where}""",
            p,
        )
    )
    # Same definitions as pipeline.kpis: received = non-dismissed items by post time, answered = has a first
    # response, time to first response from the post, breaches = open, unanswered and past due.
    now = now or pd.Timestamp.now(tz="UTC")
    p2: list[Any] = [now, since]
    where2 = _in("brand_id", brand_ids, p2)
    esc = _one(
        con.execute(
            f"""
        WITH items AS (
            SELECT e.*, coalesce(f.posted_at, e.created_at) AS received_at,
                   e.state IN ('new', 'assigned', 'in_progress') AS is_open
            FROM escalations e JOIN mention_facts f USING (mention_id)
        ), w AS (SELECT *, received_at >= $2 AND state <> 'dismissed' AS in_window FROM items)
        SELECT count(*) FILTER (WHERE is_open) AS open_escalations,
               count(*) FILTER (WHERE is_open AND first_response_at IS NULL AND sla_due_at < $1) AS breaches,
               count(*) FILTER (WHERE in_window) AS received,
               count(*) FILTER (WHERE in_window AND first_response_at IS NOT NULL) AS answered,
               median(greatest(0, epoch(first_response_at) - epoch(received_at)) / 3600.0)
                   FILTER (WHERE in_window AND first_response_at IS NOT NULL) AS ttfr_hours
        FROM w WHERE TRUE {_dollars(where2, 3)}""",
            p2,
        )
    )
    mentions, negative, scored = row
    open_e, breaches, received, answered, ttfr = esc
    return {
        "mentions": int(mentions),
        "negative": int(negative),
        "scored": int(scored),
        "negative_share": (negative / scored) if scored else None,
        "open_escalations": int(open_e),
        "sla_breaches": int(breaches),
        "received": int(received),
        "answered": int(answered),
        "response_rate": (answered / received) if received else None,
        "ttfr_hours": None if ttfr is None or pd.isna(ttfr) else float(ttfr),
    }


def mentions_over_time(con, since: datetime, brand_ids: list[str] | None = None) -> pd.DataFrame:
    """Daily mention counts per brand and sentiment."""
    p: list[Any] = [since]
    where = _in("f.brand_id", brand_ids, p)
    return _df(
        con,
        f"""
        SELECT CAST(f.day AS TIMESTAMP) AS day, f.brand_id,
               coalesce(f.sentiment, 'unscored') AS sentiment, count(*) AS mentions
        FROM mention_facts f
        WHERE f.posted_at >= ? AND {COUNTABLE} {where}
        GROUP BY ALL ORDER BY day, f.brand_id, sentiment""",
        p,
    )


def negative_share_by_brand(con, since: datetime, brand_ids: list[str] | None = None) -> pd.DataFrame:
    p: list[Any] = [since]
    where = _in("f.brand_id", brand_ids, p)
    return _df(
        con,
        f"""
        SELECT f.brand_id, count(*) AS mentions,
               count(*) FILTER (WHERE f.sentiment = 'negative') AS negative,
               round(count(*) FILTER (WHERE f.sentiment = 'negative')
                     / nullif(count(*) FILTER (WHERE f.sentiment IS NOT NULL), 0), 3) AS negative_share
        FROM mention_facts f
        WHERE f.posted_at >= ? AND {COUNTABLE} {where}
        GROUP BY ALL ORDER BY negative_share DESC NULLS LAST""",
        p,
    )


def rising_themes(con, brand_ids: list[str] | None = None, limit: int = 8) -> pd.DataFrame:
    p: list[Any] = []
    where = _in("brand_id", brand_ids, p)
    p.append(limit)
    return _df(
        con,
        f"""
        SELECT theme_id, brand_id, label, status, size, prev_size,
               size - coalesce(prev_size, 0) AS growth
        FROM themes WHERE status IN ('new', 'growing') {where}
        ORDER BY growth DESC, size DESC LIMIT ?""",
        p,
    )


def latest_alerts(con, limit: int = 5, brand_ids: list[str] | None = None) -> pd.DataFrame:
    p: list[Any] = []
    where = _in("brand_id", brand_ids, p)
    p.append(limit)
    return _df(
        con,
        f"""
        SELECT alert_id, created_at, kind, brand_id, explanation, z, acknowledged_by
        FROM alerts WHERE TRUE {where} ORDER BY created_at DESC LIMIT ?""",
        p,
    )


# ------------------------------------------------------------------------------------------ mentions


@dataclass(frozen=True)
class MentionFilter:
    brand_ids: tuple[str, ...] = ()
    source_ids: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    sentiments: tuple[str, ...] = ()
    intents: tuple[str, ...] = ()
    theme_id: str | None = None
    text: str = ""
    corrected_only: bool = False
    include_spam: bool = False  # spam, duplicates and official answers are hidden unless asked for
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def where(self) -> tuple[str, list[Any]]:
        p: list[Any] = []
        sql = ""
        sql += _in("f.brand_id", list(self.brand_ids), p)
        sql += _in("f.source_id", list(self.source_ids), p)
        if self.since is not None:
            sql += " AND f.posted_at >= ?"
            p.append(self.since)
        if self.until is not None:
            sql += " AND f.posted_at < ?"
            p.append(self.until)
        sql += _in("f.sentiment", list(self.sentiments), p)
        sql += _in("f.intent", list(self.intents), p)
        if self.theme_id:
            sql += " AND f.mention_id IN (SELECT mention_id FROM theme_members WHERE theme_id = ?)"
            p.append(self.theme_id)
        if self.text.strip():
            # a literal substring of the pre-lowered context + title: no per-search lower(), no ILIKE escapes
            sql += " AND contains(f.search_text, ?)"
            p.append(self.text.strip().lower())
        if not self.include_spam:
            sql += f" AND {COUNTABLE}"
        if self.corrected_only:
            sql += " AND f.corrected"
        return sql, p


# what a mention table shows, in this order; scores come from `mention_facts` (current scores)
MENTION_COLUMNS = [
    "mention_id",
    "posted_at",
    "brand_id",
    "source_id",
    "sentiment",
    "intent",
    "p_neg",
    "unsure",
    "corrected",
    "author",
    "thread_title",
    "context",
    "span_start",
    "span_end",
    "matched",
    "via",
    "url",
    "model",
    "model_version",
]
FACT_COLUMNS = (
    "f.mention_id, f.doc_id, f.brand_id, f.sentiment, f.intent, round(f.p_neg, 3) AS p_neg, f.unsure, "
    "f.corrected, f.model, f.model_version"
)
_M_COLUMNS = "mention_id, context, span_start, span_end, matched, via"
_D_COLUMNS = "doc_id, posted_at, source_id, author, thread_title, url"


def _with_text(con, page: pd.DataFrame) -> pd.DataFrame:
    """Add the mention and document text columns to a page of facts (`mention_id`, `doc_id`, …), keeping its order.

    Ids go in as literal lists, so DuckDB fetches the rows through the primary-key indexes instead of joining
    (and so scanning) every text column of the 1M-row tables. Each lookup runs single-threaded, so the two run
    side by side on cursors of their own (~55 ms less for a 500-row page).
    """
    mids = page["mention_id"].tolist()
    dids = pd.unique(page["doc_id"]).tolist()
    lookups = [
        (f"SELECT {_M_COLUMNS} FROM mentions WHERE mention_id IN ({_placeholders(len(mids))})", mids),
        (f"SELECT {_D_COLUMNS} FROM documents WHERE doc_id IN ({_placeholders(len(dids))})", dids),
    ]
    with ThreadPoolExecutor(2) as pool:
        m, d = pool.map(lambda q: _on_cursor(con, *q), lookups)
    return page.merge(m, on="mention_id", how="inner").merge(d, on="doc_id", how="inner")


def _placeholders(n: int) -> str:
    """`?, ?, …` for an IN list; `NULL` for none (matches nothing, where `IN ()` would not parse)."""
    return ", ".join("?" * n) if n else "NULL"


def _on_cursor(con, sql: str, params: list) -> pd.DataFrame:
    cur = con.cursor()  # a connection of its own to the same database: safe to use from another thread
    try:
        return cur.execute(sql, params).df()
    finally:
        cur.close()


def mentions(con, f: MentionFilter, limit: int = 500, offset: int = 0) -> pd.DataFrame:
    where, p = f.where()
    p.extend([limit, offset])
    # pick the page on the narrow facts, then fetch text for those rows only
    page = _df(
        con,
        f"""
        SELECT {FACT_COLUMNS} FROM mention_facts f WHERE TRUE {where}
        ORDER BY f.posted_at DESC NULLS LAST, f.mention_id LIMIT ? OFFSET ?""",
        p,
    )
    return _with_text(con, page)[MENTION_COLUMNS]


def mention_count(con, f: MentionFilter) -> int:
    where, p = f.where()
    return int(_one(con.execute(f"SELECT count(*) FROM mention_facts f WHERE TRUE {where}", p))[0])


def mentions_export(con, f: MentionFilter, limit: int) -> pd.DataFrame:
    """Up to `limit` matching mentions in `mentions()` order, for an export of everything the filter matches.

    Joins the text tables instead of `_with_text`'s literal id lists: for 100k rows one hash join beats a 100k-item
    IN list, and an export is an explicit, occasional request."""
    where, p = f.where()
    p.append(limit)
    return _df(
        con,
        f"""
        WITH page AS (
            SELECT {FACT_COLUMNS}, f.posted_at AS _order_at FROM mention_facts f WHERE TRUE {where}
            ORDER BY f.posted_at DESC NULLS LAST, f.mention_id LIMIT ?)
        SELECT page.mention_id, d.posted_at, page.brand_id, d.source_id, page.sentiment, page.intent, page.p_neg,
               page.unsure, page.corrected, d.author, d.thread_title, m.context, m.span_start, m.span_end,
               m.matched, m.via, d.url, page.model, page.model_version
        FROM page JOIN mentions m USING (mention_id) JOIN documents d ON d.doc_id = page.doc_id
        ORDER BY page._order_at DESC NULLS LAST, page.mention_id""",
        p,
    )


def mention_detail(con, mention_id: str) -> pd.DataFrame:
    page = _df(con, f"SELECT {FACT_COLUMNS} FROM mention_facts f WHERE f.mention_id = ?", [mention_id])
    more = _df(
        con,
        """
        SELECT cs.mention_id, cs.p_neu, cs.p_pos, cs.intent_probs_json, cs.scored_at, d.text
        FROM mentions m JOIN documents d USING (doc_id) LEFT JOIN current_scores cs USING (mention_id)
        WHERE m.mention_id = ?""",
        [mention_id],
    )
    return _with_text(con, page)[MENTION_COLUMNS].merge(more, on="mention_id", how="left")


def corrections(con, mention_id: str) -> pd.DataFrame:
    return _df(
        con,
        "SELECT field, value, actor, corrected_at FROM corrections WHERE mention_id = ? ORDER BY field",
        [mention_id],
    )


# ------------------------------------------------------------------------------------------ themes


def themes(con, brand_ids: list[str] | None = None, statuses: list[str] | None = None) -> pd.DataFrame:
    p: list[Any] = []
    where = _in("brand_id", brand_ids, p) + _in("status", statuses, p)
    return _df(
        con,
        f"""
        SELECT theme_id, brand_id, label, keywords_json, status, size, prev_size,
               size - coalesce(prev_size, 0) AS growth, first_seen, last_seen
        FROM themes WHERE TRUE {where}
        ORDER BY (status = 'new') DESC, (status = 'growing') DESC, size DESC""",
        p,
    )


def theme_trend(con, theme_ids: list[str], since: datetime) -> pd.DataFrame:
    """Daily member counts per theme (for sparklines)."""
    if not theme_ids:
        return pd.DataFrame(columns=["theme_id", "day", "mentions"])
    p: list[Any] = [since]
    where = _in("tm.theme_id", theme_ids, p)
    return _df(
        con,
        f"""
        SELECT tm.theme_id, CAST(f.day AS TIMESTAMP) AS day, count(*) AS mentions
        FROM theme_members tm JOIN mention_facts f USING (mention_id)
        WHERE f.posted_at >= ? {where} GROUP BY ALL ORDER BY tm.theme_id, day""",
        p,
    )


def theme_members(con, theme_id: str, limit: int = 200) -> pd.DataFrame:
    page = _df(
        con,
        f"""
        SELECT {FACT_COLUMNS}, tm.distance FROM theme_members tm JOIN mention_facts f USING (mention_id)
        WHERE tm.theme_id = ? ORDER BY tm.distance NULLS LAST, f.posted_at DESC, tm.mention_id LIMIT ?""",
        [theme_id, limit],
    )
    return _with_text(con, page)[MENTION_COLUMNS + ["distance"]]


# ------------------------------------------------------------------------------------------ escalations


def _queue_where(states: list[str] | None, owner: str | None, brand_ids: list[str] | None, p: list[Any]) -> str:
    """The queue filters on `escalations e` (owner "(unassigned)" = no owner); appends their parameters to p."""
    where = _in("e.state", states, p) + _in("e.brand_id", brand_ids, p)
    if owner == "(unassigned)":
        where += " AND e.owner IS NULL"
    elif owner:
        where += " AND e.owner = ?"
        p.append(owner)
    return where


def escalation_queue(
    con,
    states: list[str] | None = None,
    owner: str | None = None,
    brand_ids: list[str] | None = None,
    limit: int = 500,
    now: datetime | None = None,
) -> pd.DataFrame:
    now = now or pd.Timestamp.now(tz="UTC")
    p: list[Any] = []
    where = _queue_where(states, owner, brand_ids, p)
    p.append(limit)
    # sort and cut on narrow columns first; the wide ones (reasons_json, …) are joined for the page only
    page = _df(
        con,
        f"""
        WITH pick AS (
            SELECT e.escalation_id, f.doc_id, f.sentiment, f.intent
            FROM escalations e JOIN mention_facts f USING (mention_id)
            WHERE TRUE {where}
            ORDER BY e.priority DESC, e.created_at, e.escalation_id LIMIT ?
        )
        SELECT e.escalation_id, e.priority, e.level, e.state, e.owner, e.brand_id,
               round(epoch(e.sla_due_at - CAST(? AS TIMESTAMPTZ)) / 3600.0, 1) AS sla_hours_left,
               e.state IN ('new', 'assigned', 'in_progress') AND e.first_response_at IS NULL
                   AND e.sla_due_at < CAST(? AS TIMESTAMPTZ) AS sla_breached,
               e.reasons_json, e.sla_due_at, e.first_response_at, e.created_at, e.updated_at, e.version,
               e.mention_id, pick.doc_id, pick.sentiment, pick.intent
        FROM pick JOIN escalations e USING (escalation_id)
        ORDER BY e.priority DESC, e.created_at, e.escalation_id""",
        p + [now, now],
    )
    # text for the page's rows only (see _with_text)
    return _with_text(con, page).drop(columns=["doc_id", "posted_at"])


def escalation_summary(
    con,
    states: list[str] | None = None,
    owner: str | None = None,
    brand_ids: list[str] | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Counts over everything `escalation_queue` would list without its limit (not only the page shown)."""
    now = now or pd.Timestamp.now(tz="UTC")
    p: list[Any] = [now]
    where = _queue_where(states, owner, brand_ids, p)
    row = _one(
        con.execute(
            f"""
        SELECT count(*),
               count(*) FILTER (WHERE e.state IN ('new', 'assigned', 'in_progress') AND e.first_response_at IS NULL
                                AND e.sla_due_at < CAST(? AS TIMESTAMPTZ)),
               count(*) FILTER (WHERE e.level = 'critical'),
               count(*) FILTER (WHERE e.owner IS NULL)
        FROM escalations e JOIN mention_facts f USING (mention_id) WHERE TRUE {where}""",
            p,
        )
    )
    return dict(zip(("matching", "sla_breached", "critical", "unassigned"), map(int, row)))


def escalation_events(con, escalation_id: str) -> pd.DataFrame:
    return _df(
        con,
        """
        SELECT event_at, actor, action, from_state, to_state, owner, version, comment
        FROM escalation_events WHERE escalation_id = ? ORDER BY event_at, version NULLS FIRST, event_id""",
        [escalation_id],
    )


# ------------------------------------------------------------------------------------------ authors, sources, alerts


def authors(con, order: str = "advocate_score", source_ids: list[str] | None = None, limit: int = 200) -> pd.DataFrame:
    if order not in ("advocate_score", "influence_score", "posts"):
        raise ValueError(f"unknown order {order!r}")
    p: list[Any] = []
    where = _in("source_id", source_ids, p)
    p.append(limit)
    return _df(
        con,
        f"""
        SELECT name, source_id, posts, pos, neg, round(advocate_score, 3) AS advocate_score,
               round(influence_score, 3) AS influence_score, explanation, url
        FROM authors WHERE TRUE {where} ORDER BY {order} DESC NULLS LAST, posts DESC LIMIT ?""",
        p,
    )


def sources_health(con, now: datetime, silent_after_hours: float) -> pd.DataFrame:
    """Per source: last crawl, last successful crawl, 24 h items/errors, newest post, and whether it went silent."""
    return _df(
        con,
        """
        WITH r AS (
            SELECT source_id,
                   max(started_at) AS last_crawl,
                   max(finished_at) FILTER (WHERE status IN ('ok', 'partial')) AS last_success,
                   arg_max(status, started_at) AS last_status,
                   sum(items) FILTER (WHERE started_at >= $1 - INTERVAL 24 HOUR) AS items_24h,
                   sum(errors) FILTER (WHERE started_at >= $1 - INTERVAL 24 HOUR) AS errors_24h,
                   count(*) FILTER (WHERE started_at >= $1 - INTERVAL 24 HOUR) AS runs_24h,
                   count(*) FILTER (WHERE status = 'failed' AND started_at >= $1 - INTERVAL 7 DAY) AS failed_7d
            FROM crawl_runs GROUP BY source_id
        ),
        d AS (SELECT source_id, max(posted_at) AS newest_post, count(*) AS documents FROM documents GROUP BY 1),
        s AS (SELECT source_id, name, kind, enabled FROM sources)
        SELECT source_id, s.name, s.kind, coalesce(s.enabled, TRUE) AS enabled, r.last_status, r.last_crawl,
               r.last_success, coalesce(r.runs_24h, 0) AS runs_24h, coalesce(r.items_24h, 0) AS items_24h,
               coalesce(r.errors_24h, 0) AS errors_24h, coalesce(r.failed_7d, 0) AS failed_7d,
               d.newest_post, coalesce(d.documents, 0) AS documents,
               greatest(0, round(epoch($1 - least(r.last_success, d.newest_post)) / 3600.0, 1)) AS silent_hours,
               (r.last_success IS NULL OR r.last_success < $1 - to_seconds($2 * 3600)
                OR d.newest_post IS NULL OR d.newest_post < $1 - to_seconds($2 * 3600)) AS gap
        FROM s FULL JOIN r USING (source_id) FULL JOIN d USING (source_id)
        ORDER BY gap DESC, source_id""",
        [now, float(silent_after_hours)],
    )


def crawl_runs(con, source_id: str, limit: int = 50) -> pd.DataFrame:
    return _df(
        con,
        """
        SELECT run_id, started_at, finished_at, status, pages, items, errors, error_summary_json
        FROM crawl_runs WHERE source_id = ? ORDER BY started_at DESC LIMIT ?""",
        [source_id, limit],
    )


def alerts(con, show: str = "open", brand_ids: list[str] | None = None, limit: int = 500) -> pd.DataFrame:
    p: list[Any] = []
    where = _in("brand_id", brand_ids, p)
    if show == "open":
        where += " AND acknowledged_by IS NULL"
    elif show == "acknowledged":
        where += " AND acknowledged_by IS NOT NULL"
    p.append(limit)
    return _df(
        con,
        f"""
        SELECT alert_id, created_at, kind, brand_id, source_id, theme_id, window_start, window_end,
               observed, expected, round(z, 1) AS z, explanation, acknowledged_by, acknowledged_at
        FROM alerts WHERE TRUE {where} ORDER BY created_at DESC LIMIT ?""",
        p,
    )
