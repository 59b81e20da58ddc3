"""Escalation, advocates, alerts and KPIs on a synthetic database, with a same-run baseline.

    .venv/bin/python benchmarks/escalate.py [--mentions 20000] [--threads 2000] [--authors 3000]

1. Writes `--mentions` scored mentions (one per post, five kinds of Russian posts: complaint with a refund demand,
   praise, question, failure report, legal threat) over 30 days into a fresh DuckDB file.
2. Times `escalate` (first run: creates items; second run: refreshes them), `update_authors`, `detect_alerts` and
   `compute_kpis`.
3. Baseline, same run: the candidate query alone (the SQL that `escalate` starts from, fetched into pandas), so the
   ratio shows how much the Python side (term matching, reasons JSON, queue writes) adds.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pandas as pd  # noqa: E402

from pipeline import advocates, alerts, escalate, kpis  # noqa: E402
from pipeline.config import load_settings  # noqa: E402
from pipeline.store import Store, stable_id, text_hash  # noqa: E402

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
KINDS = [
    ("Посылкин потерял посылку, верните деньги", "negative", "complaint"),
    ("Посылкин доставил быстро, спасибо", "positive", "praise"),
    ("Посылкин: как отследить заказ?", "neutral", "question"),
    ("Посылкин приложение падает при оплате", "negative", "failure"),
    ("подам в суд на Посылкин и напишу в Роспотребнадзор", "negative", "complaint"),
]
P = {"negative": (0.88, 0.09, 0.03), "neutral": (0.08, 0.84, 0.08), "positive": (0.03, 0.09, 0.88)}


def build(store: Store, n: int, threads: int, authors: int) -> None:
    rnd = random.Random(1)
    docs, ments, scores = [], [], []
    for i in range(n):
        text, sent, intent = KINDS[rnd.randrange(len(KINDS))]
        text = f"{text} ({i})"
        at = pd.Timestamp(NOW - timedelta(minutes=rnd.randrange(60 * 24 * 30)))
        doc = stable_id("bench", i)
        docs.append(
            dict(
                doc_id=doc,
                source_id=f"forum-{i % 4}",
                url=f"http://127.0.0.1/t{i % threads}#p{i}",
                thread_url=f"http://127.0.0.1/t{i % threads}",
                author=f"u{rnd.randrange(authors)}",
                posted_at=at,
                ingested_at=at,
                text=text,
                text_hash=text_hash(text),
                likes=rnd.randrange(5),
            )
        )
        mid = stable_id(doc, "posylkin")
        ments.append(dict(mention_id=mid, doc_id=doc, brand_id="posylkin", context=text, context_hash=text_hash(text)))
        pn, pu, pp = P[sent]
        probs = {k: (0.7 if k == intent else 0.075) for k in ("question", "failure", "complaint", "praise", "other")}
        scores.append(
            dict(
                mention_id=mid,
                model="bench",
                model_version="v1",
                context_hash=text_hash(text),
                sentiment=sent,
                p_neg=pn,
                p_neu=pu,
                p_pos=pp,
                unsure=False,
                intent=intent,
                intent_probs_json=json.dumps(probs),
                scored_at=at,
            )
        )
    with store.write() as con:
        store.upsert(
            "models",
            [dict(model="bench", model_version="v1", task="score", active=True)],
            ["model", "model_version"],
            con=con,
        )
        store.upsert("documents", pd.DataFrame(docs), ["doc_id"], con=con)
        store.upsert("mentions", pd.DataFrame(ments), ["mention_id"], con=con)
        store.upsert("scores", pd.DataFrame(scores), ["mention_id", "model_version"], con=con)


def timed(label: str, fn):
    t = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t
    print(f"{label:<22} {dt:7.2f} s  {out if isinstance(out, dict) else ''}")
    return dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mentions", type=int, default=20000)
    ap.add_argument("--threads", type=int, default=2000)
    ap.add_argument("--authors", type=int, default=3000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        s = load_settings(data_dir=Path(d))
        store = Store.from_settings(s)
        store.upgrade()
        timed("build database", lambda: build(store, a.mentions, a.threads, a.authors))

        def baseline():
            with store.read() as con:
                return {"rows": len(con.execute(escalate.CANDIDATES_SQL, [24.0]).df())}

        base = timed("baseline: candidates", baseline)
        first = timed("escalate (create)", lambda: escalate.escalate(s, store, now=NOW))
        second = timed("escalate (refresh)", lambda: escalate.escalate(s, store, now=NOW))
        timed("update_authors", lambda: advocates.update_authors(s, store))
        timed("detect_alerts", lambda: alerts.detect_alerts(s, store, now=NOW))
        timed("compute_kpis", lambda: kpis.compute_kpis(store, now=NOW)["summary"])
        print(
            f"escalate / candidate query: {first / base:.1f}x (create), {second / base:.1f}x (refresh); "
            f"{1000 * first / a.mentions:.2f} ms per mention"
        )


if __name__ == "__main__":
    main()
