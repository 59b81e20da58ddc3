"""Crawl extensions: progress lines on stdout (JSON, read by `crawlers.run` for the CLI's display), and redirect
loops recorded as errors."""

from __future__ import annotations

import json
import sys

from scrapy import signals
from twisted.internet import task
from w3lib.url import canonicalize_url

from crawlers.pipelines import WRITTEN_STAT


class ProgressExtension:
    def __init__(self, crawler, interval: float = 0.5):
        self.crawler = crawler
        self.interval = interval
        self._loop = None
        crawler.signals.connect(self.opened, signal=signals.spider_opened)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def emit(self) -> None:
        sp = self.crawler.spider
        stats = self.crawler.stats
        src = getattr(sp, "source", None)
        line = {
            "progress": True,
            "source": getattr(src, "name", None),
            "pages": getattr(sp, "pages", 0),
            "items": stats.get_value(WRITTEN_STAT, 0),
            "errors": len(getattr(sp, "errors", [])),
        }
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()

    def opened(self, spider):
        self._loop = task.LoopingCall(self.emit)
        self._loop.start(self.interval, now=True)

    def closed(self, spider, reason):
        if self._loop and self._loop.running:
            self._loop.stop()
        self.emit()


class RedirectLoopRecorder:
    """A redirect back to a URL already in its own redirect chain is dropped by Scrapy's duplicate filter without
    a word, so a page caught in a loop used to vanish from a run that ended `ok` with 0 errors. It becomes one of
    the spider's errors (`RedirectLoop`, with the chain), counted like any failed request."""

    def __init__(self, crawler):
        self.crawler = crawler
        crawler.signals.connect(self.dropped, signal=signals.request_dropped)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def dropped(self, request, spider=None):
        chain = request.meta.get("redirect_urls")
        if not chain or canonicalize_url(request.url) not in {canonicalize_url(u) for u in chain}:
            return  # not a redirect, or one to a page fetched elsewhere in this crawl: nothing was lost
        errors = getattr(self.crawler.spider, "errors", None)
        if errors is not None:
            errors.append(
                {
                    "url": chain[0],
                    "error": "RedirectLoop",
                    "status": None,
                    "message": "redirect loop: " + " -> ".join([*chain, request.url])[:300],
                    "retries": 0,
                }
            )
        self.crawler.stats.inc_value("brandmon/redirect_loops")
