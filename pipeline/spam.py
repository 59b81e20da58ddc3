"""Simple spam / bot signals. Flagged documents stay stored (`documents.spam`, `spam_reasons_json`) and are
excluded from KPIs by default (readers filter `NOT spam`).

Signals:
- `link_farm`: a post with `Settings.ingest.spam_min_links` or more links;
- `same_text_many_authors`: the same or nearly the same text (one dedup group: a document and its copies) from
  `spam_same_text_authors` or more different authors, for texts of at least `spam_min_text_chars` characters
  ("спасибо!" from many people is not spam);
- `posting_rate`: an author with more than `spam_max_posts_per_hour` posts in one source within an hour.
The last two are computed in SQL over everything stored, so they see across runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from pipeline.config import Settings

_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)


def link_count(text: str) -> int:
    if "http" not in text and "www" not in text and "HTTP" not in text and "WWW" not in text:
        return 0
    return len(_LINK.findall(text))


def spam_reasons(con: Any, doc_ids: Iterable[str], link_counts: dict[str, int], settings: Settings) -> pd.DataFrame:
    """Spam verdicts for the given documents and for the stored documents they make spam (same text).

    Returns a frame (doc_id, spam, spam_reasons_json) of every document whose verdict is to be written: the
    given ones, and stored ones whose verdict changes.
    """
    cfg = settings.ingest
    ids = pd.DataFrame({"doc_id": list(doc_ids)})
    if ids.empty:
        return pd.DataFrame(columns=["doc_id", "spam", "spam_reasons_json"])
    con.register("__spam_ids", ids)
    try:
        rate = con.execute(
            """
            WITH who AS (
                SELECT DISTINCT d.source_id, d.author_key FROM documents d JOIN __spam_ids USING (doc_id)
                WHERE d.author_key IS NOT NULL
            ),
            posts AS (
                SELECT d.doc_id, d.source_id, d.author_key, d.posted_at
                FROM documents d JOIN who USING (source_id, author_key)
                WHERE d.posted_at IS NOT NULL
            ),
            bursts AS (  -- one-hour windows, each starting at a post, holding too many posts
                SELECT p.source_id, p.author_key, p.posted_at AS t0 FROM posts p JOIN posts q
                  ON q.source_id = p.source_id AND q.author_key = p.author_key
                 AND q.posted_at >= p.posted_at AND q.posted_at < p.posted_at + INTERVAL 1 HOUR
                GROUP BY ALL HAVING count(*) > ?
            )
            SELECT DISTINCT p.doc_id FROM posts p JOIN bursts b
              ON b.source_id = p.source_id AND b.author_key = p.author_key
             AND p.posted_at >= b.t0 AND p.posted_at < b.t0 + INTERVAL 1 HOUR
            """,
            [cfg.spam_max_posts_per_hour],
        ).fetchall()
        same = con.execute(
            """
            WITH roots AS (
                SELECT DISTINCT coalesce(d.dup_of, d.doc_id) AS root FROM documents d JOIN __spam_ids USING (doc_id)
            ),
            grp AS (
                SELECT r.root FROM documents d JOIN roots r ON coalesce(d.dup_of, d.doc_id) = r.root
                WHERE length(d.text) >= ?
                GROUP BY r.root HAVING count(DISTINCT coalesce(d.author_key, d.doc_id)) >= ?
            )
            SELECT d.doc_id FROM documents d JOIN grp g ON coalesce(d.dup_of, d.doc_id) = g.root
            """,
            [cfg.spam_min_text_chars, cfg.spam_same_text_authors],
        ).fetchall()
        rate_s, same_s = {r[0] for r in rate}, {r[0] for r in same}
        batch = set(ids["doc_id"].tolist())
        affected = sorted(batch | same_s | rate_s)
        # stored verdicts of the others (a document flagged by an earlier batch keeps its other reasons, and one
        # whose verdict stays the same is not written again); the batch's own documents get theirs recomputed
        others = [d for d in affected if d not in batch]
        old: list = []
        if others:
            con.register("__spam_aff", pd.DataFrame({"doc_id": others}))
            try:
                old = con.execute(
                    "SELECT doc_id, spam, spam_reasons_json FROM documents JOIN __spam_aff USING (doc_id)"
                ).fetchall()
            finally:
                con.unregister("__spam_aff")
    finally:
        con.unregister("__spam_ids")
    stored = {d: (sp, r) for d, sp, r in old}
    parsed: dict[str, frozenset[str]] = {}  # a few distinct reason lists: each parsed and written once
    written: dict[frozenset[str], str] = {}
    rows = []
    for d in affected:
        if d in batch:
            reasons = {"link_farm"} if link_counts.get(d, 0) >= cfg.spam_min_links else set()
        else:
            r = stored.get(d, (None, None))[1]
            if r:
                if r not in parsed:
                    parsed[r] = frozenset(json.loads(r))
                reasons = set(parsed[r])
            else:
                reasons = set()
        if d in rate_s:
            reasons.add("posting_rate")
        if d in same_s:
            reasons.add("same_text_many_authors")
        key = frozenset(reasons)
        if key and key not in written:
            written[key] = json.dumps(sorted(key))
        verdict = (bool(key), written[key] if key else None)
        if d not in batch and d in stored and stored[d] == verdict:
            continue  # unchanged: neither the row nor its facts need rewriting
        rows.append((d, *verdict))
    return pd.DataFrame(rows, columns=["doc_id", "spam", "spam_reasons_json"])
