"""Downloader/spider middlewares: safety (schemes, hosts, private ranges), conditional requests, retries with
backoff, per-source page budget. All built via `from_crawler`; per-source knobs come from the spider."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from functools import lru_cache
from urllib.parse import urlparse

from scrapy import signals
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware as _ScrapyMetaRefreshMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request
from scrapy.utils.response import response_status_message


class BlockedRequest(IgnoreRequest):
    """A request refused by a safety rule (scheme, host or address range)."""


@lru_cache(maxsize=1024)
def _resolve(host: str) -> tuple[str, ...]:
    try:
        return tuple({ai[4][0] for ai in socket.getaddrinfo(host, None)})
    except (socket.gaierror, UnicodeError):
        return ()


def is_private_host(host: str) -> bool:
    """True when the host is, or resolves to, a loopback/private/link-local/reserved address."""
    host = host.strip("[]")
    try:
        addrs = [ipaddress.ip_address(host)]
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            return True
        addrs = [ipaddress.ip_address(a.split("%")[0]) for a in _resolve(host)]
    return any(a.is_private or a.is_loopback or a.is_link_local or a.is_reserved or a.is_multicast
               or a.is_unspecified for a in addrs)


def check_url(url: str, allowed_hosts: set[str], local_ok: bool) -> str | None:
    """Why this URL must not be fetched, or None when it is fine."""
    u = urlparse(url)
    if u.scheme not in ("http", "https"):
        return f"scheme {u.scheme or '(none)'!r} is not http(s)"
    host = (u.hostname or "").lower()
    if not host:
        return "no host"
    if allowed_hosts and not any(host == h or host.endswith("." + h) for h in allowed_hosts):
        return f"host {host} is not allowed for this source"
    if not local_ok and is_private_host(host):
        return f"host {host} is a private/loopback/link-local address"
    return None


class SafetyMiddleware:
    """Refuses non-http(s) schemes, hosts outside the source, and private ranges unless the source is local.
    Redirects are new requests, so they pass through here too."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request: Request, spider=None):
        sp = self.crawler.spider
        why = check_url(request.url, getattr(sp, "allowed_hosts", set()), getattr(sp, "local_ok", False))
        if why:
            self.crawler.stats.inc_value("brandmon/blocked")
            raise BlockedRequest(f"blocked {request.url}: {why}")
        return None


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
        d = min(self.cap, self.base * (2 ** n))
        if response is not None:
            ra = response.headers.get(b"Retry-After")
            if ra and ra.strip().isdigit():
                d = min(self.cap, max(d, float(ra)))
        return d

    async def process_response(self, request: Request, response, spider=None):
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        delay = self._delay(request, response)
        new = get_retry_request(request, reason=response_status_message(response.status),
                                spider=self.crawler.spider, max_retry_times=request.meta.get("max_retry_times", self.max_retry_times),
                                priority_adjust=self.priority_adjust, give_up_log_level=self.give_up_log_level)
        if new is None:
            return response
        if delay > 0:
            await asyncio.sleep(delay)
        return new

    async def process_exception(self, request: Request, exception, spider=None):
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
