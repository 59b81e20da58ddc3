"""PII masking before text reaches the database.

`mask_pii(text, settings)` replaces e-mails with [EMAIL], phone numbers (Russian and international formats)
with [PHONE], Luhn-valid card numbers with [CARD] and order/tracking numbers (regexes in
`Settings.ingest.order_patterns`) with [ORDER]. Prices, dates, years, versions, times and ordinary counts are
left alone: phones need a phone-shaped digit grouping and 10-15 digits, cards need 13-19 digits and a valid
Luhn checksum.

Who applies it: ingest masks every document before it is stored. The raw layer (data/raw) is written by the
crawler; when `Settings.crawl.keep_original_text` is False the crawler's raw writer should call `mask_pii` on
`text`/`quoted` before writing, so no un-masked text is kept anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.config import Settings

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-zА-Яа-я]{2,}(?![\w])")

# Candidate digit runs: digits with spaces, dashes, dots or brackets between, optionally after '+'.
_DIGITS = re.compile(r"(?<![\w+.,/:])(\+?\(?\d[\d\s().-]{8,24}\d)(?![\w/]|[.,:]\d)")
_HAS_RUN = re.compile(r"\d[\d\s().+-]{7,}\d")
_ANY_DIGIT = re.compile(r"\d")

# Phone shapes (after the candidate is found): Russian +7/8 followed by 10 digits in 3-3-2-2 / 3-7 / 4-6
# groupings, memorable numbers grouped freely after a Russian area code ("8 (800) 2000-600", "8-800-555-3535",
# "8 800 100-0-100"; the caller checks there are 11 digits), or an international +CC number.
_RU_PHONE = re.compile(
    r"^(?:\+7|8|7)[\s-]?(?:\(\d{3,5}\)|\d{3,5})[\s-]?\d{1,3}(?:[\s-]?\d{2}){2}$|^(?:\+7|8)\d{10}$"
    r"|^(?:\+7|8|7)[\s-]?(?:\([3489]\d{2}\)|[3489]\d{2})[\s-]?\d{1,4}(?:[\s-]\d{1,4}){1,3}$"
)
_INTL_PHONE = re.compile(r"^\+\d{1,3}[\s-]?(?:\(\d{1,4}\)[\s-]?)?\d{1,4}(?:[\s-]?\d{2,4}){1,4}$")
# 4-4-4-4(+) groupings, Amex 4-6-5 and Diners 4-6-4, or one run; the Luhn checksum decides
_CARD = re.compile(r"^\d{4}(?:[\s-]?\d{4}){2}[\s-]?\d{1,7}$|^\d{4}[\s-]?\d{6}[\s-]?\d{4,5}$|^\d{13,19}$")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _classify_digits(s: str) -> str | None:
    s = s.strip()
    digits = re.sub(r"\D", "", s)
    n = len(digits)
    if 13 <= n <= 19 and _CARD.match(s) and luhn_ok(digits):
        return "[CARD]"
    if n == 11 and _RU_PHONE.match(s):
        return "[PHONE]"
    if 10 <= n <= 15 and s.startswith("+") and _INTL_PHONE.match(s):
        return "[PHONE]"
    if n == 10 and re.match(r"^\(\d{3}\)\s?\d{3}[\s-]?\d{2}[\s-]?\d{2}$|^9\d{2}[\s-]\d{3}[\s-]\d{2}[\s-]\d{2}$", s):
        return "[PHONE]"  # (912) 345-67-89 / 912 345-67-89 without the country prefix
    return None


def _digit_repl(m: re.Match) -> str:
    s = m.group(1)
    core = s.rstrip(" .-()")
    tail = s[len(core) :]
    # An opening bracket glued to a non-phone ("(см. 2024)") is not part of the number.
    token = _classify_digits(core)
    if token is None and core.startswith("(") and ")" not in core:
        inner = _classify_digits(core[1:])
        return "(" + inner + tail if inner else s
    return token + tail if token else s


@lru_cache(maxsize=16)
def _order_regexes(patterns: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    out = []
    for p in patterns:
        try:
            out.append(re.compile(p))
        except re.error as e:
            raise ValueError(f"ingest.order_patterns: bad regex {p!r}: {e}") from None
    return tuple(out)


def _order_repl(m: re.Match) -> str:
    if m.re.groups and m.group(1) is not None:
        s, e = m.span(1)
        base = m.start()
        whole = m.group(0)
        return whole[: s - base] + "[ORDER]" + whole[e - base :]
    return "[ORDER]"


def make_masker(order_patterns: list[str] | tuple[str, ...] = ()) -> Callable[[str], str]:
    """A masking function with the order regexes compiled once (ingest uses one per run)."""
    orders = _order_regexes(tuple(order_patterns))

    def mask(text: str) -> str:
        if "@" in text:
            text = EMAIL.sub("[EMAIL]", text)
        if not _ANY_DIGIT.search(text):  # most posts: phones, cards and order numbers all need a digit
            return text
        if not _HAS_RUN.search(text):
            # no long digit run: only order numbers with letters (RA123456789RU) can remain
            for rx in orders:
                text = rx.sub(_order_repl, text)
            return text
        for rx in orders:
            text = rx.sub(_order_repl, text)
        return _DIGITS.sub(_digit_repl, text)

    return mask


def mask_pii(text: str, settings: Settings | None = None) -> str:
    """Mask e-mails, phones, card numbers and order numbers in `text` (see the module docstring)."""
    patterns = tuple(settings.ingest.order_patterns) if settings is not None else ()
    return make_masker(patterns)(text)
