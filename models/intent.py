"""Intent: product question / failure or bug / complaint or conflict / praise / other (multi-label)."""

from __future__ import annotations

import numpy as np

from pipeline.labels import INTENTS

INTENT_LABELS = list(INTENTS)  # the head's output order


def decide(probs: np.ndarray, threshold: float = 0.5) -> list[str]:
    """The primary intent: the most probable label above the threshold, else 'other'."""
    out = []
    other = INTENT_LABELS.index("other")
    for row in probs:
        i = int(row.argmax())
        out.append(INTENT_LABELS[i] if row[i] >= threshold else INTENT_LABELS[other])
    return out
