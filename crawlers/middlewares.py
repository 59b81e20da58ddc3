"""Downloader/spider middlewares: safety (schemes, hosts, non-public addresses), conditional requests, retries with
backoff, named redirect give-ups, per-source page budget. All built via `from_crawler`; per-source knobs come from
the spider."""

from __future__ import annotations

import asyncio

from scrapy import signals
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as _ScrapyMetaRefreshMiddleware
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware as _ScrapyRedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.response import response_status_message
from twisted.internet.threads import deferToThread

from crawlers.netguard import GUARD, NetGuard, url_refusal


class BlockedRequest(IgnoreRequest):
    """A request refused by a safety rule (scheme, host or address range)."""


class TooManyRedirects(IgnoreRequest):
    """A request given up after REDIRECT_MAX_TIMES redirects."""


class SafetyMiddleware:
    """Refuses non-http(s) schemes, hosts outside the source, and non-public addresses unless the source is local
    (crawlers/netguard.py; the connection then goes to the addresses checked here). Redirects are new requests, so
    they pass through here too. A host is resolved once a crawl, off the reactor thread; later requests to it are
    checked against that answer without waiting."""

    def __init__(self, crawler, guard: NetGuard | None = None):
        self.crawler = crawler
        self.guard = guard or GUARD

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request: Request, spider=None):
        sp = self.crawler.spider
        parsed = urlparse_cached(request)
        self._refuse(request, url_refusal(request.url, getattr(sp, "allowed_hosts", set()), parsed))
        host = parsed.hostname or ""
        if self.guard.answer(host) is None:
            return self._after_lookup(request, host)  # first request to this host: resolve, then check
        self._refuse(request, self.guard.refusal(host, getattr(sp, "local_ok", False)))
        return None

    async def _after_lookup(self, request: Request, host: str) -> None:
        await maybe_deferred_to_future(deferToThread(self.guard.resolve, host))
        self._refuse(request, self.guard.refusal(host, getattr(self.crawler.spider, "local_ok", False)))

    def _refuse(self, request: Request, why: str | None) -> None:
        if why:
            self.crawler.stats.inc_value("brandmon/blocked")
            raise BlockedRequest(f"blocked {request.url}: {why}")


class RedirectMiddleware(_ScrapyRedirectMiddleware):
    """Scrapy's, with a named error when a request runs out of redirects (Scrapy raises a bare IgnoreRequest, which
    reads like a deliberate skip in the run's error summary)."""

    def _redirect(self, redirected: Request, request: Request, reason):
        try:
            return super()._redirect(redirected, request, reason)
        except IgnoreRequest as e:
            chain = [*request.meta.get("redirect_urls", []), request.url]
            raise TooManyRedirects(f"more than {self.max_redirect_times} redirects from {chain[0]}") from e


class ConditionalRequestMiddleware:
    """Sends If-None-Match / If-Modified-Since for pages seen in an earlier crawl (spider.page_state)."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request: Request, spider=None):
        if request.meta.get("unconditional"):
            return None
        st = getattr(self.crawler.spider, "page_state", {}).get(request.url)
        if st:
            if st.get("etag"):
                request.headers.setdefault("If-None-Match", st["etag"])
            if st.get("last_modified"):
                request.headers.setdefault("If-Modified-Since", st["last_modified"])
        return None


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry (5xx/408/429 and network errors) with exponential backoff before each retry;
    honours Retry-After (capped). A given-up request reaches the spider's errback, which records it."""

    def __init__(self, settings):
        super().__init__(settings)
        self.base = settings.getfloat("BRANDMON_RETRY_BACKOFF", 1.0)
        self.cap = settings.getfloat("BRANDMON_RETRY_BACKOFF_MAX", 30.0)

    def _delay(self, request: Request, response=None) -> float:
        n = request.meta.get("retry_times", 0)
        d = min(self.cap, self.base * (2**n))
        if response is not None:
            ra = response.headers.get(b"Retry-After")
            if ra and ra.strip().isdigit():
                d = min(self.cap, max(d, float(ra)))
        return d

    # Scrapy (2.13+) awaits coroutine middleware methods; its stubs still declare the synchronous return types
    async def process_response(self, request: Request, response, spider=None):  # type: ignore[override]
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        delay = self._delay(request, response)
        new = self._retry(request, response_status_message(response.status))  # as process_exception does
        if new is None:
            return response
        if delay > 0:
            await asyncio.sleep(delay)
        return new

    async def process_exception(self, request: Request, exception, spider=None):  # type: ignore[override]
        if not isinstance(exception, self.exceptions_to_retry) or request.meta.get("dont_retry", False):
            return None
        delay = self._delay(request)
        new = self._retry(request, exception)
        if new is not None and delay > 0:
            await asyncio.sleep(delay)
        return new


class MetaRefreshMiddleware(_ScrapyMetaRefreshMiddleware):
    """Scrapy's, without decoding pages that cannot hold a refresh.

    Scrapy decodes the whole body (with its own charset detection) to look for `<meta http-equiv=refresh>` in
    the first 4096 characters: ~2% of a crawl's CPU, and the spider decodes the page again for its parser. A
    refresh needs the word "refresh" in those characters, which in an ASCII-compatible encoding are at most
    16 KiB of bytes (4 bytes a character in UTF-8); a NUL byte (UTF-16/32) goes Scrapy's way.
    """

    SCAN_BYTES = 4 * 4096

    def process_response(self, request, response, spider=None):
        head = response.body[: self.SCAN_BYTES]
        if b"\x00" not in head and b"refresh" not in head.lower():
            return response
        return super().process_response(request, response)


class PageBudgetMiddleware:
    """Spider middleware: stops scheduling requests once a source's page budget is spent (traps end)."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.scheduled = 0
        crawler.signals.connect(self._opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def _opened(self, spider):
        self.scheduled = len(getattr(spider, "start_urls", []) or [])

    def _budget(self) -> int:
        return getattr(self.crawler.spider, "max_pages", 0) or 0

    def _filter(self, result):
        budget = self._budget()
        for r in result:
            if isinstance(r, Request) and budget:
                if self.scheduled >= budget:
                    self.crawler.stats.inc_value("brandmon/over_budget")
                    continue
                self.scheduled += 1
            yield r

    def process_spider_output(self, response, result, spider=None):
        return self._filter(result)

    async def process_spider_output_async(self, response, result, spider=None):
        budget = self._budget()
        async for r in result:
            if isinstance(r, Request) and budget:
                if self.scheduled >= budget:
                    self.crawler.stats.inc_value("brandmon/over_budget")
                    continue
                self.scheduled += 1
            yield r
