"""Pure page parsers: text + URL → `PageResult` (items, next page, thread links). No network, no Scrapy.

`parse_page(text, url, engine="auto", ctx=None)` is one engine parser's reading (the engine picked from the markup
when asked to). A page no engine claims goes to the universal extractor (`generic`, i.e.
`crawlers.parsers.universal`); engine parsers are fast paths, and `crosscheck.choose_reading` decides when the
universal reading replaces theirs: `read_page` (crawls) and `parse_any` (a page read alone) both go through it.
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
    "pipermail",
    "telegram",
    "comments",
    "generic",
)
# the engines `detect_engine` scores, in this order of preference on a tie
DETECTABLE = ("telegram", "xenforo", "ipb", "vbulletin", "phpbb", "smf", "mybb", "nodebb", "discourse", "pipermail")
# a detector scores 2 points per engine marker found; detect_engine trusts two markers
DETECT_THRESHOLD = 4
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


def engine_scores(text: str) -> dict[str, int]:
    """Each engine detector's score for an HTML page, in `DETECTABLE` order (what `detect_engine` picks from)."""
    return {e: engine_module(e).detect(text) for e in DETECTABLE}


def detect_engine(text: str) -> str:
    """Best-scoring engine for this page's markup; 'discourse' for JSON, 'generic' when nothing matches."""
    head = text.lstrip()[:1]
    if head in ("{", "["):
        return "discourse"
    scores = engine_scores(text)
    best = max(scores, key=lambda e: scores[e])
    return best if scores[best] >= DETECT_THRESHOLD else "generic"


def parse_page(text: str, url: str, engine: str = "auto", ctx: ParseContext | None = None) -> PageResult:
    """The engine parser's reading of a page, as it is (`brandmon parse --engine`); crawls use `read_page`."""
    ctx = ctx or ParseContext()
    if engine in (None, "", "auto"):
        engine = detect_engine(text)
    engine = ALIASES.get(engine, engine)
    return _in_page_date_order(engine_module(engine).parse, text, url, ctx)


def read_page(
    text: str, url: str, engine: str = "auto", ctx: ParseContext | None = None, role: str = "listing"
) -> tuple[str, PageResult]:
    """(parser used, result) for one page of a crawl, requested as a `role` "listing", "thread" or "start" (a start
    URL, either) page: the engine parser's reading, or the universal extractor's where the engine parser found no
    posts on a thread page (or nothing at all), or on a sampled page where it reads clearly worse
    (`crosscheck.choose_reading`; the page is logged with its URL)."""
    ctx = ctx or ParseContext()
    if engine in (None, "", "auto"):
        engine = detect_engine(text)
    engine = ALIASES.get(engine, engine)
    res = _in_page_date_order(engine_module(engine).parse, text, url, ctx)
    check = crosscheck.SAMPLER.wants(engine, res, ctx)
    return crosscheck.choose_reading(engine, res, text, url, ctx, role=role, check=check)


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
    """(engine used, result) for one page of unknown origin read alone (`brandmon parse`, `sources probe`): the
    detected engine's reading, every page cross-checked with the universal extractor, which wins by the same rule
    as in crawls (`crosscheck.choose_reading`); a page of no posts or links of its detected engine is read as an
    unknown page, its main text included (a crawl keeps such a page empty)."""
    ctx = ctx or ParseContext()
    engine = detect_engine(text)
    res = _in_page_date_order(engine_module(engine).parse, text, url, ctx)
    return crosscheck.choose_reading(engine, res, text, url, ctx)


__all__ = [
    "DETECTABLE",
    "DETECT_THRESHOLD",
    "ENGINES",
    "ENGINE_NAMES",
    "PageResult",
    "ParseContext",
    "ParseError",
    "ThreadLink",
    "detect_engine",
    "engine_scores",
    "parse_any",
    "parse_page",
    "read_page",
]
