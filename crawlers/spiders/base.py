"""The one crawling loop every spider shares; subclasses only choose the parser (engine) and the entry pages.

A page is either a *listing* (boards, topic lists, article indexes, feeds: they give thread links) or a
*thread* page (posts/comments: they give items). Incremental re-crawl, per source:
- listings are always fetched (they are few and tell what changed);
- a thread whose listing row is unchanged since the last crawl is not requested at all;
- a changed thread is re-entered at its last known page (with If-None-Match/If-Modified-Since), and only posts
  newer than the thread's last seen post are yielded; a thread not read to its end (page budget, a failed page)
  is re-entered at the first page it did not read;
- a page's own next pages (a thread's, a listing's, a channel's history) are not discovery hops: DEPTH_LIMIT
  does not stop them (crawlers/depth.py), the source's page budget (`max_pages`) does;
- state changes are collected in `state_updates` and persisted by the runner after the crawl.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

import scrapy
from scrapy.http import Request, Response
from scrapy.selector import Selector
from scrapy.settings.default_settings import SPIDER_MIDDLEWARES_BASE

from crawlers.batch import PageItems
from crawlers.encoding import decode_html
from crawlers.parsers import PageResult, ParseContext, ParseError, crosscheck, read_page
from crawlers.parsers.base import ThreadLink
from pipeline.config import SourceConfig

GAP = "#gap:"  # state key infix of a newest-first history's unread stretch (newest_first_page)
_NUMERIC_ID = re.compile(r"(?:[A-Za-z_-]{0,8}|[\w.-]+/)(\d+)")


def _post_key(pid: str) -> tuple[int, str]:
    """Engine post ids grow with time ("123", "post-123", "channel/123"); hash-like ids are not comparable (-1)."""
    m = _NUMERIC_ID.fullmatch(pid or "")
    return (int(m.group(1)) if m else -1, pid)


class SourceSpider(scrapy.Spider):
    name = "source"
    engine = "auto"  # parser name for thread/listing pages
    follow_links = False  # generic crawling of same-host links (bounded by depth/page budget)
    newest_first = False  # pages list newest posts first (Telegram): stop paging at known posts
    # DEPTH_LIMIT counts discovery hops only: requests for a page's own next pages carry `same_depth`, which
    # Scrapy's DepthMiddleware would count as one more hop each (60-page threads stopped at page 13)
    custom_settings = {
        "SPIDER_MIDDLEWARES_BASE": {
            **{k: v for k, v in SPIDER_MIDDLEWARES_BASE.items() if not k.endswith(".DepthMiddleware")},
            "crawlers.depth.DiscoveryDepthMiddleware": SPIDER_MIDDLEWARES_BASE[
                "scrapy.spidermiddlewares.depth.DepthMiddleware"
            ],
        }
    }

    def __init__(
        self,
        source: SourceConfig | dict,
        run_id: str = "adhoc",
        state: dict | None = None,
        since: str | None = None,
        now: str | None = None,
        default_tz: str = "Europe/Moscow",
        max_pages: int = 0,
        **kw: Any,
    ):
        super().__init__(**kw)
        self.source = source if isinstance(source, SourceConfig) else SourceConfig.model_validate(source)
        self.run_id = run_id
        if self.source.engine and self.source.engine != "auto" and self.source.kind in ("forum", "discourse"):
            self.engine = self.source.engine
        self.start_urls = list(self.source.start_urls)
        hosts = {urlparse(u).hostname for u in self.start_urls} | set(self.source.allowed_domains)
        self.allowed_hosts = {h.lower() for h in hosts if h}
        self.local_ok = self.source.local
        self.max_pages = self.source.max_pages or max_pages
        self.follow_links = bool(self.source.options.get("follow_links", self.follow_links))
        self.since = datetime.fromisoformat(since) if since else None
        self.now = datetime.fromisoformat(now) if now else None
        self.tz = self.source.timezone or default_tz
        state = state or {}
        self.page_state: dict[str, dict] = state.get("pages", {})
        self.thread_state: dict[str, dict] = state.get("threads", {})
        self.state_updates: dict[str, dict] = {}  # page URL -> page state
        self.thread_updates: dict[str, dict] = {}  # thread key -> thread state
        self.errors: list[dict] = []
        self.pages = 0
        self.parse_seconds = 0.0  # time in decoding + parsing (the benchmark's parse-vs-network share)
        self.universal_pages = 0  # pages the universal extractor read: no engine claimed them, or it read them better
        self.universal_runs = 0  # pages an engine parser read that the universal extractor checked too
        self.started = time.monotonic()
        self.unchanged = 0
        self._pending_chunks: dict[str, int] = {}
        self._gaps: dict[str, list[tuple[str, dict]]] | None = None

    # ------------------------------------------------------------------------------------------ plumbing

    def ctx(self, response: Response | None = None) -> ParseContext:
        return ParseContext(
            source=self.source.name,
            kind=self.source.kind,
            tz=self.tz,
            now=self.now or datetime.now(UTC),
            language=self.source.language,
            run_id=self.run_id,
            fetched_at=datetime.now(UTC).isoformat(timespec="seconds"),
            selectors=self.source.selectors,
        )

    def request(
        self, url: str, callback, *, role: str, unconditional: bool = False, errback=None, **meta: Any
    ) -> Request:
        return Request(
            url,
            callback=callback,
            errback=errback or self.on_error,
            meta={"role": role, "unconditional": unconditional, **meta},
        )

    async def start(self):
        for url in self.start_urls:
            yield self.request(url, self.parse_page, role="start", unconditional=True)  # a listing or a thread

    def on_error(self, failure) -> None:
        req = failure.request
        if "robots.txt" in str(failure.value):
            return  # a politeness decision, not a failure (counted in stats as robotstxt/forbidden)
        resp = getattr(failure.value, "response", None)
        self.errors.append(
            {
                "url": req.url,
                "error": type(failure.value).__name__,
                "status": resp.status if resp is not None else None,
                "message": str(failure.value)[:300],
                "retries": req.meta.get("retry_times", 0),
            }
        )
        self.logger.warning("failed %s: %s", req.url, failure.value)

    def text_of(self, response: Response) -> str:
        ctype = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        text, _ = decode_html(response.body, ctype, self.source.encoding)
        return text

    def remember_page(self, response: Response, body_hash: str) -> None:
        st = self.state_updates.setdefault(response.url, {"kind": "page"})
        etag = response.headers.get(b"ETag")
        lm = response.headers.get(b"Last-Modified")
        st.update(
            etag=etag.decode("latin-1") if etag else None,
            last_modified=lm.decode("latin-1") if lm else None,
            content_hash=body_hash,
        )

    # ------------------------------------------------------------------------------------------ parsing

    def parse_with_engine(self, text: str, url: str, role: str = "listing") -> PageResult:
        # the engine parser's reading, or the universal extractor's where that one finds no posts on a thread page
        # or clearly worse ones (the same rule as `brandmon parse`; each such page is logged with its URL)
        runs = crosscheck.SAMPLER.extractions
        used, res = read_page(text, url, self.engine, self.ctx(), role)
        self.universal_runs += crosscheck.SAMPLER.extractions - runs
        if used == "generic" and self.engine != "generic":
            self.universal_pages += 1
        return res

    def parse_page(self, response: Response) -> Iterator[Any]:
        self.pages += 1
        role = response.meta.get("role", "listing")
        if response.status == 304:
            self.unchanged += 1
            return
        body_hash = hashlib.sha1(response.body).hexdigest()[:20]
        if role == "thread":
            prev = self.page_state.get(response.url)
            if prev and prev.get("content_hash") == body_hash and not response.meta.get("walk"):
                self.unchanged += 1
                return
            self.remember_page(response, body_hash)
        t0 = time.perf_counter()
        try:
            text = self.text_of(response)
            res = self.parse_with_engine(text, response.url, role)
        except ParseError as e:
            self.errors.append(
                {
                    "url": response.url,
                    "error": "ParseError",
                    "status": response.status,
                    "message": str(e)[:300],
                    "retries": 0,
                }
            )
            return
        finally:
            self.parse_seconds += time.perf_counter() - t0
        if res.items:
            yield from self.thread_page(response, res)
        else:
            yield from self.listing_page(response, res)
        if self.follow_links:
            yield from self.follow_all(response, text)

    def thread_page(self, response: Response, res: PageResult) -> Iterator[Any]:
        meta = response.meta
        thread_key = meta.get("thread_key") or res.thread_url or response.url
        prior = self.thread_state.get(thread_key, {})
        # a gap's page is new down to the posts read below the gap (all of it, in the gap of a first crawl)
        last_seen = meta.get("gap_stop") if meta.get("gap") else prior.get("last_post_id")
        items = res.items
        if last_seen:
            ids = [it.post_id for it in items]
            if _post_key(last_seen)[0] >= 0:
                # numeric ids grow: newer replies anywhere on the page (nested comments too) are the new ones;
                # a non-numeric item (the article itself) was already taken when the thread was first seen
                items = [it for it in items if _post_key(it.post_id)[0] > _post_key(last_seen)[0]]
            elif last_seen in ids:
                items = items[ids.index(last_seen) + 1 :]
        official = self.source.options.get("official_authors") or []
        batch = PageItems(page_url=response.url)
        for it in items:
            if self.since and it.posted_at and datetime.fromisoformat(it.posted_at) < self.since:
                continue
            if it.author and it.author in official:
                it.is_official_answer = True  # the brand's own account: a response in KPIs, never escalated
            batch.items.append(it)
        if batch.items:
            yield batch  # one Scrapy item per page (crawlers/batch.py); the raw layer still has one line a post
        page_no = meta.get("page_no", 1)
        upd = self.thread_updates.setdefault(
            thread_key,
            {"kind": "thread", **{k: prior.get(k) for k in ("last_post_id", "pages", "last_page_url", "content_hash")}},
        )
        if self.newest_first:
            yield from self.newest_first_page(response, res, thread_key, upd, reached_known=len(items) < len(res.items))
            return
        if res.items:
            newest = max((it.post_id for it in res.items), key=_post_key)
            if not upd.get("last_post_id") or _post_key(newest) > _post_key(upd["last_post_id"]):
                upd["last_post_id"] = newest
        if res.next_url and res.next_url != response.url:
            # progress: a thread cut short (page budget, a failed page, an interrupted run) is re-entered
            # at the page it stopped before, not at page 1; no content_hash yet, so it is re-entered at all
            upd.update(pages=page_no + 1, last_page_url=res.next_url, content_hash=None)
            yield self.next_page(response, res.next_url, thread_key)
        else:
            self.thread_complete(response, upd)
        for extra in res.extra_urls:  # more of the same thread (Discourse post chunks): not a discovery hop
            yield self.request(
                extra, self.parse_page, role="thread", thread_key=thread_key, page_no=page_no, same_depth=True
            )

    def next_page(self, response: Response, url: str, thread_key: str, **meta: Any) -> Request:
        """The request for a thread's (or history's) next page: the same thread, not a discovery hop."""
        walk = {"unconditional": True, "walk": True} if response.meta.get("walk") or meta.get("walk") else {}
        return self.request(
            url,
            self.parse_page,
            role="thread",
            thread_key=thread_key,
            page_no=response.meta.get("page_no", 1) + 1,
            listing_hash=response.meta.get("listing_hash"),
            same_depth=True,
            **{**meta, **walk},
        )

    def thread_complete(self, response: Response, upd: dict) -> None:
        upd.update(pages=response.meta.get("page_no", 1), last_page_url=response.url)
        if response.meta.get("listing_hash") is not None:
            upd["content_hash"] = response.meta["listing_hash"]  # the thread is complete up to this listing state

    def newest_first_page(
        self, response: Response, res: PageResult, thread_key: str, upd: dict, reached_known: bool
    ) -> Iterator[Request]:
        """Paging of a history that lists its newest posts first (a channel). Each crawl reads from the newest page
        down to the posts it read before; then it continues the history's gaps. A walk the page budget cuts leaves
        a gap: a state row `<thread>#gap:<post id>` with the oldest page not read yet (`last_page_url`) and the
        newest post read below it (`last_post_id`; the gap of a first crawl goes down to the history's start).
        Later crawls continue each open gap from its page, oldest direction, until they meet the posts below it
        or the history's first post, and then close it (`last_page_url` NULL), until the history is whole."""
        meta = response.meta
        nxt = res.next_url if res.next_url and res.next_url != response.url else None
        gap = meta.get("gap")
        if gap:  # a page of a gap: older than what the crawl read from the top
            older = (
                self.since
                and res.items
                and all(it.posted_at and datetime.fromisoformat(it.posted_at) < self.since for it in res.items)
            )
            cursor = None if reached_known else nxt  # None: the gap is closed
            stop = meta.get("gap_stop")
            self.thread_updates[gap] = {"kind": "thread", "last_page_url": cursor, "last_post_id": stop}
            if cursor and not older:
                yield self.next_page(response, cursor, thread_key, gap=gap, gap_stop=stop, walk=True)
            return
        last_seen = self.thread_state.get(thread_key, {}).get("last_post_id")
        if res.items:
            newest = max((it.post_id for it in res.items), key=_post_key)
            if not upd.get("last_post_id") or _post_key(newest) > _post_key(upd["last_post_id"]):
                upd["last_post_id"] = newest
        own_gap = f"{thread_key}{GAP}{last_seen or 'start'}"  # what this walk leaves if the budget cuts it
        if nxt and not reached_known:
            self.thread_updates[own_gap] = {"kind": "thread", "last_page_url": nxt, "last_post_id": last_seen}
            yield self.next_page(response, nxt, thread_key, walk=True)
            return
        self.thread_complete(response, upd)
        if own_gap in self.thread_updates:
            self.thread_updates[own_gap]["last_page_url"] = None  # the walk met the known posts after all
        for key, st in self.open_gaps(thread_key):
            if not nxt:  # the history's first post is on this page: nothing older is left unread
                self.thread_updates[key] = {"kind": "thread", "last_page_url": None, "last_post_id": st["last_post_id"]}
            elif key not in self.thread_updates:
                self.thread_updates[key] = {"kind": "thread", **st}
                yield self.next_page(
                    response, st["last_page_url"], thread_key, gap=key, gap_stop=st["last_post_id"], walk=True
                )

    def open_gaps(self, thread_key: str) -> list[tuple[str, dict]]:
        """The gaps earlier crawls left in a newest-first history: (state key, {last_page_url, last_post_id})."""
        if self._gaps is None:
            self._gaps = {}
            for key, st in self.thread_state.items():
                if GAP in key and st.get("last_page_url"):
                    self._gaps.setdefault(key.split(GAP)[0], []).append(
                        (key, {"last_page_url": st["last_page_url"], "last_post_id": st.get("last_post_id")})
                    )
        return self._gaps.get(thread_key, [])

    def listing_page(self, response: Response, res: PageResult) -> Iterator[Any]:
        for link in res.thread_links:
            yield from self.enter_thread(link)
        for board in res.board_links:
            yield self.request(board, self.parse_page, role="listing", unconditional=True)
        if res.next_url and res.next_url != response.url:
            yield self.request(res.next_url, self.parse_page, role="listing", unconditional=True, same_depth=True)

    def enter_thread(self, link: ThreadLink) -> Iterator[Request]:
        st = self.thread_state.get(link.url)
        if st and link.listing_hash and st.get("content_hash") == link.listing_hash:
            self.unchanged += 1
            return  # nothing new in this thread since the last crawl
        if st and st.get("last_page_url") and st["last_page_url"] != link.url:
            yield self.request(
                st["last_page_url"],
                self.parse_page,
                role="thread",
                thread_key=link.url,
                page_no=st.get("pages") or 1,
                listing_hash=link.listing_hash,
                errback=self.on_reentry_error,
            )
        else:
            yield self.request(
                link.url, self.parse_page, role="thread", thread_key=link.url, page_no=1, listing_hash=link.listing_hash
            )

    def on_reentry_error(self, failure) -> Iterator[Request]:
        """A known thread's remembered page is gone (posts deleted: fewer pages now): the thread is read again
        from its first page, where only posts newer than the last seen are kept. Other failures are recorded."""
        req = failure.request
        resp = getattr(failure.value, "response", None)
        if resp is None or resp.status not in (404, 410):
            self.on_error(failure)
            return
        self.logger.info("%s is gone; reading thread %s from its first page", req.url, req.meta["thread_key"])
        # unconditional, and walked through pages that did not change (walk): their next links are needed
        yield self.request(
            req.meta["thread_key"],
            self.parse_page,
            role="thread",
            thread_key=req.meta["thread_key"],
            page_no=1,
            listing_hash=req.meta.get("listing_hash"),
            same_depth=True,
            unconditional=True,
            walk=True,
        )

    def follow_all(self, response: Response, text: str) -> Iterator[Request]:
        try:  # the page as the parser read it (crawlers/encoding.py), not Scrapy's own charset guess
            hrefs = Selector(text=text, base_url=response.url).css("a::attr(href)").getall()
        except (AttributeError, ValueError):
            return
        for h in hrefs:
            url = response.urljoin(h)
            if urlparse(url).scheme in ("http", "https"):
                yield self.request(url.split("#")[0], self.parse_page, role="listing", unconditional=True)

    # ------------------------------------------------------------------------------------------ summary

    def summary(self) -> dict:
        by_kind: dict[str, int] = {}
        for e in self.errors:
            key = f"{e['error']}{'/' + str(e['status']) if e.get('status') else ''}"
            by_kind[key] = by_kind.get(key, 0) + 1
        return {
            "pages": self.pages,
            "unchanged": self.unchanged,
            "errors": len(self.errors),
            "elapsed_seconds": round(time.monotonic() - self.started, 4),
            "parse_seconds": round(self.parse_seconds, 4),
            "universal_pages": self.universal_pages,
            "universal_runs": self.universal_runs,
            "error_kinds": by_kind,
            "error_samples": self.errors[:20],
        }
