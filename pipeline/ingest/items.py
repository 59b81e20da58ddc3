"""Checking one raw item: type slips fixed, every string capped, names cleaned; or the reason it gives no document."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pipeline.normalize import clean_label, is_blank
from pipeline.rawlines import REQUIRED_FIELDS

INT_FIELDS = ("likes", "views", "replies", "reach")

# Every string field's cap in characters (text: Settings.ingest.max_text_chars). Real values stay far below:
# forum engines cap titles at 100-255 characters and names at 25-100; servers refuse request lines over 8 KiB
# (Scrapy itself skips URLs over 2,083). A longer value is junk or an attack, shown on every dashboard row.
MAX_TITLE_CHARS = 1_000
MAX_NAME_CHARS = 256
MAX_URL_CHARS = 8_192
MAX_TOKEN_CHARS = 256  # ids, dates, language codes, run ids
# What happens over the cap: "cut" keeps the value's head; "drop" stores NULL (a cut URL or id could point at
# something else, and these are optional); "reject" skips the row, for the fields a document's id is made of
# (a cut would merge distinct posts) — counted as `oversized_id`. Cut or dropped values count as `oversized`.
FIELD_CAPS: dict[str, tuple[int, str]] = {
    "source": (MAX_TOKEN_CHARS, "reject"),
    "post_id": (MAX_TOKEN_CHARS, "reject"),
    "url": (MAX_URL_CHARS, "reject"),
    "thread_url": (MAX_URL_CHARS, "reject"),
    "thread_title": (MAX_TITLE_CHARS, "cut"),
    "author": (MAX_NAME_CHARS, "cut"),
    "author_url": (MAX_URL_CHARS, "drop"),
    "reply_to": (MAX_TOKEN_CHARS, "drop"),
    "posted_at": (MAX_TOKEN_CHARS, "drop"),
    "fetched_at": (MAX_TOKEN_CHARS, "drop"),
    "language": (MAX_TOKEN_CHARS, "drop"),
    "run_id": (MAX_TOKEN_CHARS, "drop"),
    "thread_id": (MAX_TOKEN_CHARS, "drop"),
}
_LABELS = ("thread_title", "author")  # shown as names: cleaned of bidi controls and invisible characters
# one pass over the string fields (a number is made a string first): (field, cap, over the cap, a label)
_FIELD_RULES = tuple((f, cap, how, f in _LABELS) for f, (cap, how) in FIELD_CAPS.items())
# reasons a line gives no item; each is counted, and all of them make `bad_lines`
BAD_LINE_REASONS = ("bad_json", "wrong_type", "missing_field", "empty_text", "oversized_id", "oversized_line")


class Rejected(ValueError):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


def check_item(obj: Any, max_chars: int, problems: Counter) -> dict:
    """A clean item dict: fixable type slips fixed, strings capped (`FIELD_CAPS`), names and titles cleaned
    (`clean_label`). Raises Rejected (reason, message) for a line that gives no document."""
    if not isinstance(obj, dict):
        raise Rejected("wrong_type", f"a JSON {type(obj).__name__}, not an object")
    for f in REQUIRED_FIELDS:
        v = obj.get(f)
        if v is None or v == "":
            raise Rejected("missing_field", f"no {f!r}")
    if isinstance(obj["post_id"], (int, float)) and not isinstance(obj["post_id"], bool):
        obj["post_id"] = str(obj["post_id"])
    for f in REQUIRED_FIELDS:
        if not isinstance(obj[f], str):
            raise Rejected("wrong_type", f"{f!r} is {type(obj[f]).__name__}, not a string")
    text = obj["text"]
    if len(text) > max_chars:
        text = obj["text"] = text[:max_chars]
        problems["oversized"] += 1
    if is_blank(text):
        raise Rejected("empty_text", "text has no visible character")
    obj.pop("extra", None)  # not stored (and not worth sending to the helper processes)
    get = obj.get
    for f, cap, how, label in _FIELD_RULES:
        v = get(f)
        if v is None:
            continue
        if v.__class__ is not str and not isinstance(v, str):
            v = obj[f] = str(v) if isinstance(v, (int, float)) else None
            problems["coerced"] += 1
            if v is None:
                continue
        if len(v) > cap:
            if how == "reject":
                raise Rejected("oversized_id", f"{f!r} is {len(v):,} characters (at most {cap:,})")
            v = obj[f] = v[:cap] if how == "cut" else None
            problems["oversized"] += 1
        if label and v and not v.isprintable():
            obj[f] = clean_label(v) or None
    for f in INT_FIELDS:
        v = obj.get(f)
        if v is None or (isinstance(v, int) and not isinstance(v, bool)):
            continue
        try:
            obj[f] = int(float(str(v).replace(" ", "")))
        except (ValueError, OverflowError):
            obj[f] = None
        problems["coerced"] += 1
    r = obj.get("rating")
    if r is not None and not isinstance(r, (int, float)):
        try:
            obj["rating"] = float(r)
        except (TypeError, ValueError):
            obj["rating"] = None
        problems["coerced"] += 1
    q = obj.get("quoted")
    if q is not None and not isinstance(q, list):
        obj["quoted"] = []
        problems["coerced"] += 1
    return obj
