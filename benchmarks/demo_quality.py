"""The whole pipeline's quality on the demo web, against its answer file (data/demo_web/answers.csv).

    .venv/bin/python benchmarks/demo_quality.py [DB] [--model DIR]

DB is the DuckDB file of a finished demo run; without it the demo runs first (`brandmon demo --no-dashboard
--no-prefect` into a temporary data directory, ~1.5 min on 2 cores), scored by the shipped scorer or by the
scorer in ``--model`` (a `brandmon train --out` directory or a name under models/weights): a fresh run per
model, so two scorers are compared on the same crawl, queue and all.

Unlike tests/escalate/test_demo_answers.py (the labels stand in for the model there), this reads what the real run
stored: the active scorer's sentiment and intent for each mention, and the escalation queue built from them.
Prints sentiment and intent F1 with confusion tables, the queue's precision@20 (relevant = must-escalate, or a
negative complaint/failure report) and where the must-escalate mentions rank.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

ROOT = Path(__file__).resolve().parents[1]
OPEN = ("new", "assigned", "in_progress")


def load(db: Path) -> pd.DataFrame:
    """One row per stored mention, with its scores, its queue item and the answer file's labels (if any)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        got = con.execute("""
            SELECT m.mention_id, m.brand_id, d.source_id, d.post_id, cs.sentiment, cs.intent,
                   e.priority, e.state
            FROM mentions m JOIN documents d USING (doc_id)
            LEFT JOIN current_scores cs USING (mention_id)
            LEFT JOIN escalations e USING (mention_id)""").df()
    finally:
        con.close()
    got["site"] = got["source_id"].str.removeprefix("demo-")
    truth = pd.read_csv(ROOT / "data" / "demo_web" / "answers.csv", dtype=str).fillna("")
    truth = truth[truth["brand_id"] != ""].rename(columns={"sentiment": "true_sentiment", "intent": "true_intent"})
    return got.merge(
        truth[["site", "post_id", "brand_id", "true_sentiment", "true_intent", "must_escalate"]],
        on=["site", "post_id", "brand_id"],
        how="left",
    )


def report(df: pd.DataFrame) -> dict[str, float]:
    lab = df[df["true_sentiment"].notna() & df["sentiment"].notna()]
    out = {
        "mentions": len(df),
        "labelled": len(lab),
        "sentiment_accuracy": accuracy_score(lab["true_sentiment"], lab["sentiment"]),
        "sentiment_macro_f1": f1_score(lab["true_sentiment"], lab["sentiment"], average="macro"),
        "sentiment_weighted_f1": f1_score(lab["true_sentiment"], lab["sentiment"], average="weighted"),
    }
    it = lab[lab["true_intent"] != ""]
    out["intent_accuracy"] = accuracy_score(it["true_intent"], it["intent"])
    out["intent_macro_f1"] = f1_score(it["true_intent"], it["intent"], average="macro")
    q = df[df["state"].isin(OPEN)].sort_values("priority", ascending=False).reset_index(drop=True)
    relevant = (q["must_escalate"] == "1") | (
        (q["true_sentiment"] == "negative") & q["true_intent"].isin(["complaint", "failure"])
    )
    out["queue"] = len(q)
    out["precision_at_20"] = float(relevant.head(20).mean()) if len(q) else 0.0
    must = set(df.loc[df["must_escalate"] == "1", "mention_id"])
    ranks = sorted(int(i) + 1 for i in q.index[q["mention_id"].isin(must)])
    out["must_escalate"] = len(must)
    out["must_escalate_in_queue"] = len(ranks)
    out["must_escalate_in_top_50"] = sum(r <= 50 for r in ranks)
    print(pd.crosstab(lab["true_sentiment"], lab["sentiment"], rownames=["true sentiment"], colnames=["scored"]))
    print(pd.crosstab(it["true_intent"], it["intent"], rownames=["true intent"], colnames=["scored"]))
    print(f"must-escalate ranks in the queue: {ranks}")
    return out


def run_demo(data_dir: Path, model: str | None = None) -> Path:
    env = {
        **os.environ,
        "BRANDMON_DATA_DIR": str(data_dir),
        "BRANDMON_SOURCES_FILE": str(ROOT / "data" / "sources.yaml"),
        "BRANDMON_BRANDS_FILE": str(ROOT / "data" / "brands.yaml"),
    }
    if model:
        env["BRANDMON_MODELS__SENTIMENT"] = str(Path(model).resolve()) if Path(model).exists() else model
    subprocess.run(
        [sys.executable, "-m", "brandmon.cli", "demo", "--no-dashboard", "--no-prefect"],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return data_dir / "brandmon.duckdb"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("db", type=Path, nargs="?", help="the DuckDB file a demo run wrote (default: run the demo)")
    ap.add_argument("--model", help="score the fresh demo with this scorer (a directory or a shipped name)")
    a = ap.parse_args()
    if a.db and a.model:
        ap.error("--model scores a fresh demo run; it does not apply to a given DB")
    with tempfile.TemporaryDirectory(prefix="brandmon-demo-quality-") as tmp:
        db = a.db or run_demo(Path(tmp) / "data", a.model)
        for k, v in report(load(db)).items():
            print(f"{k:24s} {v:.3f}" if isinstance(v, float) else f"{k:24s} {v}")


if __name__ == "__main__":
    main()
