"""Text normalisation and the scored context window. Pure functions, no I/O.

`normalize_text` is what every document goes through before hashing, matching and storage: HTML entities
decoded, unicode NFC, invisible/control characters dropped, runs of spaces collapsed (line breaks kept as
single newlines so paragraphs survive), emoji untouched.
"""

from __future__ import annotations

import html
import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200d\u2060\ufeff\u00ad]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_NEWLINES = re.compile(r"\s*\n\s*")
_KEY_WORD = re.compile(r"\w+")


def normalize_text(text: str) -> str:
    if "&" in text:
        text = html.unescape(text)
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    if text.isprintable():
        # every control, invisible, line-break and non-ASCII space character is unprintable: the common
        # single-line post only needs runs of plain spaces folded
        if "  " in text:
            text = _SPACES.sub(" ", text)
        return text.strip()
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _SPACES.sub(" ", text)
    if "\n" in text:
        text = _NEWLINES.sub("\n", text)
    return text.strip()


def dedup_key(text: str) -> str:
    """The form exact duplicates share: lowercase, ё→е, punctuation and spacing removed."""
    # the words joined by single spaces: the same string as replacing every run of non-word characters with
    # a space and stripping, at less cost
    return " ".join(_KEY_WORD.findall(text.lower().replace("ё", "е")))


_SENTENCE_END = re.compile(r"[.!?…]+[\"»)\]]*\s+|\n")


def context_window(text: str, start: int, end: int, chars: int) -> tuple[str, int]:
    """The text around [start, end) the models score: up to `chars` characters each side, cut at a sentence
    boundary when one falls in the outer half of the window, else at a word boundary.

    Returns (context, offset of the context in text).
    """
    n = len(text)
    lo = max(0, start - chars)
    hi = min(n, end + chars)
    if lo > 0:
        left = text[lo:start]
        half = len(left) // 2
        cut = None
        for m in _SENTENCE_END.finditer(left, 0, half + 1):
            cut = m.end()
            break
        if cut is None:
            sp = left.find(" ")
            cut = sp + 1 if 0 <= sp < half else 0
        lo += cut
    if hi < n:
        right = text[end:hi]
        half = len(right) // 2
        cut = None
        for m in _SENTENCE_END.finditer(right, half):
            cut = m.start() + len(m.group().rstrip())
        if cut is None:
            sp = right.rfind(" ")
            cut = sp if sp >= half else len(right)
        hi = end + cut
    ctx = text[lo:hi]
    lead = len(ctx) - len(ctx.lstrip())
    return ctx.strip(), lo + lead
