"""The shipped intent seed set is usable for training and evaluation."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pandas as pd

SEED = Path(__file__).resolve().parents[2] / "data" / "training" / "intent_seed.csv"
LABELS = {"question", "failure", "complaint", "praise", "other"}


def load():
    return pd.read_csv(SEED, dtype=str, keep_default_na=False)


def test_columns_labels_and_counts():
    df = load()
    assert list(df.columns) == ["text", "label", "source", "split"]
    per_label = Counter(lab for labs in df.label for lab in labs.split(";"))
    assert set(per_label) == LABELS
    assert min(per_label.values()) >= 170, per_label
    assert df.label.str.contains(";").sum() >= 30  # multi-label rows exist
    assert set(df.source) >= {"forum", "tweet", "comment", "review", "chat"}
    assert (df.text.str.strip() != "").all()


def test_no_duplicate_texts():
    norm = load().text.map(lambda t: re.sub(r"\W+", " ", t.lower()).strip())
    assert norm.duplicated().sum() == 0


def test_splits_stratified():
    df = load()
    assert set(df.split) == {"train", "test"}
    for lab in LABELS:
        sub = df[df.label.str.split(";").map(lambda ls, lab=lab: lab in ls)]
        share = (sub.split == "test").mean()
        assert 0.15 <= share <= 0.25, (lab, share)


def test_varied_brands_and_languages():
    df = load()
    text = " ".join(df.text).lower()
    # not only the five demo brands
    for other in ("аэрофлот", "госуслуг", "сбер", "мтс", "ozon", "лад"):
        assert other in text, other
    english = df.text.map(lambda t: not re.search("[а-яё]", t.lower())).sum()
    assert 20 <= english <= 0.15 * len(df)
