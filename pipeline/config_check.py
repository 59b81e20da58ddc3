"""What `brandmon config check` finds: every problem in brands.yaml and sources.yaml that ingest or crawl would stop
on later, each as one line naming the file.

Most rules live on the models in `pipeline.config`, so every loader applies them (YAML limits and duplicate keys,
source names, URLs, time zones, non-negative limits, brand queries). Here are the rules that need both files or the
crawler: `about` must name brands that brands.yaml defines (ingest refuses the run otherwise), and `engine` must
be one the parsers know (a forum crawl would fail on every page). The engine names are passed in, because this
base layer does not import the crawler.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from pipeline.config import ConfigError, Settings, load_brands, load_sources, url_problem


@dataclass
class CheckResult:
    counts: dict[str, int] = field(default_factory=dict)  # "brands"/"sources" -> entries, for files with no problem
    problems: list[str] = field(default_factory=list)  # one line each, starting with the file's path


def check_config(settings: Settings, engines: Collection[str]) -> CheckResult:
    """Validate both config files of `settings`; `engines` are the names a source's `engine` may take."""
    res = CheckResult()
    brands = sources = None
    try:
        brands = load_brands(settings.brands_file)
    except ConfigError as e:
        res.problems.append(str(e))
    try:
        sources = load_sources(settings.sources_file, settings.demo_web_url)
    except ConfigError as e:
        res.problems.append(str(e))
    if sources is not None:
        res.problems += _source_problems(settings, sources, brands, engines)
    for label, items, path in (("brands", brands, settings.brands_file), ("sources", sources, settings.sources_file)):
        if items is not None and not any(p.startswith(f"{path}:") for p in res.problems):
            res.counts[label] = len(items)
    return res


def _source_problems(settings: Settings, sources: list, brands: list | None, engines: Collection[str]) -> list[str]:
    file = settings.sources_file
    brand_ids = {b.id for b in brands} if brands is not None else None
    known = ", ".join(sorted(engines))
    out: list[str] = []
    for s in sources:
        if s.engine and s.engine not in engines:
            out.append(f"{file}: {s.name}: engine {s.engine!r} is not known; one of: {known}")
        # the demo web's placeholder is filled in from settings: the result must still be a URL with a host
        for u in [*s.start_urls, *(p for ps in s.about.values() for p in ps)]:
            if problem := url_problem(u):
                out.append(f"{file}: {s.name}: {problem} (demo_web_url is {settings.demo_web_url!r})")
                break
        if brand_ids is None:  # brands.yaml has its own line already
            continue
        for brand in s.about:
            if brand not in brand_ids:
                out.append(
                    f"{file}: {s.name}: about: unknown brand {brand!r} "
                    f"({settings.brands_file.name} has {', '.join(sorted(brand_ids)) or 'none'})"
                )
    return out
