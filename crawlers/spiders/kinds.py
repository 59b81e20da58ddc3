"""Spider per engine / kind. Each is the shared crawl loop plus its parser and entry behaviour."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from scrapy.http import Response

from crawlers.parsers import PageResult
from crawlers.parsers.base import ThreadLink
from crawlers.parsers.feed import parse_feed
from crawlers.parsers.telegram import discussion_url, is_discussion_url
from crawlers.spiders.base import SourceSpider


class ForumSpider(SourceSpider):
    """Any HTML forum; the engine is detected per page (use the named subclasses when it is known)."""

    name = "forum"
    engine = "auto"


class VBulletinSpider(ForumSpider):
    name = "vbulletin"
    engine = "vbulletin"


class PhpbbSpider(ForumSpider):
    name = "phpbb"
    engine = "phpbb"


class XenforoSpider(ForumSpider):
    name = "xenforo"
    engine = "xenforo"


class IpbSpider(ForumSpider):
    name = "ipb"
    engine = "ipb"


class SmfSpider(ForumSpider):
    name = "smf"
    engine = "smf"


class DiscourseSpider(SourceSpider):
    """Discourse JSON API: latest.json (paged by more_topics_url) → topic JSON → posts.json chunks."""

    name = "discourse"
    engine = "discourse"


class TelegramSpider(SourceSpider):
    """t.me/s/<channel> preview pages, newest first, paged by ?before=<id> until known posts.

    With `options.discussions: true` it also reads the comments under channel posts (the linked discussion
    group's comments widget), re-fetching a post's widget only when its comments counter changed since the last
    crawl; only comments newer than the last one seen are yielded (the thread state per widget URL)."""

    name = "telegram"
    engine = "telegram"
    newest_first = True

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        self._discussions_requested: set[str] = set()  # a post can show on two pages of one crawl

    def thread_page(self, response: Response, res: PageResult) -> Iterator[Any]:
        if is_discussion_url(response.url) and response.meta.get("post_title"):
            for it in res.items:  # the widget has no title of its own: name the post the comments are under
                it.thread_title = response.meta["post_title"]
        yield from super().thread_page(response, res)
        if not self.source.options.get("discussions") or is_discussion_url(response.url):
            return
        limit = int(self.source.options.get("comments_limit", 100))
        for it in res.items:  # every post on the page: old posts get new comments too
            if not it.replies:
                continue
            url = discussion_url(it.url, limit)
            if url in self._discussions_requested:
                continue
            self._discussions_requested.add(url)
            st = self.thread_state.get(url)
            if st and st.get("content_hash") == str(it.replies):
                self.unchanged += 1
                continue  # same counter as last time: no new comments
            title = " ".join((it.text or "").split())
            title = title if len(title) <= 80 else title[:79].rstrip() + "…"
            yield self.request(
                url,
                self.parse_page,
                role="thread",
                thread_key=url,
                page_no=1,
                listing_hash=str(it.replies),
                post_title=f"{it.thread_title}: {title}" if it.thread_title else title,
            )


class CommentsSpider(SourceSpider):
    """Article/video comment threads from CSS selectors in sources.yaml (`selectors`); nested replies and
    paginated comments; article listings via the `article` selector."""

    name = "comments"
    engine = "comments"

    def parse_with_engine(self, text: str, url: str, role: str = "listing") -> PageResult:
        res = super().parse_with_engine(text, url, role)
        only_article = [i for i in res.items if i.extra.get("item_type") == "article"]
        if res.thread_links and len(only_article) == len(res.items):
            res.items = []  # a listing page that matched the article body selector is still a listing
        return res


class FeedSpider(SourceSpider):
    """RSS/Atom feed → each entry's page (comments selectors when given, else the page's main text)."""

    name = "feed"
    engine = "feed"

    def parse_with_engine(self, text: str, url: str, role: str = "listing") -> PageResult:
        if self._is_feed(text):
            # the text is already decoded: drop the XML declaration so its charset is not applied twice
            entries = parse_feed(re.sub(r"^\s*<\?xml[^>]*\?>", "", text).encode("utf-8"), url)
            return PageResult(
                thread_links=[
                    ThreadLink(url=e.url, title=e.title, listing_hash=f"{e.published}|{e.entry_id}") for e in entries
                ]
            )
        from crawlers.parsers import parse_page

        engine = "comments" if self.source.selectors.get("comment") else "generic"
        res = parse_page(text, url, engine, self.ctx())
        return res

    @staticmethod
    def _is_feed(text: str) -> bool:
        head = text.lstrip()[:500].lower()
        return (
            head.startswith("<?xml")
            and ("<rss" in text[:2000].lower() or "<feed" in text[:2000].lower())
            or head.startswith("<rss")
            or head.startswith("<feed")
        )


class GenericSpider(SourceSpider):
    """Unknown pages: main text via trafilatura; follows same-host links when `options.follow_links`."""

    name = "generic"
    engine = "generic"

    def listing_page(self, response: Response, res: PageResult) -> Iterator[Any]:
        return iter(())
