"""Text normalisation and the scored context window. Pure functions, no I/O.

`normalize_text` is what every document goes through before hashing, matching and storage: HTML entities
decoded, unicode NFC, invisible/control characters dropped, runs of spaces collapsed (line breaks kept as
single newlines so paragraphs survive), emoji untouched.

`is_blank` tells a text that would normalise to nothing (only spaces, zero-width and other invisible characters);
`clean_label` is what author names and thread titles go through: no bidi controls (a U+202E in a name shows the
rest of the line reversed), no invisible or control characters, whitespace runs as one space.
"""

from __future__ import annotations

import html
import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200d\u2060\ufeff\u00ad]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_NEWLINES = re.compile(r"\s*\n\s*")
_KEY_WORD = re.compile(r"\w+")
# Bidi embedding/override/isolate controls and marks: invisible, and they reorder what is shown after them
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
# invisible characters that are not whitespace (\s covers tab, line breaks and \x1c-\x1f)
_INVISIBLE = "\x00-\x08\x0e-\x1b\x7f\u00ad\u200b-\u200d\u2060\ufeff" + BIDI_CONTROLS
# the first character that survives normalisation, unless an '&' before it starts an entity ("&#8203;")
_VISIBLE = re.compile(rf"[^\s&{_INVISIBLE}]")
_LABEL_DROP = re.compile(f"[{_INVISIBLE}]")
_LABEL_SPACES = re.compile(r"\s+")


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


def is_blank(text: str) -> bool:
    """True when nothing visible is left of `text` after normalisation: spaces, zero-width characters (U+200B-D,
    U+2060, U+FEFF), bidi controls, control characters, or entities of those. Cheap for ordinary text: the search
    stops at its first visible character."""
    if text[:1].isalnum():  # most posts start with a letter or digit
        return False
    m = _VISIBLE.search(text)
    head = text if m is None else text[: m.start()]
    if "&" not in head:
        return m is None
    return _VISIBLE.search(normalize_text(text).replace("&", "x")) is None


def clean_label(value: str) -> str:
    """An author name or title without bidi controls, invisible or control characters; whitespace runs (line
    breaks included) as one space. A printable value has none of those and comes back as it is."""
    if value.isprintable():
        return value
    return _LABEL_SPACES.sub(" ", _LABEL_DROP.sub("", value)).strip()


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
