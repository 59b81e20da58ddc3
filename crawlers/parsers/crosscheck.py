"""Engine parsers checked against the universal extractor on a sample of pages; a disagreement is logged with
the page's URL, so a theme change or a parser bug shows up in the crawl log instead of as silently lost posts.

Sampled (the universal extractor costs 16-29 ms a page, an engine parser 2-4 ms; benchmarks/universal.py): the
first page with posts of each source in each run, and suspect pages, at most `MAX_SUSPECT` of them a run: a page
with a next page but at most one post (a full thread page shows more), or with navigation links but no posts and
no threads (a theme the engine's selectors miss).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from crawlers.parsers.base import PageResult, ParseContext

log = logging.getLogger("crawlers.parsers.crosscheck")
MAX_SUSPECT = 5
_NOT_CHECKED = {"generic", "comments", "telegram", "discourse"}  # no universal reading to compare, or JSON


@dataclass
class Disagreement:
    url: str
    engine: str
    engine_posts: int
    engine_first_author: str | None
    universal_posts: int
    universal_first_author: str | None
    method: str
    universal: PageResult | None = None  # the universal extractor's reading of the page


def completeness(res: PageResult) -> float:
    """Share of a result's posts that have an author, a date and some text: a parser that counts an advert or a
    page box as a post, or misses a field, scores lower."""
    posts = _posts(res)
    if not posts:
        return 0.0
    return sum(1 for p in posts if p.author and p.posted_at and (p.text or p.quoted)) / len(posts)


class Sampler:
    """Which pages of a run to cross-check; one per process (crawls run one Scrapy process per source group)."""

    def __init__(self) -> None:
        self.first_seen: set[tuple[str, str | None]] = set()
        self.suspects: dict[tuple[str, str | None], int] = {}

    def wants(self, engine: str, res: PageResult, ctx: ParseContext) -> bool:
        if engine in _NOT_CHECKED:
            return False
        key = (ctx.source, ctx.run_id)
        if res.items and key not in self.first_seen:
            if len(self.first_seen) > 10_000:
                self.first_seen.clear()
            self.first_seen.add(key)
            return True
        # a thread page that should show more posts, or a page of navigation only (a theme the selectors miss)
        if not res.thread_links and (len(res.items) <= 1 and res.next_url or not res.items and res.board_links):
            n = self.suspects.get(key, 0)
            if n < MAX_SUSPECT:
                self.suspects[key] = n + 1
                return True
        return False


SAMPLER = Sampler()


def _posts(res: PageResult) -> list:
    return [it for it in res.items if (it.extra or {}).get("item_type") != "article"]


def cross_check(engine: str, res: PageResult, text: str, url: str, ctx: ParseContext) -> Disagreement | None:
    """Parse the page with the universal extractor too; log and return the disagreement on post count or first
    author, None when both agree (or the universal extractor found no records to compare)."""
    from crawlers.parsers import universal

    try:
        ext = universal.extract(text, url, ctx, with_article=False)
    except Exception as e:  # noqa: BLE001 - a check must never cost the page its engine reading
        log.warning("universal extractor failed on %s: %s", url, e)
        return None
    if ext.method in ("none", "main-text"):
        return None
    mine, theirs = _posts(res), _posts(ext.result)
    a = (mine[0].author or "").strip() if mine else None
    b = (theirs[0].author or "").strip() if theirs else None
    if len(mine) == len(theirs) and (a or "").casefold() == (b or "").casefold():
        return None
    d = Disagreement(url, engine, len(mine), a, len(theirs), b, ext.method, ext.result)
    log.warning(
        "parsers disagree on %s: %s found %d posts (first by %r), the universal extractor (%s) %d (first by %r)",
        url,
        engine,
        d.engine_posts,
        a,
        ext.method,
        d.universal_posts,
        b,
    )
    return d
