"""Subprocess entry point: `python -m crawlers.runner JOB_JSON [JOB_JSON ...]` crawls sources with Scrapy.

Twisted's reactor cannot be restarted in one process, so `crawlers.run` starts one of these per call; every job
(one source) becomes its own crawler with its own settings (custom_settings of a per-job spider subclass), and
all run side by side in one reactor. Each job file carries the settings, the source, the run directory, the
incremental state and options; the runner writes `session-NNN.json` (counts, errors, state updates) beside each
source's raw items and prints JSON progress lines tagged with the source name.
"""

from __future__ import annotations

import gc
import json
import logging
import sys
import time
from pathlib import Path

LOG_LEVEL = "WARNING"
PARSED_KINDS = ("forum", "discourse", "comments", "feed", "telegram", "generic")


def tune_process() -> None:
    """Per-process settings that cut the crawler's CPU per page without changing what it does.

    - Scrapy leaves the root logger at NOTSET and filters in its handler, so every request and item built a
      DEBUG record ("Crawled (200)", "Scraped from") only to drop it: the `scrapy` logger now stops them first.
    - Python's default GC thresholds (700, 10, 10) ran ~2 collections per page over Scrapy's and Twisted's many
      long-lived objects (~12% of the crawl's CPU); the objects made at start-up are frozen out of collections
      and young collections run 30x less often (the crawl's garbage is still collected, in fewer passes).
    """
    logging.getLogger("scrapy").setLevel(LOG_LEVEL)
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 10, 10)


def preload(engines: set[str]) -> None:
    """Import what the crawl's first pages would: the engine parsers (`engine_module` imports them on first use;
    "auto" detection tries every detectable one) and the universal extractor (it reads pages no engine claims and
    checks each source's first page with posts). Imported mid-crawl, this work (~0.1 s a process) counted as
    crawl CPU and held up the first responses; imported here, `tune_process` freezes its objects with the rest
    of start-up's."""
    from crawlers.parsers import ALIASES, DETECTABLE, ENGINES, engine_module

    for engine in engines:
        for name in DETECTABLE if engine == "auto" else (ALIASES.get(engine, engine),):
            if name in ENGINES:
                engine_module(name)
    if engines - {"discourse", "comments"}:
        import crawlers.parsers.universal  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m crawlers.runner JOB_JSON [JOB_JSON ...]", file=sys.stderr)
        return 2

    from scrapy.crawler import CrawlerProcess

    from crawlers.pipelines import WRITTEN_STAT
    from crawlers.scrapy_settings import PROCESS_SETTINGS, scrapy_settings
    from crawlers.spiders import spider_for
    from crawlers.spiders.base import SourceSpider
    from pipeline.config import Settings, SourceConfig

    process = CrawlerProcess(settings={**PROCESS_SETTINGS, "LOG_LEVEL": LOG_LEVEL})
    runs = []
    engines: set[str] = set()
    for path in argv:
        job = json.loads(Path(path).read_text(encoding="utf-8"))
        settings = Settings.model_validate(job["settings"])
        source = SourceConfig.model_validate(job["source"])
        run_dir = Path(job["run_dir"])
        jobdir = Path(job["jobdir"]) if job.get("jobdir") else None
        base = spider_for(source)
        custom = {**(base.custom_settings or {}), **scrapy_settings(settings, source, run_dir, jobdir)}
        cls = type(base.__name__, (base,), {"custom_settings": custom, "name": base.name})
        crawler = process.create_crawler(cls)
        process.crawl(
            crawler,
            source=source,
            run_id=job["run_id"],
            state=job.get("state"),
            since=job.get("since"),
            now=job.get("now"),
            default_tz=settings.crawl.default_timezone,
            max_pages=settings.crawl.max_pages_per_source,
        )
        runs.append((crawler, base, run_dir))
        if source.kind in PARSED_KINDS:  # the API spiders read JSON without the page parsers
            engines.add(source.engine if source.kind in ("forum", "discourse") and source.engine else base.engine)
    preload(engines)
    tune_process()
    cpu0 = time.process_time()
    process.start()
    cpu = time.process_time() - cpu0  # this process's CPU over the crawl (start-up excluded)
    pages = [getattr(c.spider, "pages", 0) if c.spider is not None else 0 for c, _, _ in runs]

    for (crawler, base, run_dir), n_pages in zip(runs, pages):
        spider = crawler.spider if isinstance(crawler.spider, SourceSpider) else None  # every spider_for class is one
        stats = crawler.stats.get_stats() if crawler.stats else {}
        summary = (
            spider.summary()
            if spider is not None
            else {"pages": 0, "errors": 1, "error_kinds": {"SpiderNotStarted": 1}}
        )
        summary.update(
            items=stats.get(WRITTEN_STAT, 0),
            elapsed_seconds=stats.get("elapsed_time_seconds", summary.get("elapsed_seconds")),  # open → close
            dropped=stats.get("item_dropped_count", 0),
            finish_reason=stats.get("finish_reason"),
            requests=stats.get("downloader/request_count", 0),
            robots_forbidden=stats.get("robotstxt/forbidden", 0),
            blocked=stats.get("brandmon/blocked", 0),
            over_budget=stats.get("brandmon/over_budget", 0),
            spider=base.name,
            # the process's crawl CPU shared out over its sources by pages (the benchmark's CPU per page)
            cpu_seconds=round(cpu * (n_pages / sum(pages) if sum(pages) else 1 / len(runs)), 4),
            state_updates=spider.state_updates if spider is not None else {},
            thread_updates=spider.thread_updates if spider is not None else {},
        )
        n = len(list(run_dir.glob("session-*.json")))
        (run_dir / f"session-{n:03d}.json").write_text(
            json.dumps(summary, ensure_ascii=False, default=str), encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
