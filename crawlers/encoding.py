"""Bytes → text for pages that may be cp1251, koi8-r or UTF-8, declared or not.

Order (as browsers do): an explicit override, a BOM, the HTTP header charset, a <meta> charset, then
strict UTF-8, then a Cyrillic sniff choosing between cp1251 and koi8-r by letter statistics.
"""

from __future__ import annotations

import codecs
import re

_META = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_\-]+)""", re.I)
_HEADER = re.compile(r"charset\s*=\s*[\"']?([a-zA-Z0-9_\-]+)", re.I)
_XML_DECL = re.compile(rb"""<\?xml[^>]+encoding=["']([a-zA-Z0-9_\-]+)""", re.I)
# the most frequent lowercase Russian letters; a wrong 8-bit decoding turns them into capitals or symbols
_COMMON_RU = set("оеаинтсрвлкмдпуяыь")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
ALIASES = {"win-1251": "cp1251", "windows-1251": "cp1251", "x-cp1251": "cp1251", "koi8r": "koi8-r",
           "utf8": "utf-8", "iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252"}


def normalise(name: str | None) -> str | None:
    if not name:
        return None
    n = name.strip().lower()
    n = ALIASES.get(n, n)
    try:
        return codecs.lookup(n).name
    except LookupError:
        return None


def declared_encoding(body: bytes, content_type: str | None = None) -> str | None:
    """The charset the server or the page itself declares (header wins over <meta>)."""
    if content_type:
        m = _HEADER.search(content_type)
        if m and normalise(m.group(1)):
            return normalise(m.group(1))
    head = body[:4096]
    m = _META.search(head) or _XML_DECL.search(head)
    return normalise(m.group(1).decode("ascii", "ignore")) if m else None


def sniff_cyrillic(body: bytes) -> str:
    """cp1251 or koi8-r, whichever decodes to more common lowercase Russian letters."""
    best, best_score = "cp1251", -1
    for enc in ("cp1251", "koi8-r"):
        text = body.decode(enc, errors="replace")
        score = sum(1 for ch in text if ch in _COMMON_RU)
        if score > best_score:
            best, best_score = enc, score
    return best


def detect_encoding(body: bytes, content_type: str | None = None, override: str | None = None) -> str:
    if override and normalise(override):
        return normalise(override)  # type: ignore[return-value]
    for bom, enc in _BOMS:
        if body.startswith(bom):
            return enc
    declared = declared_encoding(body, content_type)
    if declared:
        return declared
    try:
        body.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if any(b >= 0xC0 for b in body[:65536]):
        return sniff_cyrillic(body)
    return "cp1252"


def decode_html(body: bytes, content_type: str | None = None, override: str | None = None) -> tuple[str, str]:
    """Return (text, encoding used). Undecodable bytes become U+FFFD rather than failing the page."""
    enc = detect_encoding(body, content_type, override)
    return body.decode(enc, errors="replace"), enc
