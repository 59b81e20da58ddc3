"""Scraped text is never HTML: markdown with every markdown character escaped, and only http(s) URLs as links.
Pure functions (no Streamlit), tested against hostile input in tests/dashboard/test_hostile.py."""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=&\"'^%@/])")


_AUTOLINKISH = re.compile(r"(?i)\b(?:https?|ftp|www|mailto)|\.(?=\w)")


def md_escape(text: Any) -> str:
    """Escape every markdown-significant ASCII character, so scraped text renders as literal text."""
    s = "" if text is None or (isinstance(text, float) and pd.isna(text)) else str(text)
    # Streamlit's markdown links bare URLs, www. names and e-mails even when escaped: a word joiner (invisible,
    # U+2060) inside each such token keeps it plain text on screen; tables and exports keep the raw text.
    s = _AUTOLINKISH.sub("\\g<0>\u2060", s).replace("@", "\u2060@")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    return s.replace("\r", "").replace("\n", "  \n")


def highlight(context: str, span_start: Any, span_end: Any, matched: Any = None) -> str:
    """Markdown for the scored context with the brand span in bold; every scraped character escaped."""
    ctx = context or ""
    a, b = _span(ctx, span_start, span_end, matched)
    if a is None:
        return md_escape(ctx)
    return f"{md_escape(ctx[:a])}**{md_escape(ctx[a:b])}**{md_escape(ctx[b:])}"


def _span(ctx: str, a: Any, b: Any, matched: Any) -> tuple[int | None, int | None]:
    try:
        a, b = int(a), int(b)
    except (TypeError, ValueError):
        a = b = None
    if a is not None and 0 <= a < b <= len(ctx) and (not matched or ctx[a:b].lower() == str(matched).lower()):
        return a, b
    if matched and isinstance(matched, str):  # spans counted in the document, not the context window
        i = ctx.lower().find(matched.lower())
        if i >= 0:
            return i, i + len(matched)
    return None, None


_HTTP = re.compile(r"^https?://[^\s/?#\\]+", re.IGNORECASE)


def safe_url(u: Any) -> str | None:
    return u if isinstance(u, str) and _HTTP.match(u) and not any(c in u for c in "\r\n\t <>\"'`") else None


def safe_links(s: pd.Series) -> pd.Series:
    """Only http(s) URLs survive as links; anything else (javascript:, data:, //host) becomes empty."""
    ok = s.astype("string").str.match(_HTTP.pattern, case=False).fillna(False)
    bad_chars = s.astype("string").str.contains(r"[\s<>\"'`]", regex=True).fillna(True)
    return s.where(ok & ~bad_chars, None)
