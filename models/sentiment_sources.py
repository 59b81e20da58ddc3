"""Sentiment training rows from a set labelled for something else, written as `text,label,source,split` CSV.

The research sentiment file is tweets. Forum posts and reviews read differently ("за три года ни одной потерянной
посылки" is praise full of negative words). Besides the hand-labelled `data/training/brand_sentiment.csv` (read
as it is), a set of longer, first-person text is mapped to sentiment:

- **restaurants**: the sentences of SentiRuEval-2015 restaurant reviews, labelled as in
  `models.intent_sources` (from the sentiment of the relevant aspect terms they hold): `complaint` alone ->
  negative, `praise` alone -> positive, `other` -> neutral; a sentence with both is left out. Source
  `restaurants` (down-weighted like the intent rows: the labels are derived, not annotated). Same per-review
  split, so a review's sentences never straddle train and test. Only the reviews of the half that chose the
  long-text windows (`held_out_review`): the other half's whole reviews stay unseen, to measure long texts on.

    python -m models.sentiment_sources restaurants ../shared/data/aspects/restaurant_reviews_aspects.jsonl out.csv
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


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] != "restaurants":
        print("usage: python -m models.sentiment_sources restaurants INPUT OUT.csv", file=sys.stderr)
        return 2
    write_rows(restaurant_sentiment_rows(read_jsonl(Path(args[1]))), args[2])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
