"""`brandmon sources probe URL`: how brandmon would read one page, and the sources.yaml entry that crawls its site.

Pure functions over a fetched page (the CLI fetches it): `probe_page` reads it the way `brandmon parse` does
(`crawlers.parsers.parse_any`) and says which engine or extractor did it and how sure that is; `source_entry` turns
that into a source; `entry_yaml` writes the entry as YAML text to append to a sources file, and `robots_allow`
answers robots.txt the way the crawl's middleware does (Protego, user agent "brandmon").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from crawlers.dates import board_tz_from_text
from crawlers.parsers import DETECT_THRESHOLD, PageResult, ParseContext, engine_scores, parse_any

FORUM_ENGINES = frozenset({"vbulletin", "phpbb", "smf", "xenforo", "ipb", "mybb", "nodebb"})
ROBOTS_AGENT = "brandmon"  # what the crawl's robots.txt middleware answers as (crawlers/scrapy_settings.py)
# detect scores are 2 points per engine marker found; four markers make a sure reading
_FULL_SCORE = 2 * DETECT_THRESHOLD
_TZ_LINE = re.compile(r"[^\n]{0,80}\b(?:UTC|GMT)\b[^\n]{0,40}", re.IGNORECASE)
_CYR = re.compile(r"[а-яёА-ЯЁ]")
_LAT = re.compile(r"[a-zA-Z]")


@dataclass
class Probe:
    url: str
    engine: str  # the parser that read the page: an engine, or "generic" (the universal extractor)
    method: str  # how: "engine markup" for an engine parser, else the extractor's method (dom, microdata, …)
    confidence: float  # 0..1
    result: PageResult
    scores: dict[str, int] = field(default_factory=dict)  # engine detectors' scores, best first
    timezone: str | None = None  # what the page says its times are in, if it says
    language: str | None = None


def detector_scores(text: str) -> dict[str, int]:
    """Each engine detector's score for the page (what `detect_engine` picks from), best first, zeros left out."""
    return dict(sorted(((e, s) for e, s in engine_scores(text).items() if s), key=lambda x: -x[1]))


def probe_page(text: str, url: str, tz: str | None = None) -> Probe:
    ctx = ParseContext(source="probe", tz=tz) if tz else ParseContext(source="probe")
    engine, res = parse_any(text, url, ctx)
    scores = detector_scores(text) if text.lstrip()[:1] not in ("{", "[") else {}
    if engine == "generic":
        from crawlers.parsers.universal import extract

        ex = extract(text, url, ctx)
        res, method, conf = ex.result, ex.method, ex.confidence
    else:
        method = "engine markup" if engine != "discourse" else "JSON API"
        conf = 1.0 if engine == "discourse" else min(1.0, scores.get(engine, 0) / _FULL_SCORE)
        if not res.items and not res.thread_links:
            conf = min(conf, 0.3)
    return Probe(url, engine, method, round(conf, 2), res, scores, page_timezone(text), _language(res))


def page_timezone(text: str) -> str | None:
    """The zone a board footer states ("All times are UTC+03:00") as a zone name, or None."""
    for m in _TZ_LINE.finditer(text[-200_000:]):
        line = re.sub(r"<[^>]*>", " ", m.group(0))
        if tz := board_tz_from_text(line):
            return tz
    return None


def _language(res: PageResult) -> str | None:
    sample = " ".join((it.text or "")[:400] for it in res.items[:20])
    cyr, lat = len(_CYR.findall(sample)), len(_LAT.findall(sample))
    if cyr + lat < 40:
        return None
    return "ru" if cyr > lat else "en"


def name_from_host(url: str) -> str:
    """A source name from the URL's host: forum.example.co.uk → forum-example-co-uk (www. dropped)."""
    host = (urlsplit(url).hostname or "site").lower().removeprefix("www.")
    slug = re.sub(r"[^a-z0-9]+", "-", host.encode("idna").decode("ascii") if not host.isascii() else host)
    return (slug.strip("-") or "site")[:64].rstrip("-")


def source_entry(probe: Probe, start_url: str, name: str | None = None, local: bool = False) -> dict:
    """The sources.yaml entry that crawls the probed page's site, as a dict (the keys `SourceConfig` takes)."""
    e = probe.engine
    engine: str | None
    if e in FORUM_ENGINES:
        kind, engine = "forum", e
    elif e in ("discourse", "telegram"):
        kind, engine = e, (e if e == "discourse" else None)
    elif len(probe.result.items) > 1 or probe.result.thread_links:
        # records of no known engine: a forum crawl detects per page and reads unknown pages with the universal
        # extractor, following their next-page links
        kind, engine = "forum", "auto"
    else:
        kind, engine = "generic", None  # one text (an article): read as the page's main text
    entry: dict = {"name": name or name_from_host(start_url), "kind": kind}
    if engine:
        entry["engine"] = engine
    entry["start_urls"] = [start_url]
    if local:
        entry["local"] = True
    if probe.language:
        entry["language"] = probe.language
    if probe.timezone:
        entry["timezone"] = probe.timezone
    return entry


def entry_yaml(entry: dict, indent: int = 2, comment: str | None = None) -> str:
    """One list item of a sources file, as text: every scalar JSON-quoted (valid YAML, whatever it holds)."""
    pad = " " * indent
    lines = [f"{pad}# {comment}"] if comment else []
    for i, (k, v) in enumerate(entry.items()):
        lead = f"{pad}- " if i == 0 else f"{pad}  "
        val = json.dumps(v, ensure_ascii=False)
        lines.append(f"{lead}{k}: {val}")
    return "\n".join(lines) + "\n"


def robots_allow(robots_txt: str | None, url: str) -> bool:
    """Whether robots.txt lets the crawl fetch `url` (None: there is no robots.txt, everything is allowed)."""
    if robots_txt is None:
        return True
    from protego import Protego

    return Protego.parse(robots_txt).can_fetch(url, ROBOTS_AGENT)
