"""The whole corpus of real saved pages (tests/crawlers/real_pages): every page parses without an exception, and the
share read exactly (post count and first author, as `brandmon parse` prints them and the shared parse_eval tool
scores them) stays at or above the floor measured when the extractor last changed.

Each split (`dev`, `heldout`) holds groups (forums, threads, ...) with an index.json of hand-checked goldens.
The held-out split is reported as one aggregate number only: its pages are never looked at while developing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from crawlers.encoding import decode_html
from crawlers.parsers import ParseContext, ParseError, parse_any
from crawlers.parsers.base import saved_page_url

CORPUS = Path(__file__).parent / "real_pages"
# exact share (post count and first author) each split must keep. Measured on 2026-12-06 with 25 dev and 14 held-out
# pages: dev 100%, heldout 71% (75-77% on the 12-13 pages there earlier in the day); the floors leave room for pages
# still being added to the corpus, the dev one is the project's goal
FLOORS = {"dev": 0.9, "heldout": 0.6}


def _entries(split: str) -> list[tuple[Path, dict]]:
    out = []
    for index in sorted((CORPUS / split).glob("*/index.json")):
        for e in json.loads(index.read_text(encoding="utf-8")):
            out.append((index.parent / e["file"], e))
    return out


def _expected_author(e: dict) -> str | None:
    a = e.get("first_post_author")
    if a and ("(" in a or len(a) > 40 or " " in a and a.startswith("first")):
        return None  # unreadable or deleted first author: count only (as parse_eval scores it)
    return a


def parse_file(path: Path) -> tuple[str, list]:
    """What `brandmon parse FILE` prints: the engine used and its items that are not the article itself."""
    text = decode_html(path.read_bytes(), None, None)[0]
    url = saved_page_url(text, path.resolve().as_uri().replace("file://", "http://saved.local"))
    used, res = parse_any(text, url, ParseContext(source="parse", tz="Europe/Moscow"))
    return used, [it for it in res.items if (it.extra or {}).get("item_type") != "article"]


def exact(posts: list, e: dict) -> bool:
    """Post count and first author as the shared parse_eval tool scores them."""
    n = e.get("posts_on_page")
    first = (posts[0].author or "").strip().lower() if posts else ""
    a = _expected_author(e)
    return len(posts) in {n, e.get("posts_with_body") or n} and (not a or a.strip().lower() == first)


@pytest.mark.parametrize("split", sorted(FLOORS))
def test_corpus_parses_without_exceptions_and_at_or_above_the_floor(split):
    every = _entries(split)
    if not every:
        pytest.skip(f"no {split} pages")
    by_group: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    ok = scored = 0
    for path, e in every:  # every page parses without an exception (pages of no posts too: error boxes, indexes)
        try:
            posts = parse_file(path)[1]
        except ParseError:
            posts = None  # a clear error on a page is a miss, not a crash
        if not e.get("posts_on_page") or "index" in e["file"]:
            continue
        good = posts is not None and exact(posts, e)
        ok += good
        scored += 1
        for key in (path.relative_to(CORPUS / split).parts[0], f"lang={e.get('language')}"):
            by_group[key][0] += good
            by_group[key][1] += 1
    share = ok / max(scored, 1)
    print(f"\n{split}: {ok}/{scored} exact ({share:.0%})")
    if split != "heldout":  # the held-out third is one number only
        for key, (g, t) in sorted(by_group.items()):
            print(f"  {key}: {g}/{t} ({g / t:.0%})")
    assert share >= FLOORS[split]
