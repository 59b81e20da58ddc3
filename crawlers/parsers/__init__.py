"""Pure page parsers: text + URL → `PageResult` (items, next page, thread links). No network, no Scrapy.

`parse_page(text, url, engine="auto", ctx=None)` picks the engine from the markup when asked to. A page no engine
claims goes to the universal extractor (`generic`, i.e. `crawlers.parsers.universal`); engine parsers are fast
paths, cross-checked against it on a sample of pages (`crawlers.parsers.crosscheck`).
"""

from __future__ import annotations

from dataclasses import replace
from importlib import import_module

from crawlers.dates import numeric_date_order
from crawlers.parsers import crosscheck
from crawlers.parsers.base import PageResult, ParseContext, ParseError, ThreadLink

ENGINES = (
    "vbulletin",
    "phpbb",
    "smf",
    "xenforo",
    "ipb",
    "mybb",
    "nodebb",
    "discourse",
    "telegram",
    "comments",
    "generic",
)
_DETECTABLE = ("telegram", "xenforo", "ipb", "vbulletin", "phpbb", "smf", "mybb", "nodebb", "discourse")
ALIASES = {
    "phpbb2": "phpbb",
    "phpbb3": "phpbb",
    "smf2": "smf",
    "vb": "vbulletin",
    "vb5": "vbulletin",
    "xf": "xenforo",
    "xf2": "xenforo",
    "invision": "ipb",
    "ips": "ipb",
    "tg": "telegram",
}
# Every value a source's `engine` may take (`brandmon config check` refuses others).
ENGINE_NAMES = frozenset(("auto", *ENGINES, *ALIASES))


def engine_module(engine: str):
    engine = ALIASES.get(engine, engine)
    if engine not in ENGINES:
        raise ParseError(f"unknown engine {engine!r}; one of: auto, {', '.join(ENGINES)}")
    return import_module(f"crawlers.parsers.{engine}")


def detect_engine(text: str) -> str:
    """Best-scoring engine for this page's markup; 'discourse' for JSON, 'generic' when nothing matches."""
    head = text.lstrip()[:1]
    if head in ("{", "["):
        return "discourse"
    scores = {e: engine_module(e).detect(text) for e in _DETECTABLE}
    best = max(scores, key=lambda e: scores[e])
    return best if scores[best] >= 4 else "generic"


def parse_page(text: str, url: str, engine: str = "auto", ctx: ParseContext | None = None) -> PageResult:
    ctx = ctx or ParseContext()
    if engine in (None, "", "auto"):
        engine = detect_engine(text)
    engine = ALIASES.get(engine, engine)
    res = _in_page_date_order(engine_module(engine).parse, text, url, ctx)
    if crosscheck.SAMPLER.wants(engine, res, ctx):
        crosscheck.cross_check(engine, res, text, url, ctx)
    return res


def _in_page_date_order(parse, text: str, url: str, ctx: ParseContext) -> PageResult:
    """Parse; when the page's own dates show the order of its all-numeric dates ("25-03-2013" is day first) and
    some ambiguous one was read the other way by default, parse again in that order (rare: one pass otherwise)."""
    res = parse(text, url, ctx)
    if ctx.date_order is None and res.items:
        raws = [it.posted_at_raw for it in res.items if it.posted_at_raw]
        order = numeric_date_order(raws)
        if order is not None:
            res = parse(text, url, replace(ctx, date_order=order))
    return res


def parse_any(text: str, url: str, ctx: ParseContext | None = None) -> tuple[str, PageResult]:
    """(engine used, result) for one page of unknown origin (`brandmon parse`). Detection scores markers, so a
    news page linking to a phpBB board ("viewtopic.php") scores as phpBB: when the detected engine finds nothing
    at all, the page is read as an unknown page instead, and when it finds links but no posts, the universal
    extractor's posts are taken if it finds some. Crawls keep plain `parse_page`: there an empty result (an empty
    board, a login wall) must stay empty."""
    ctx = ctx or ParseContext()
    engine = detect_engine(text)
    res = _in_page_date_order(engine_module(engine).parse, text, url, ctx)
    if engine not in ("generic", "discourse") and not (res.items or res.thread_links or res.board_links):
        return "generic", engine_module("generic").parse(text, url, ctx)
    if engine not in ("generic", "discourse") and not res.items and not res.thread_links:
        # navigation links but no posts and no threads: a thread page in a theme the engine's selectors miss, or a
        # board index; posts the universal extractor finds win when they have words of their own and are not
        # about as many as the boards (a board index's rows are its boards; a thread page's board links are its
        # navigation and jump menu, usually many more than its posts)
        uni = engine_module("generic").parse(text, url, ctx)
        posts = [it for it in uni.items if (it.extra or {}).get("item_type") != "article"]
        words = sorted(len(it.text or "") for it in posts)
        boards = len(res.board_links)
        if posts and words[len(words) // 2] >= 30 and not 0.5 * boards <= len(posts) <= 2 * boards:
            return "generic", uni
        return engine, res
    if engine not in crosscheck._NOT_CHECKED and res.items:
        d = crosscheck.cross_check(engine, res, text, url, ctx)
        # one page read on its own: when the two disagree, the reading whose posts are more complete (author, date,
        # text) wins; a themed board's parser that counts adverts as posts loses to the records' reading
        if (
            d is not None
            and d.universal is not None
            and d.universal_posts
            and crosscheck.completeness(d.universal) > crosscheck.completeness(res) + 0.1
        ):
            return "generic", engine_module("generic").parse(text, url, ctx)
    return engine, res


__all__ = [
    "ENGINES",
    "ENGINE_NAMES",
    "PageResult",
    "ParseContext",
    "ParseError",
    "ThreadLink",
    "detect_engine",
    "parse_any",
    "parse_page",
]
