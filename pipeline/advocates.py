"""Advocates (authors who repeatedly speak well of a brand, and defend it where others complain) and opinion
leaders (authors whose posts draw replies and likes across threads). No follower counts needed.

Per (author, brand), over current scores of non-spam, non-duplicate, non-official posts:
    defenses = positive posts replying to, or posted after, another author's negative post about the brand
               in the same thread
    raw      = pos + (defense_weight − 1)·defenses − negative_weight·neg      (0 when pos < min_positive)
    advocate_score = 1 − exp(−raw / scale)
Per author:
    influence_raw   = ln(1 + replies received from others) + ½·ln(1 + likes) + ½·ln(1 + distinct threads)
    influence_score = 1 − exp(−influence_raw / influence_scale)
Authors are keyed like ingest does: `stable_id(source_id, author_url or author)`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline.logs import log_context
from pipeline.store import Store, stable_id, utcnow

if TYPE_CHECKING:
    from pipeline.config import Settings

log = logging.getLogger(__name__)

_POSTS = """
WITH docs AS (
    SELECT d.doc_id, d.source_id, d.author, d.author_url, d.parent_id, coalesce(d.likes, 0) AS likes,
           coalesce(d.thread_url, d.url, d.doc_id) AS thread_key,
           coalesce(d.posted_at, d.ingested_at) AS post_at,
           coalesce(nullif(d.author_url, ''), nullif(d.author, '')) AS author_id
    FROM documents d
    WHERE NOT coalesce(d.spam, FALSE) AND (d.dup_of IS NULL OR d.dup_of = d.doc_id)
      AND NOT coalesce(d.is_official_answer, FALSE)
),
ms AS (
    SELECT m.doc_id, m.brand_id, cs.sentiment
    FROM mentions m JOIN current_scores cs USING (mention_id) WHERE cs.sentiment IS NOT NULL
),
posts AS (SELECT d.*, ms.brand_id, ms.sentiment FROM docs d JOIN ms USING (doc_id)),
neg AS (SELECT * FROM posts WHERE sentiment = 'negative')
SELECT p.source_id, p.author_id, p.brand_id,
       count(*) AS posts,
       count(*) FILTER (WHERE p.sentiment = 'positive') AS pos,
       count(*) FILTER (WHERE p.sentiment = 'negative') AS neg,
       count(*) FILTER (WHERE p.sentiment = 'positive' AND EXISTS (
           SELECT 1 FROM neg n
           WHERE n.source_id = p.source_id AND n.thread_key = p.thread_key AND n.brand_id = p.brand_id
             AND n.author_id <> p.author_id AND (n.post_at < p.post_at OR n.doc_id = p.parent_id))) AS defenses
FROM posts p WHERE p.author_id IS NOT NULL
GROUP BY ALL
"""

_AUTHORS = """
WITH docs AS (
    SELECT d.doc_id, d.source_id, d.author, d.author_url, d.parent_id, coalesce(d.likes, 0) AS likes,
           coalesce(d.thread_url, d.url, d.doc_id) AS thread_key,
           coalesce(nullif(d.author_url, ''), nullif(d.author, '')) AS author_id
    FROM documents d
    WHERE NOT coalesce(d.spam, FALSE) AND (d.dup_of IS NULL OR d.dup_of = d.doc_id)
),
replies AS (
    SELECT p.source_id, p.author_id, count(*) AS replies_received
    FROM docs c JOIN docs p ON c.parent_id = p.doc_id
    WHERE c.author_id IS DISTINCT FROM p.author_id
    GROUP BY ALL
)
SELECT d.source_id, d.author_id, any_value(d.author) AS name, any_value(d.author_url) AS url,
       count(*) AS posts, sum(d.likes) AS likes, count(DISTINCT d.thread_key) AS threads,
       coalesce(any_value(r.replies_received), 0) AS replies_received
FROM docs d LEFT JOIN replies r USING (source_id, author_id)
WHERE d.author_id IS NOT NULL
GROUP BY ALL
"""


def _advocate_raw(df: pd.DataFrame, a: Any) -> np.ndarray:
    raw = df["pos"] + (a.defense_weight - 1.0) * df["defenses"] - a.negative_weight * df["neg"]
    raw = np.where(df["pos"] >= a.min_positive, np.maximum(raw, 0.0), 0.0)
    return raw


def update_authors(settings: Settings, store: Store) -> dict[str, int]:
    """Recompute authors (posts, pos/neg, advocate and influence scores, explanation) and author_brands."""
    a = settings.advocates
    now = pd.Timestamp(utcnow())
    with log_context(stage="advocates"):
        with store.read() as con:
            per_brand = con.execute(_POSTS).df()
            authors = con.execute(_AUTHORS).df()
            names = dict(con.execute("SELECT brand_id, name FROM brands").fetchall())
        if authors.empty:
            return {"authors": 0, "author_brands": 0, "advocates": 0}

        authors["author_key"] = [stable_id(s, x) for s, x in zip(authors["source_id"], authors["author_id"])]
        per_brand["author_key"] = [stable_id(s, x) for s, x in zip(per_brand["source_id"], per_brand["author_id"])]
        per_brand["advocate_score"] = (1 - np.exp(-_advocate_raw(per_brand, a) / a.scale)).round(4)
        per_brand["explanation"] = [
            f"{int(r.pos)} positive post{'s' if r.pos != 1 else ''} about {names.get(r.brand_id, r.brand_id)}"
            f" ({int(r.defenses)} defending it in threads with complaints), {int(r.neg)} negative"
            for r in per_brand.itertuples(index=False)
        ]

        inf_raw = (
            np.log1p(authors["replies_received"].astype(float))
            + 0.5 * np.log1p(authors["likes"].astype(float))
            + 0.5 * np.log1p(authors["threads"].astype(float))
        )
        authors["influence_score"] = (1 - np.exp(-inf_raw / a.influence_scale)).round(4)
        sums = per_brand.groupby("author_key")[["pos", "neg"]].sum()
        authors["pos"] = authors["author_key"].map(sums["pos"]).fillna(0).astype(int)
        authors["neg"] = authors["author_key"].map(sums["neg"]).fillna(0).astype(int)
        best = (
            per_brand.sort_values("advocate_score", ascending=False)
            .drop_duplicates("author_key")
            .set_index("author_key")
        )
        authors["advocate_score"] = authors["author_key"].map(best["advocate_score"]).fillna(0.0)
        expl = []
        for r in authors.itertuples(index=False):
            parts = []
            if r.advocate_score > 0:
                parts.append("advocate: " + best.at[r.author_key, "explanation"])
            threads = f"{int(r.threads)} thread{'s' if r.threads != 1 else ''}"
            parts.append(f"draws {int(r.replies_received)} replies and {int(r.likes)} likes across {threads}")
            expl.append("; ".join(parts))
        authors["explanation"] = expl
        authors["updated_at"] = now
        per_brand["updated_at"] = now

        cols = [
            "author_key",
            "source_id",
            "name",
            "url",
            "posts",
            "neg",
            "pos",
            "advocate_score",
            "influence_score",
            "explanation",
            "updated_at",
        ]
        bcols = [
            "author_key",
            "brand_id",
            "posts",
            "pos",
            "neg",
            "defenses",
            "advocate_score",
            "explanation",
            "updated_at",
        ]
        with store.write() as con:
            store.upsert("authors", authors[cols], ["author_key"], con=con)
            store.upsert("author_brands", per_brand[bcols], ["author_key", "brand_id"], con=con)
        counts = {
            "authors": len(authors),
            "author_brands": len(per_brand),
            "advocates": int((per_brand["advocate_score"] > 0).sum()),
        }
        log.info("advocates: %s", counts)
        return counts


def top_advocates(store: Store, brand: str | None = None, limit: int = 20) -> pd.DataFrame:
    return store.show(
        """SELECT ab.brand_id, a.name, a.source_id, ab.advocate_score, ab.pos, ab.neg, ab.defenses,
                  a.influence_score, ab.explanation, a.author_key
           FROM author_brands ab JOIN authors a USING (author_key)
           WHERE ab.advocate_score > 0 AND (CAST(? AS VARCHAR) IS NULL OR ab.brand_id = ?)
           ORDER BY ab.advocate_score DESC, a.influence_score DESC, a.name LIMIT ?""",
        [brand, brand, int(limit)],
    )


def opinion_leaders(store: Store, limit: int = 20) -> pd.DataFrame:
    return store.show(
        """SELECT name, source_id, influence_score, posts, pos, neg, advocate_score, explanation, author_key
           FROM authors ORDER BY influence_score DESC NULLS LAST, name LIMIT ?""",
        [int(limit)],
    )
