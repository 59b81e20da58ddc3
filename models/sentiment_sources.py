"""Sentiment training rows from sets labelled for something else, written as `text,label,source,split` CSV.

The research sentiment file is tweets. Forum posts and reviews read differently ("за три года ни одной потерянной
посылки" is praise full of negative words), so two sets of longer, first-person text are mapped to sentiment:

- **restaurants**: the sentences of SentiRuEval-2015 restaurant reviews, labelled as in
  `models.intent_sources` (from the sentiment of the relevant aspect terms they hold): `complaint` alone ->
  negative, `praise` alone -> positive, `other` -> neutral; a sentence with both is left out. Source
  `restaurants` (down-weighted like the intent rows: the labels are derived, not annotated). Same per-review
  split, so a review's sentences never straddle train and test. Only the reviews of the half that chose the
  long-text windows (`held_out_review`): the other half's whole reviews stay unseen, to measure long texts on.
- **seed**: brandmon's hand-written intent seed set (`data/training/intent_seed.csv`): `praise` -> positive,
  `complaint` or `failure` (without praise) -> negative, `other` -> neutral (an unevaluated mention, by the
  labelling guidelines); questions are left out, since a question may go either way. Its own test split stays
  the test split. Source `intent_seed`.

    python -m models.sentiment_sources restaurants ../shared/data/aspects/restaurant_reviews_aspects.jsonl out.csv
    python -m models.sentiment_sources seed data/training/intent_seed.csv out.csv
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pandas as pd

from models.intent_sources import read_jsonl, restaurant_rows, write_rows

COLUMNS = ["text", "label", "source", "split"]


def _from_intent(labels: str) -> str | None:
    labs = {x.strip() for x in str(labels).split(";") if x.strip()}
    if "praise" in labs:
        return None if labs & {"complaint", "failure"} else "positive"
    if labs & {"complaint", "failure"}:
        return "negative"
    if labs == {"other"}:
        return "neutral"
    return None  # questions, unknown labels


def held_out_review(review_id: str) -> bool:
    """The half of the restaurant reviews that long-text sentiment is reported on (tests/models/test_windows.py)."""
    return int(hashlib.sha256(str(review_id).encode()).hexdigest(), 16) % 2 == 1


def restaurant_sentiment_rows(records: list[dict]) -> pd.DataFrame:
    df = restaurant_rows([r for r in records if not held_out_review(r.get("id", ""))])
    df = df.assign(label=df["label"].map(_from_intent)).dropna(subset=["label"])
    return df[COLUMNS].reset_index(drop=True)


def seed_sentiment_rows(seed: pd.DataFrame) -> pd.DataFrame:
    df = seed.assign(label=seed["label"].map(_from_intent), source="intent_seed").dropna(subset=["label"])
    return df[COLUMNS].reset_index(drop=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] not in ("restaurants", "seed"):
        print("usage: python -m models.sentiment_sources restaurants|seed INPUT OUT.csv", file=sys.stderr)
        return 2
    if args[0] == "restaurants":
        df = restaurant_sentiment_rows(read_jsonl(Path(args[1])))
    else:
        df = seed_sentiment_rows(pd.read_csv(args[1], dtype=str))
    write_rows(df, args[2])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
