"""PII masking on a labelled list: recall of e-mails, phones, cards, order numbers; ordinary numbers untouched."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

from pipeline.privacy import luhn_ok, make_masker, mask_pii

DATA = Path(__file__).resolve().parent / "data"
TOKEN = re.compile(r"\[(EMAIL|PHONE|CARD|ORDER)\]")


def _rows():
    with open(DATA / "pii.csv", encoding="utf-8", newline="") as fh:
        return [(r["text"], r["expected"]) for r in csv.DictReader(fh)]


def test_pii_recall_and_no_false_masking(settings):
    rows = _rows()
    assert len(rows) >= 100
    found = total = 0
    exact = 0
    false_masks = []
    per_kind: Counter = Counter()
    per_kind_found: Counter = Counter()
    for text, expected in rows:
        got = mask_pii(text, settings)
        exp_tokens = Counter(TOKEN.findall(expected))
        got_tokens = Counter(TOKEN.findall(got))
        for k, n in exp_tokens.items():
            total += n
            per_kind[k] += n
            found += min(n, got_tokens[k])
            per_kind_found[k] += min(n, got_tokens[k])
        exact += got == expected
        if not exp_tokens and got != text:
            false_masks.append((text, got))
        elif got != expected:
            print("  differs:", text, "->", got)
    recall = found / total
    positives = sum(1 for _, e in rows if TOKEN.search(e))
    print(
        f"\nPII masking: {positives} strings with PII, {len(rows) - positives} without; recall={recall:.3f} "
        f"exact={exact}/{len(rows)} " + " ".join(f"{k}={per_kind_found[k]}/{per_kind[k]}" for k in sorted(per_kind))
    )
    assert positives >= 100
    assert recall >= 0.95
    assert false_masks == []  # prices, dates, years, versions, counts are never masked


def test_configured_order_pattern(settings):
    mask = make_masker([r"(?i)бронь\s+([A-Z0-9]{6})"])
    assert mask("Моя бронь X7K2P9 пропала") == "Моя бронь [ORDER] пропала"
    assert mask("Бронь на завтра") == "Бронь на завтра"


def test_luhn():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    # a Luhn-invalid 16-digit number is not a card
    assert mask_pii("счёт 4111 1111 1111 1112") == "счёт 4111 1111 1111 1112"


def test_mask_is_idempotent(settings):
    for text, _ in _rows():
        once = mask_pii(text, settings)
        assert mask_pii(once, settings) == once
