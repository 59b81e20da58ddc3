"""What the models read: the window around a brand mention, with the brand span marked.

Targeted sentiment needs to know *which* entity the opinion is about; wrapping the mention in markers lets the
model learn "the sentiment toward the marked thing" (trained on SentiRuEval's per-company labels). Long posts are
cut to a window centred on the mention, never truncated from the start.
"""

from __future__ import annotations

OPEN, CLOSE = "[[", "]]"
PREFIX = "query: "  # e5's prefix for classification-style inputs


def find_span(text: str, needle: str | None) -> tuple[int, int] | None:
    if not isinstance(needle, str) or not needle:
        return None
    i = text.lower().find(needle.lower())
    return (i, i + len(needle)) if i >= 0 else None


def mark(text: str, span: tuple[int, int] | None) -> str:
    if not span:
        return text
    a, b = span
    return f"{text[:a]}{OPEN}{text[a:b]}{CLOSE}{text[b:]}"


def window(text: str, span: tuple[int, int] | None, max_chars: int) -> tuple[str, tuple[int, int] | None]:
    """Cut ``text`` to at most ``max_chars`` around ``span`` (word boundaries where possible)."""
    if len(text) <= max_chars:
        return text, span
    if span is None:
        return text[:max_chars], None
    a, b = span
    room = max(0, max_chars - (b - a))
    start = max(0, a - room // 2)
    end = min(len(text), start + max_chars)
    start = max(0, end - max_chars)
    if start > 0:
        sp = text.find(" ", start, a)
        start = sp + 1 if sp >= 0 else start
    if end < len(text):
        sp = text.rfind(" ", b, end)
        end = sp if sp > 0 else end
    return text[start:end], (a - start, b - start)


def model_input(text: str, span: tuple[int, int] | None = None, target: str | None = None,
                max_chars: int = 400) -> str:
    """The string a scorer tokenizes: prefix + windowed text with the target span marked."""
    text = text or ""
    if span is None and target:
        span = find_span(text, target)
    w, s = window(text, span, max_chars)
    return PREFIX + mark(w, s)
