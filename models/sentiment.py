"""Targeted sentiment: labels, label normalisation and turning calibrated probabilities into a verdict."""

from __future__ import annotations

import numpy as np

from pipeline.labels import SENTIMENTS

SENTIMENT_LABELS = list(SENTIMENTS)  # the head's output order

_ALIASES = {
    "negative": "negative",
    "neg": "negative",
    "-1": "negative",
    "отрицательный": "negative",
    "негатив": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "0": "neutral",
    "нейтральный": "neutral",
    "нейтрально": "neutral",
    "positive": "positive",
    "pos": "positive",
    "1": "positive",
    "положительный": "positive",
    "позитив": "positive",
}


def normalise_sentiment(label) -> str | None:
    """Map a label case-insensitively onto negative/neutral/positive; None when it is not one of them."""
    if label is None or (isinstance(label, float) and np.isnan(label)):
        return None
    return _ALIASES.get(str(label).strip().lower())


def decide(probs: np.ndarray, unsure_threshold: float) -> tuple[list[str], np.ndarray]:
    """Labels (argmax) and the `unsure` flags (max probability below the threshold)."""
    idx = probs.argmax(1)
    return [SENTIMENT_LABELS[i] for i in idx], probs.max(1) < unsure_threshold
