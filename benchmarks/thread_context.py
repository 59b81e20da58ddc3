"""Precision and recall of mentions inherited from the thread (pipeline/thread_context.py) on the demo web.

    .venv/bin/python benchmarks/thread_context.py DB

DB is the DuckDB file of a demo run (`brandmon demo`, or benchmarks/demo_quality.py's). The answer file
(data/demo_web/answers.csv) labels every demo post with the brands it is about; `mention=thread` rows are replies
about a brand that only their thread names. For each variant of the rule, run over the stored documents and their
text / `about` mentions:
- precision: inherited (post, brand) pairs the answer file also gives that post;
- recall: `thread` rows that get the mention (those a source's `about` already covers are left out of both).
The last line checks the mentions the ingest stored (`via` not NULL) against the same answers.
The rule is tuned on these answers: read the numbers as a fit to the demo, not as a real-forum estimate.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.brands import build_matcher  # noqa: E402
from pipeline.config import load_brands  # noqa: E402
from pipeline.thread_context import Post, Rule, inherit  # noqa: E402

NEVER = 10**9


def load(db: Path):
    con = duckdb.connect(str(db), read_only=True)
    try:
        docs = con.execute("""
            SELECT doc_id, source_id, thread_url, thread_title, post_id, text, coalesce(is_official_answer, FALSE)
            FROM documents WHERE thread_url IS NOT NULL
            ORDER BY source_id, thread_url, posted_at NULLS LAST, ingested_at, doc_id""").df()
        has_via = "via" in {r[0] for r in con.execute("DESCRIBE mentions").fetchall()}
        ments = con.execute(
            f"SELECT doc_id, brand_id, matched, {'via' if has_via else 'NULL'} AS via FROM mentions"
        ).df()
    finally:
        con.close()
    return docs, ments


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("db", type=Path)
    args = ap.parse_args()
    docs, ments = load(args.db)
    answers = pd.read_csv(ROOT / "data" / "demo_web" / "answers.csv", dtype=str).fillna("")
    truth = {(r.site, r.post_id, r.brand_id) for r in answers.itertuples() if r.brand_id}
    thread_rows = {(r.site, r.post_id, r.brand_id) for r in answers.itertuples() if r.mention == "thread"}
    own = ments[ments["via"].isna()]
    named = own[own["matched"].notna()].groupby("doc_id")["brand_id"].agg(frozenset).to_dict()
    present = own.groupby("doc_id")["brand_id"].agg(frozenset).to_dict()
    key = {r.doc_id: (r.source_id.removeprefix("demo-"), r.post_id) for r in docs.itertuples()}
    covered = {(*key[d], b) for d, bs in present.items() if d in key for b in bs}
    wanted = thread_rows - covered
    matcher = build_matcher(load_brands(ROOT / "data" / "brands.yaml"))

    def run(rule: Rule, title_only: bool = False) -> set[tuple[str, str, str]]:
        got = set()
        for (src, _url), g in docs.groupby(["source_id", "thread_url"], sort=False):
            posts = [
                Post(r.doc_id, r.text, named.get(r.doc_id, frozenset()), present.get(r.doc_id, frozenset()), bool(r[7]))
                for r in g.itertuples()
            ]
            if title_only and posts:
                posts[0] = Post(posts[0].doc_id, posts[0].text)
            got |= {(*key[d], b) for d, b, _via in inherit(g["thread_title"].iloc[0], posts, matcher, rule, src)}
        return got

    def show(name: str, got: set) -> None:
        prec = len(got & truth) / len(got) if got else 0.0
        rec = len(got & wanted) / len(wanted) if wanted else 0.0
        print(
            f"{name:66s} inherited {len(got):3d}  precision {prec:.2f}  recall {rec:.2f} "
            f"({len(got & wanted)}/{len(wanted)})"
        )

    print(f"{len(thread_rows)} `thread` rows in the answers, {len(thread_rows & covered)} already covered by `about`")
    show("title or opening post names it (not official, no namesake)", run(Rule(NEVER, 1)))
    show("title names it (not official, no namesake)", run(Rule(NEVER, 1), title_only=True))
    for n in (0, 3, 5, 10):
        show(f"... and (one of the first {n} replies or shares a content word)", run(Rule(n, 1)))
    show("... and (one of the first 3 replies or shares 2 content words)", run(Rule(3, 2)))
    stored = ments[ments["via"].notna()]
    show(
        "stored by the ingest (via not NULL)",
        {(*key[d], b) for d, b in zip(stored["doc_id"], stored["brand_id"]) if d in key},
    )


if __name__ == "__main__":
    main()
