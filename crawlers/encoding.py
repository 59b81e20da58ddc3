"""Bytes → text for pages in UTF-8, cp1251, koi8-r, cp866 or Latin-1: declared, undeclared or mislabelled.

The real web's declarations lie more often than its bytes do (a forum moved to UTF-8 keeps its old
`<meta charset=windows-1251>` template; a server adds `charset=ISO-8859-1` to everything), so the order is:

1. an explicit override (sources.yaml `encoding`, `brandmon parse --encoding`);
2. a byte order mark;
3. a declared encoding that is not ASCII-compatible (UTF-16/32 when the bytes have its NULs, ISO-2022-*): for
   those bytes UTF-8 validity means nothing (UTF-16 Cyrillic without a BOM is valid ASCII); UTF-16 markup without
   a BOM or a declaration is recognised by its NULs;
4. bytes that decode as valid UTF-8;
5. the HTTP Content-Type charset;
6. the page's <meta> charset (or XML declaration);
7. a sniff: Cyrillic words (high bytes in runs) → cp1251, koi8-r or cp866 by letter frequency; else cp1252.

A declared single-byte charset is believed only when the bytes do not contradict it: a Latin-1 declaration over
Cyrillic words, or a Cyrillic one that reads far worse than another Cyrillic charset, gives way to the sniff.
Mixed pages are read piecewise: a mostly-UTF-8 page reads its stray legacy bytes in the sniffed 8-bit charset
(not as U+FFFD), and a cp1251/koi8-r/Latin page reads embedded runs of UTF-8 (two or more multi-byte
characters, which such text practically never forms) as UTF-8.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from functools import lru_cache

_META = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_\-]+)""", re.I)
_HEADER = re.compile(r"charset\s*=\s*[\"']?([a-zA-Z0-9_\-]+)", re.I)
_XML_DECL = re.compile(rb"""<\?xml[^>]+encoding=["']([a-zA-Z0-9_\-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
ALIASES = {
    "win-1251": "cp1251",
    "windows-1251": "cp1251",
    "x-cp1251": "cp1251",
    "koi8r": "koi8-r",
    "utf8": "utf-8",
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "x-user-defined": "cp1252",
    "ibm866": "cp866",
    "866": "cp866",
}
# Python codec names (codecs.lookup(...).name)
_NOT_ASCII_COMPATIBLE = {
    "utf-16",
    "utf-16-le",
    "utf-16-be",
    "utf-32",
    "utf-32-le",
    "utf-32-be",
    "utf-7",
    "iso2022_jp",
    "iso2022_jp_1",
    "iso2022_jp_2",
    "iso2022_jp_2004",
    "iso2022_jp_3",
    "iso2022_jp_ext",
    "iso2022_kr",
    "hz",
}
_CYRILLIC_8BIT = ("cp1251", "koi8-r", "cp866")
_ALSO_CYRILLIC = {"koi8-u", "iso8859-5", "mac-cyrillic"}
_UTF8_LOOKALIKE = {"cp866"}  # its ordinary words are valid UTF-8 runs: no UTF-8 is read inside such a page
_LATIN_8BIT = {"cp1252", "iso8859-1", "iso8859-15"}
_UTF8_CHAR = rb"(?:[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3})"
_UTF8_RUN = re.compile(_UTF8_CHAR + b"+")
_HIGH_RUN = re.compile(rb"[\x80-\xff]{2,}")
_ASCII = bytes(range(128))
_HIGH = bytes(range(128, 256))
# byte classes for _may_hold_utf8_text: a ASCII, c continuation, 2/3/4 lead of a 2/3/4-byte character, x never
_CLASSES = bytes.maketrans(
    bytes(range(256)), b"a" * 128 + b"c" * 64 + b"xx" + b"2" * 30 + b"3" * 16 + b"4" * 5 + b"x" * 11
)
_UTF8_TEXT_HINTS = (b"2c2", b"2c3", b"2c4", b"3cc2", b"3cc3", b"3cc4", b"4ccc")
_HINTS_3 = frozenset(h for h in _UTF8_TEXT_HINTS if len(h) == 3)
_HINTS_4 = frozenset(h for h in _UTF8_TEXT_HINTS if len(h) == 4)
_FEW_CONTINUATIONS = 200  # above this, the seven substring searches are the cheaper pre-check
_SNIFF_BYTES = 65536
_CHECK_HIGH = 512
# Russian letter frequencies (per cent of letters in running text)
_FREQ = dict(
    zip(
        "оеаинтсрвлкмдпуяыьгзбчйхжшюцщэфъё",
        (
            10.97,
            8.45,
            8.01,
            7.35,
            6.70,
            6.26,
            5.47,
            4.73,
            4.54,
            4.40,
            3.49,
            3.21,
            2.98,
            2.81,
            2.62,
            2.01,
            1.90,
            1.74,
            1.70,
            1.65,
            1.59,
            1.44,
            1.21,
            0.97,
            0.94,
            0.73,
            0.64,
            0.48,
            0.36,
            0.32,
            0.26,
            0.04,
            0.04,
        ),
    )
)
_TEXT_PUNCT = set("«»—–…№\u00a0„“”‘’•·°©®™€")  # what legacy Russian pages really hold besides letters


def _weights(enc: str) -> bytes:
    """A translation table: byte 0x80-0xFF -> its weight class when read in `enc` (see _CLASS_VALUES): a common
    lowercase Russian letter much, a rare one little, capitals and punctuation nothing, anything else against.
    Scoring is then a translate and a few counts in C, not a Python loop over the page."""
    table = bytearray(256)
    for b in range(128, 256):
        ch = bytes([b]).decode(enc, errors="replace")
        if ch in _FREQ:
            table[b] = max(1, round(_FREQ[ch]))
        elif ch.lower() in _FREQ or ch in _TEXT_PUNCT:
            table[b] = 0
        else:
            table[b] = _JUNK
    return bytes(table)


_JUNK = 100  # class of bytes that read as symbols: scored -3
_CLASS_VALUES = {**{k: k for k in range(1, 12)}, _JUNK: -3}
_WEIGHTS = {enc: _weights(enc) for enc in _CYRILLIC_8BIT + tuple(sorted(_ALSO_CYRILLIC))}


def normalise(name: str | None) -> str | None:
    if not name:
        return None
    n = name.strip().lower()
    n = ALIASES.get(n, n)
    try:
        return codecs.lookup(n).name
    except LookupError:
        return None


def header_charset(content_type: str | None) -> str | None:
    if content_type:
        m = _HEADER.search(content_type)
        if m:
            return normalise(m.group(1))
    return None


def meta_charset(body: bytes) -> str | None:
    head = body[:4096]
    m = _META.search(head) or _XML_DECL.search(head)
    return normalise(m.group(1).decode("ascii", "ignore")) if m else None


def declared_encoding(body: bytes, content_type: str | None = None) -> str | None:
    """The charset the server or the page itself declares (header wins over <meta>)."""
    return header_charset(content_type) or meta_charset(body)


def _letter_scores(high: bytes, encodings=_CYRILLIC_8BIT) -> dict[str, float]:
    """Mean Russian-likeness per high byte of `high` read in each of `encodings`."""
    if not high:
        return {enc: 0.0 for enc in encodings}
    out = {}
    for enc in encodings:
        classes = high.translate(_WEIGHTS[enc])
        out[enc] = sum(v * classes.count(k) for k, v in _CLASS_VALUES.items()) / len(high)
    return out


def sniff_cyrillic(body: bytes) -> str:
    """cp1251, koi8-r or cp866, whichever reads the high bytes as the most Russian-looking letters."""
    scores = _letter_scores(body[:_SNIFF_BYTES].translate(None, _ASCII))
    return max(_CYRILLIC_8BIT, key=lambda enc: scores[enc])


def _looks_cyrillic(body: bytes) -> bool:
    """High bytes sit in words (runs), as Cyrillic letters do, not alone among Latin ones (é, ü, ß)."""
    chunk = body[:_SNIFF_BYTES]
    high = len(chunk) - len(chunk.translate(None, _HIGH))
    if not high:
        return False
    in_runs = sum(len(m) for m in _HIGH_RUN.findall(chunk))
    return in_runs >= 0.5 * high


def _single_byte(body: bytes, header: str | None, meta: str | None) -> str:
    """The 8-bit charset of a body that is not (mostly) UTF-8: a declaration the bytes do not contradict, else
    the sniff."""
    cyrillic = None  # computed once, when needed
    scores: dict[str, float] | None = None
    for declared in (header, meta):
        if not declared or declared in ("utf-8", "utf-8-sig", "ascii"):
            continue  # declared UTF-8 or ASCII, but the bytes are neither
        if declared in _LATIN_8BIT:
            if cyrillic is None:
                cyrillic = _looks_cyrillic(body)
            if cyrillic:
                continue  # "ISO-8859-1" over Russian words: a server default, not the page's charset
            return declared
        if declared in _WEIGHTS:
            if scores is None:  # a gross mismatch shows in the first few hundred letters
                scores = _letter_scores(
                    body[:_SNIFF_BYTES].translate(None, _ASCII)[:_CHECK_HIGH], tuple({*_CYRILLIC_8BIT, declared})
                )
            best = max(_CYRILLIC_8BIT, key=lambda enc: scores[enc])
            if scores[declared] >= 0.5 * scores[best] or scores[best] <= 0:
                return declared
            continue  # e.g. koi8-r bytes under a windows-1251 meta: reads as capitals and symbols
        return declared  # any other charset (cp1250, greek, CJK …): nothing to check it against
    if cyrillic is None:
        cyrillic = _looks_cyrillic(body)
    return sniff_cyrillic(body) if cyrillic else "cp1252"


def _fallback_handler(enc: str) -> str:
    """A codecs error handler that reads undecodable UTF-8 bytes in `enc` instead of U+FFFD."""
    name = f"brandmon-as-{enc}"
    try:
        codecs.lookup_error(name)
    except LookupError:
        codecs.register_error(name, _legacy_bytes_reader(enc))
    return name


def _legacy_bytes_reader(enc: str) -> Callable[[UnicodeError], tuple[str, int]]:
    def read(e: UnicodeError) -> tuple[str, int]:
        if not isinstance(e, UnicodeDecodeError):  # registered for decoding only
            raise e
        return e.object[e.start : e.end].decode(enc, errors="replace"), e.end

    return read


def _utf8_with_legacy_bytes(body: bytes, header: str | None, meta: str | None) -> str:
    legacy = _UTF8_RUN.sub(b"", body)  # the bytes that are not UTF-8 decide their own charset
    return body.decode("utf-8", errors=_fallback_handler(_single_byte(legacy, header, meta)))


def _utf8_blocks(body: bytes, runs: list[re.Match]) -> list[tuple[int, int]]:
    """Spans of `body` to read as UTF-8 inside a legacy page: runs of UTF-8 characters with only ASCII between
    them, kept when one of them is text-like (4+ bytes: two or more characters, or an emoji), which legacy text
    practically never forms (cp1251 would need a capital followed by punctuation, twice). A lone 2- or 3-byte
    match stays legacy: "В" + no-break space, "её»" are ordinary cp1251 text."""
    blocks: list[tuple[int, int]] = []
    start = end = -1
    keep = False
    for m in runs:
        s, e = m.span()
        if start >= 0 and body[end:s].isascii():
            end, keep = e, keep or e - s >= 4
            continue
        if keep:
            blocks.append((start, end))
        start, end, keep = s, e, e - s >= 4
    if keep:
        blocks.append((start, end))
    return blocks


def _legacy_with_utf8_blocks(body: bytes, enc: str, blocks: list[tuple[int, int]]) -> str:
    parts, at = [], 0
    for s, e in blocks:
        parts.append(body[at:s].decode(enc, errors="replace"))
        parts.append(body[s:e].decode("utf-8", errors="replace"))
        at = e
    parts.append(body[at:].decode(enc, errors="replace"))
    return "".join(parts)


def _utf16_without_bom(body: bytes) -> str | None:
    """utf-16-le/-be when the head is ASCII markup in 16-bit units (every other byte NUL), else None."""
    head = body[:1024]
    if len(head) < 16 or head.count(0) < len(head) // 8:  # markup and Latin text: every other byte
        return None
    odd, even = head[1::2].count(0), head[0::2].count(0)
    if odd > 3 * even:
        return "utf-16-le"
    if even > 3 * odd:
        return "utf-16-be"
    return None


def _may_hold_utf8_text(body: bytes) -> bool:
    """Cheap pre-check (byte classes and substring search, no regex over the page) for a UTF-8 character
    followed by another one, or an emoji: the exact search runs only where this says yes.

    Every hint starts with a lead byte and a continuation byte ("c"). Continuation bytes are rare in legacy text
    (cp1251 letters are 0xC0-0xFF), so where there are few, the windows at each of them are looked at: one scan
    for "c", where seven substring searches through a page full of lead-byte classes cost ~0.1 ms."""
    classes = body.translate(_CLASSES)
    if classes.count(b"c") > _FEW_CONTINUATIONS:
        return any(h in classes for h in _UTF8_TEXT_HINTS)
    j = classes.find(b"c", 1)
    while j >= 0:
        if classes[j - 1 : j + 2] in _HINTS_3 or classes[j - 1 : j + 3] in _HINTS_4:
            return True
        j = classes.find(b"c", j + 1)
    return False


def decode(body: bytes, content_type: str | None = None, override: str | None = None) -> tuple[str, str]:
    """(text, charset): see the module docstring for the order. Undecodable bytes become U+FFFD, never an error.
    The charset named is the page's main one (a mixed page says which one its legacy part was read in)."""
    forced = normalise(override)
    if forced:
        return body.decode(forced, errors="replace"), forced
    for bom, enc in _BOMS:
        if body.startswith(bom):
            return body.decode(enc, errors="replace"), enc
    header, meta = header_charset(content_type), meta_charset(body)
    wide = _utf16_without_bom(body)
    nul = b"\x00" in body[:1024]
    for declared in (header, meta):
        # UTF-16/32 markup is full of NUL bytes; a "utf-16" label over bytes readable as ASCII is a wrong label
        if declared in _NOT_ASCII_COMPATIBLE and (nul or not declared.startswith(("utf-16", "utf-32"))):
            enc = wide if declared == "utf-16" and wide else declared  # no BOM: the byte order the NULs show
            return body.decode(enc, errors="replace"), enc
    if wide:
        return body.decode(wide, errors="replace"), wide
    try:
        return body.decode("utf-8"), "utf-8"  # valid UTF-8 (plain ASCII too: the same text in any such charset)
    except UnicodeDecodeError:
        pass
    for declared in (header, meta):
        if declared and declared not in ("utf-8", "utf-8-sig") and not _is_single_byte(declared):
            return body.decode(declared, errors="replace"), declared  # GBK, Shift_JIS, Big5 …: their own rules
    high = len(body) - len(body.translate(None, _HIGH))
    as_utf8 = body.decode("utf-8", errors="replace")
    replaced = as_utf8.count("\ufffd")
    bad = replaced - body.count("\ufffd".encode())
    # at most a fifth of the high bytes not UTF-8: a UTF-8 page with a legacy include or a stray byte. cp866
    # Russian is valid UTF-8 by chance for up to a third of its high bytes ("р-я" are lead bytes, "а-п"
    # continuations), cp1251 and koi8-r practically never
    if bad <= 0.2 * high:
        return _utf8_with_legacy_bytes(body, header, meta), "utf-8"
    enc = _single_byte(body, header, meta)
    # some character read as UTF-8 is neither ASCII nor U+FFFD: non-ASCII characters outnumber the U+FFFDs
    other = len(as_utf8) - len(as_utf8.encode("ascii", "ignore")) > replaced
    if enc not in _UTF8_LOOKALIKE and other and _may_hold_utf8_text(body):
        blocks = _utf8_blocks(body, list(_UTF8_RUN.finditer(body)))
        if blocks:
            return _legacy_with_utf8_blocks(body, enc, blocks), enc
    return body.decode(enc, errors="replace"), enc


@lru_cache(maxsize=64)
def _is_single_byte(enc: str) -> bool:
    try:
        return len(_HIGH.decode(enc, errors="replace")) == 128
    except (LookupError, TypeError):
        return False


def detect_encoding(body: bytes, content_type: str | None = None, override: str | None = None) -> str:
    return decode(body, content_type, override)[1]


def decode_html(body: bytes, content_type: str | None = None, override: str | None = None) -> tuple[str, str]:
    """Return (text, encoding used). Undecodable bytes become U+FFFD rather than failing the page."""
    return decode(body, content_type, override)
