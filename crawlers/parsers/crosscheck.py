"""Engine parsers checked against the universal extractor on a sample of pages; a disagreement is logged with
the page's URL, so a theme change or a parser bug shows up in the crawl log instead of as silently lost posts.

Sampled (the universal extractor costs 16-29 ms a page, an engine parser 2-4 ms; benchmarks/universal.py): the
first page with posts of each source in each run, and suspect pages, at most `MAX_SUSPECT` of them a run: a page
with a next page but at most one post (a full thread page shows more), or with navigation links but no posts and
no threads (a theme the engine's selectors miss).

`choose_reading` is the one rule for which reading of a page is kept, the engine parser's or the universal
extractor's: `brandmon parse` and `brandmon sources probe` (a page read alone) and crawls (every page whose engine
parser found no posts, and the sampled ones) all go through it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from crawlers.parsers.base import PageResult, ParseContext

log = logging.getLogger("crawlers.parsers.crosscheck")
MAX_SUSPECT = 5
NOT_CHECKED = frozenset({"generic", "comments", "telegram", "discourse"})  # no universal reading to compare, or JSON


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
        self.lost: set[tuple[str, str | None]] = set()  # sources whose engine reading lost on a page this run
        self.extractions = 0  # universal extractor runs in this process (a crawl's cost of the checks)

    def engine_lost(self, ctx: ParseContext) -> None:
        """The universal reading won on a page of this source: check every page of the source from now on (a theme
        the engine parser misreads is the whole site's, not one page's)."""
        if len(self.lost) > 10_000:
            self.lost.clear()
        self.lost.add((ctx.source, ctx.run_id))

    def wants(self, engine: str, res: PageResult, ctx: ParseContext) -> bool:
        if engine in NOT_CHECKED:
            return False
        key = (ctx.source, ctx.run_id)
        if key in self.lost:
            return True
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

    SAMPLER.extractions += 1
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


def choose_reading(
    engine: str,
    res: PageResult,
    text: str,
    url: str,
    ctx: ParseContext,
    *,
    role: str | None = None,
    check: bool = True,
) -> tuple[str, PageResult]:
    """The reading of a page to keep: `(engine, res)`, the engine parser's, or `("generic", …)`, the universal
    extractor's. One rule for a page read alone (`role` None: `brandmon parse`, `sources probe`) and for a crawl's
    pages (`role` "thread" for a page reached by a thread link or a thread's next page, "start" for a start URL,
    which may be either, else "listing"):

    - the engine found nothing at all: a page read alone is read as an unknown page (its records, else its main
      text: a news page that links to a board scores as that board's engine); a crawl takes only posts the
      universal extractor finds as records, so an empty board or a login wall stays empty;
    - navigation links but no posts and no threads: on a crawl's thread page, a theme the engine's selectors
      miss, so the universal posts win when they have words of their own; on a crawl's listing page, a board
      index, which stays the engine's (its board rows look like records too); on a page read alone or a crawl's
      start page, either, so the universal posts win only when they are not about as many as the boards (a board
      index's rows are its boards; a thread page's board links are its navigation and jump menu, usually many
      more than its posts), and on a start page when they are two or more (a board index's one category box is
      no thread);
    - posts, when `check` (a page read alone always; a crawl's sampled pages): cross-checked; on a disagreement
      the universal reading wins when its posts are more complete (author, date, text: a themed board's parser
      that counts adverts as posts loses) or when the engine found clearly fewer (at most half, and two less).

    The universal extractor runs only on those pages, so an engine page with posts or thread links that is not
    sampled costs nothing more. A crawl logs each page the universal reading takes over, with its URL."""
    if engine in ("generic", "discourse", "comments"):
        return engine, res  # the universal reading already, JSON, or the user's own selectors
    from crawlers.parsers import universal

    alone = role is None
    if not res.items and not res.thread_links:
        if alone and not res.board_links:
            return "generic", universal.parse(text, url, ctx)
        if role == "listing" and res.board_links:
            return engine, res
        ext = _extract(text, url, ctx)
        if ext is None or not _own_posts(ext.result, len(res.board_links) if role != "thread" else 0):
            return engine, res
        if role == "start" and len(_posts(ext.result)) < 2:
            return engine, res  # one record beside board links is a board index's category box, not a thread
        return _taken(engine, ext.result, text, url, ctx, alone, "found no posts", ext.method)
    if not check or engine in NOT_CHECKED or not res.items:
        return engine, res
    d = cross_check(engine, res, text, url, ctx)
    if d is None or d.universal is None or not d.universal_posts:
        return engine, res
    more_complete = completeness(d.universal) > completeness(res) + 0.1
    fewer = 2 * d.engine_posts <= d.universal_posts and d.engine_posts + 2 <= d.universal_posts
    if not (more_complete or fewer and completeness(d.universal) >= completeness(res) - 0.1):
        return engine, res
    return _taken(engine, d.universal, text, url, ctx, alone, f"found {d.engine_posts} posts", d.method)


def _extract(text: str, url: str, ctx: ParseContext):
    from crawlers.parsers import universal

    SAMPLER.extractions += 1
    try:
        return universal.extract(text, url, ctx, with_article=False)
    except Exception as e:  # noqa: BLE001 - a fallback must never cost the page its engine reading
        log.warning("universal extractor failed on %s: %s", url, e)
        return None


def _own_posts(uni: PageResult, boards: int) -> bool:
    """Posts with words of their own (a median of 30 characters), and not about as many as `boards` (if any)."""
    posts = _posts(uni)
    if not posts:
        return False
    words = sorted(len(it.text or "") for it in posts)
    return words[len(words) // 2] >= 30 and not (boards and 0.5 * boards <= len(posts) <= 2 * boards)


def _taken(
    engine: str, uni: PageResult, text: str, url: str, ctx: ParseContext, alone: bool, why: str, method: str
) -> tuple[str, PageResult]:
    if alone:  # read alone, the page's article above its comments is shown too
        from crawlers.parsers import universal

        return "generic", universal.parse(text, url, ctx)
    SAMPLER.engine_lost(ctx)
    log.warning(
        "%s %s on %s; read with the universal extractor (%s): %d posts", engine, why, url, method, len(_posts(uni))
    )
    return "generic", uni
