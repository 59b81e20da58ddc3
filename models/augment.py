"""Label-preserving augmentation of training inputs.

Filler sentences: a scorer trained on tweets reads a forum post's extra sentences as part of the opinion. One
unrelated neutral sentence added to the company tweets' validation rows changed 10% of the shipped scorer's
sentiment labels (F1 pos/neg 0.737 -> 0.678). Sentiment toward the marked brand, and a post's intent, do not
change when an unrelated neutral sentence stands beside them, so some training rows get one: a short neutral
(sentiment) or `other` (intent) training row without a marked brand, before or after the text.
"""

from __future__ import annotations

import random
from typing import Any

from models.window import OPEN, PREFIX

FILLER_CHARS = (20, 120)  # short, whole sentences: a long filler would push the text out of the 64-token window
PREPEND_BELOW = 200  # characters: only a short text gets its filler in front, so the brand stays in the window


def body_of(text: str) -> str:
    """A model input without its prefix."""
    return text[len(PREFIX) :] if text.startswith(PREFIX) else text


def beside(body: str, filler: str, front: bool) -> str:
    """The model input with ``filler`` before ``body`` (when ``front`` and the text is short) or after it."""
    if front and len(body) < PREPEND_BELOW:
        return f"{PREFIX}{filler} {body}"
    return f"{PREFIX}{body} {filler}"


def filler_pool(examples: list[Any], task: str, part: str = "train") -> list[str]:
    """Rows of one part (training, or a held-out part for `models.filler_eval`) that can stand beside any text
    without changing its label: neutral (sentiment) or only `other` with every intent label annotated, no marked
    brand, no link, 20-120 characters."""
    from models.intent import INTENT_LABELS
    from models.sentiment import SENTIMENT_LABELS

    out = []
    for e in examples:
        if e.part != part:
            continue
        body = body_of(e.text).strip()
        if OPEN in body or "http" in body or not FILLER_CHARS[0] <= len(body) <= FILLER_CHARS[1]:
            continue
        if task == "sentiment":
            ok = e.y == SENTIMENT_LABELS.index("neutral")
        else:
            y = [float(v) for v in e.y]
            ok = e.mask is not None and min(float(v) for v in e.mask) > 0.5
            ok = ok and sum(y) == 1.0 and y[INTENT_LABELS.index("other")] == 1.0
        if ok:
            out.append(body)
    return sorted(set(out))


def add_fillers(examples: list[Any], task: str, rate: float, seed: int) -> int:
    """Give each training row, with probability ``rate``, one filler sentence (deterministic in ``seed``);
    held-out rows stay as they are. Returns how many rows got one."""
    if rate <= 0:
        return 0
    pool = filler_pool(examples, task)
    if not pool:
        return 0
    rng = random.Random(f"{seed}:filler")
    n = 0
    for e in examples:
        if e.part != "train" or rng.random() >= rate:
            continue
        filler = rng.choice(pool)
        front = rng.random() < 0.5
        body = body_of(e.text).strip()
        if body == filler:
            continue
        e.text = beside(body, filler, front)
        n += 1
    return n
