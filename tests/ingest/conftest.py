"""Fixtures for the ingest tests: brands (demo + test-only), raw run folders written as the crawler would."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = HERE / "data"


@pytest.fixture(scope="session")
def all_brands():
    from pipeline.config import load_brands

    return load_brands(ROOT / "data" / "brands.yaml") + load_brands(DATA / "test_brands.yaml")


@pytest.fixture(scope="session")
def matcher(all_brands):
    from pipeline.brands import BrandMatcher

    return BrandMatcher(all_brands)


def post(i, text, source="forum-a", thread="http://forum-a.test/t/1", **kw):
    n = i if isinstance(i, int) else len(str(i))  # string post ids ("channel/42") get some default time too
    d = {
        "source": source,
        "kind": "forum",
        "post_id": str(i),
        "url": f"{thread}#p{i}",
        "thread_url": thread,
        "text": text,
        "author": kw.pop("author", f"user{i}"),
        "posted_at": kw.pop("posted_at", f"2024-05-03T{10 + n % 10:02d}:{n % 60:02d}:00+03:00"),
    }
    d.update(kw)
    return d


def write_run(settings, run_id: str, items, name="items-0001.jsonl.gz", extra_lines=()):
    """A raw run folder as the crawler writes it (gzipped JSON lines); `extra_lines` are written verbatim."""
    d = Path(settings.raw_dir) / run_id
    d.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(d / name, "wb") as fh:
        for it in items:
            fh.write(json.dumps(it, ensure_ascii=False).encode("utf-8") + b"\n")
        for line in extra_lines:
            fh.write(line if isinstance(line, bytes) else line.encode("utf-8"))
    return d


@pytest.fixture
def make_post():
    return post


@pytest.fixture
def make_run():
    return write_run
