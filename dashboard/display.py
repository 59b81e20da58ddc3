"""How rows read on the pages: missing values as None, timestamps, why a mention is there, chart colours."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pandas as pd

BRAND_COLORS = ["#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777"]
SENTIMENT_COLORS = {"negative": "#dc2626", "neutral": "#94a3b8", "positive": "#16a34a", "unscored": "#e2e8f0"}

ABOUT_NOTE = "The post does not name the brand: its source ties it to the brand (`about` in sources.yaml)."


THREAD_NOTES = {
    "thread_title": "The post does not name the brand: it is a reply in a thread whose title names it (inherited "
    "from the thread title).",
    "opening_post": "The post does not name the brand: it is a reply in a thread whose opening post names it "
    "(inherited from the opening post).",
}


def mention_note(matched: Any, via: Any) -> str | None:
    """Why a mention whose post does not name the brand is there: inherited from its thread (`via`), or its
    source's `about`; None for a mention from the post's own words."""
    if isinstance(via, str) and via:
        return THREAD_NOTES.get(via, f"The post does not name the brand: inherited from its thread ({via}).")
    return None if named_in_text(matched) else ABOUT_NOTE


def named_in_text(matched: Any) -> bool:
    """Whether the mention came from the post's own words (a span-less one comes from its source's `about`)."""
    return isinstance(matched, str) and bool(matched)


def record(row: pd.Series) -> Any:
    """A row as attributes with every missing value (NaN, NA, NaT) as None, so `x or "—"` is safe."""
    return SimpleNamespace(**{str(k): (None if _missing(v) else v) for k, v in row.items()})


def fmt_ts(ts: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "—" if ts is None or _missing(ts) else pd.Timestamp(ts).strftime(fmt)


def _missing(v: Any) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):  # lists/arrays are values, not missing
        return False
