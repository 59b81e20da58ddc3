"""What the models read: the window around a brand mention, with the brand span marked.

Targeted sentiment needs to know *which* entity the opinion is about; wrapping the mention in markers lets the
model learn "the sentiment toward the marked thing" (trained on SentiRuEval's per-company labels). Long posts are
cut to a window centred on the mention, never truncated from the start; with ``windows`` > 1 a long text is
also read in further, longer windows spread across it (``model_windows``), and the scorer averages them.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def model_input(text: str, span: tuple[int, int] | None = None, target: str | None = None, max_chars: int = 400) -> str:
    """The string a scorer tokenizes: prefix + windowed text with the target span marked."""
    text = text or ""
    if span is None and target:
        span = find_span(text, target)
    w, s = window(text, span, max_chars)
    return PREFIX + mark(w, s)


CHARS_PER_TOKEN = 4.4  # Russian/English forum text through e5's tokenizer: 128 tokens fill ~560 characters


@dataclass
class Windows:
    """One text's model inputs: the mention's window first, and the token limit they are read with."""

    inputs: list[str]
    max_tokens: int


def model_windows(
    text: str,
    span: tuple[int, int] | None = None,
    target: str | None = None,
    max_chars: int = 400,
    max_tokens: int = 64,
    windows: int = 1,
    window_tokens: int = 128,
) -> Windows:
    """How a scorer reads one text. A text that fits the scorer's own window (``max_chars``) is one input of
    ``max_tokens``, exactly ``model_input``. A longer one, with ``windows`` > 1, is read in up to ``windows``
    windows of ``window_tokens`` tokens: the first centred on the mention, the others at evenly spaced places
    across the text (the target marked where it falls inside one); no more windows than the text fills."""
    text = text or ""
    if span is None and target:
        span = find_span(text, target)
    if windows <= 1 or len(text) <= max_chars:
        return Windows([model_input(text, span, max_chars=max_chars)], max_tokens)
    chars = int(window_tokens * CHARS_PER_TOKEN)
    out = [model_input(text, span, max_chars=chars)]
    k = min(windows, -(-len(text) // chars))
    if k > 1:
        main, _ = window(text, span, chars)
        m0 = max(0, text.find(main))
        # k evenly spaced starts; the one nearest the mention's window is that window itself
        starts = [round(i * (len(text) - chars) / (k - 1)) for i in range(k)]
        starts.remove(min(starts, key=lambda s: abs(s - m0)))
        for s in starts:
            if s > 0:  # begin at a word
                sp = text.find(" ", s, s + 40)
                s = sp + 1 if sp >= 0 else s
            end = min(len(text), s + chars)
            if end < len(text):
                sp = text.rfind(" ", s + chars // 2, end)
                end = sp if sp > 0 else end
            inner = (span[0] - s, span[1] - s) if span and s <= span[0] and span[1] <= end else None
            out.append(PREFIX + mark(text[s:end], inner))
    return Windows(out, window_tokens)
