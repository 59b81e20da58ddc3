"""Progress lines on stdout (JSON), read by `crawlers.run` to drive the CLI's progress display."""

from __future__ import annotations

import json
import sys

from scrapy import signals
from twisted.internet import task

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
        line = {"progress": True, "source": getattr(src, "name", None), "pages": getattr(sp, "pages", 0),
                "items": stats.get_value(WRITTEN_STAT, 0), "errors": len(getattr(sp, "errors", []))}
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()

    def opened(self, spider):
        self._loop = task.LoopingCall(self.emit)
        self._loop.start(self.interval, now=True)

    def closed(self, spider, reason):
        if self._loop and self._loop.running:
            self._loop.stop()
        self.emit()
