"""Scrapy settings built from brandmon `Settings` + one `SourceConfig` (no module-level settings file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scrapy.settings import default_settings

from pipeline.config import Settings, SourceConfig

RETRY_CODES = [500, 502, 503, 504, 522, 524, 408, 429]


# Settings of the crawler process itself (Scrapy reads these from the process, not from each crawler): every
# connection resolves through the addresses crawlers/netguard.py checked, never a second DNS answer.
PROCESS_SETTINGS: dict[str, Any] = {
    "LOG_LEVEL": "WARNING",
    "TELNETCONSOLE_ENABLED": False,
    "TWISTED_DNS_RESOLVER": "crawlers.pinned_resolver.PinnedResolver",
}


def scrapy_settings(
    settings: Settings, source: SourceConfig, run_dir: Path, jobdir: Path | None = None
) -> dict[str, Any]:
    c = settings.crawl
    delay = source.download_delay if source.download_delay is not None else c.download_delay
    out: dict[str, Any] = {
        "BOT_NAME": "brandmon",
        "USER_AGENT": c.resolved_user_agent(),
        "ROBOTSTXT_OBEY": c.obey_robots,
        "ROBOTSTXT_USER_AGENT": "brandmon",
        "AUTOTHROTTLE_ENABLED": c.autothrottle,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": c.autothrottle_target_concurrency,
        "AUTOTHROTTLE_START_DELAY": max(delay, 0.0 if source.local else 1.0),
        "AUTOTHROTTLE_MAX_DELAY": 30.0,
        "DOWNLOAD_DELAY": delay,
        "CONCURRENT_REQUESTS": max(8, c.concurrent_requests_per_domain),
        "CONCURRENT_REQUESTS_PER_DOMAIN": c.concurrent_requests_per_domain,
        "CONCURRENT_ITEMS": c.concurrent_items,
        "DOWNLOAD_TIMEOUT": c.download_timeout,
        "DOWNLOAD_MAXSIZE": c.max_page_bytes,
        "DOWNLOAD_WARNSIZE": min(c.max_page_bytes, 2 * 1024 * 1024),
        "DEPTH_LIMIT": source.max_depth or c.max_depth,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": c.retry_times,
        "RETRY_HTTP_CODES": RETRY_CODES,
        "BRANDMON_RETRY_BACKOFF": c.retry_backoff_seconds,
        "BRANDMON_RETRY_BACKOFF_MAX": c.retry_backoff_max_seconds,
        "BRANDMON_RUN_DIR": str(run_dir),
        # the raw layer keeps un-masked text only when settings say so
        "BRANDMON_KEEP_ORIGINAL_TEXT": c.keep_original_text,
        "BRANDMON_ORDER_PATTERNS": list(settings.ingest.order_patterns),
        "HTTPERROR_ALLOWED_CODES": [304],
        "COOKIES_ENABLED": False,
        # An http_proxy in the environment would resolve names past the address checks: used only when asked for.
        "HTTPPROXY_ENABLED": c.use_env_proxy,
        "TELNETCONSOLE_ENABLED": False,
        # Scrapy 2.19's RemoteControl (on by default) gives every spider a localhost HTTP server that runs any
        # Python code sent with a token, and writes that token into the user's state dir: no place for either in
        # a crawler of untrusted pages. Dropped from the base list as well, as Scrapy imports every extension it
        # names, even a disabled one (its aiohttp import took 0.1 s of each crawler process's start-up).
        "REMOTE_CONTROL_ENABLED": False,
        "EXTENSIONS_BASE": {
            k: v for k, v in default_settings.EXTENSIONS_BASE.items() if not k.endswith(".RemoteControl")
        },
        "LOG_LEVEL": "WARNING",
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
        # Scrapy's lint for `return value` in generator callbacks re-reads and parses the callback's source
        # whenever its weak cache misses (requests read back from JOBDIR carry new bound methods): ~3% of the
        # crawl's CPU (profiled) for a check of our own code, which tests cover
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        "DOWNLOADER_MIDDLEWARES": {
            "crawlers.middlewares.SafetyMiddleware": 50,
            "crawlers.middlewares.ConditionalRequestMiddleware": 60,
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "crawlers.middlewares.BackoffRetryMiddleware": 550,
            "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
            "crawlers.middlewares.MetaRefreshMiddleware": 580,
            "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
            "crawlers.middlewares.RedirectMiddleware": 600,
        },
        "SPIDER_MIDDLEWARES": {"crawlers.middlewares.PageBudgetMiddleware": 950},
        "ITEM_PIPELINES": {"crawlers.pipelines.RawWriterPipeline": 300},
        "EXTENSIONS": {"crawlers.extensions.ProgressExtension": 500, "crawlers.extensions.RedirectLoopRecorder": 510},
    }
    if jobdir is not None:
        out["JOBDIR"] = str(jobdir)
        out["SCHEDULER_DISK_QUEUE"] = "crawlers.queues.PickleLifoDiskQueue"  # Scrapy's, cheaper per request
    return out
