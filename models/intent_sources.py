"""Intent training rows from labelled sets of other domains, written as `text,label,known,source,split` CSV.

Restaurant reviews with aspect annotations (SentiRuEval-2015 restaurants: each aspect term has a category, a
sentiment and a relevance mark) become one row per sentence:

- `complaint` if the sentence holds a relevant aspect (food, service, interior, price, the place as a whole)
  with negative or mixed sentiment: bad food or service quality is a complaint in brandmon's guidelines;
- `praise` if it holds one with positive or mixed sentiment;
- `other` if it holds neither (a neutral visit report).

Only those three labels are known (`known` column); question and failure are masked, since the annotation says
nothing about them. The split is per review (so sentences of one review never straddle train and test), fixed
by a hash of the review id: 70% train, 10% validation, 20% test.

    python -m models.intent_sources restaurants ../shared/data/aspects/restaurant_reviews_aspects.jsonl out.csv
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

RESTAURANT_KNOWN = "complaint;praise;other"
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
MIN_CHARS = 15  # shorter fragments ("Итак.", "Всем привет!") carry no intent worth learning


def split_of(key: str, val: float = 0.1, test: float = 0.2) -> str:
    """A stable train/val/test assignment from a hash of ``key`` (independent of row order and of Python)."""
    h = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if h < test else "val" if h < test + val else "train"


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) character spans of the sentences of ``text``, whitespace-trimmed."""
    spans, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def restaurant_rows(records: Iterable[dict]) -> pd.DataFrame:
    """One labelled row per sentence of each review (see the module docstring)."""
    rows = []
    for rec in records:
        text = str(rec.get("text") or "")
        split = split_of(f"restaurant:{rec.get('id')}")
        aspects = [a for a in rec.get("aspects") or [] if a.get("mark") == "Rel"]
        for a, b in sentences(text):
            if b - a < MIN_CHARS:
                continue
            inside = [x for x in aspects if a <= int(x["from"]) < b]
            neg = any(x.get("sentiment") in ("negative", "both") for x in inside)
            pos = any(x.get("sentiment") in ("positive", "both") for x in inside)
            labels = [lab for lab, on in (("complaint", neg), ("praise", pos)) if on] or ["other"]
            rows.append(
                {
                    "text": text[a:b],
                    "label": ";".join(labels),
                    "known": RESTAURANT_KNOWN,
                    "source": "restaurants",
                    "split": split,
                }
            )
    return pd.DataFrame(rows, columns=["text", "label", "known", "source", "split"])


def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] != "restaurants":
        print("usage: python -m models.intent_sources restaurants ASPECTS.jsonl OUT.csv", file=sys.stderr)
        return 2
    write_rows(restaurant_rows(read_jsonl(Path(args[1]))), args[2])
    return 0


def write_rows(df: pd.DataFrame, out: str) -> None:
    """Write training rows as CSV and say how many of each (split, label) there are."""
    df.to_csv(out, index=False)
    counts = df.groupby(["split", "label"]).size().to_dict()
    print(f"{len(df)} rows -> {out}: {counts}")


if __name__ == "__main__":
    raise SystemExit(main())
