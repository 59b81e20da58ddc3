"""Crawler test fixtures: a private copy of the demo web served on 127.0.0.1, settings pointing at it."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEMO_NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
SHIPPED_SOURCES = ROOT / "data" / "sources.yaml"


@pytest.fixture
def demo_dir(tmp_path):
    """A copy of data/demo_web that a test may add posts to."""
    dst = tmp_path / "demo_web"
    shutil.copytree(ROOT / "data" / "demo_web", dst)
    return dst


@pytest.fixture
def demo(demo_dir):
    from crawlers.demoweb.server import DemoWebServer

    with DemoWebServer(demo_dir, now=DEMO_NOW) as srv:
        yield srv


@pytest.fixture(scope="module")
def demo_ro(tmp_path_factory):
    """One read-only demo web server (on a snapshot of the content) for a whole test module."""
    from crawlers.demoweb.server import DemoWebServer

    snap = tmp_path_factory.mktemp("demo_ro") / "demo_web"
    shutil.copytree(ROOT / "data" / "demo_web", snap)
    with DemoWebServer(snap, now=DEMO_NOW) as srv:
        yield srv


def crawl_settings(tmp_path: Path, url: str, extra_sources: list[dict] | None = None, **crawl):
    """Settings for a crawl of the demo at `url`: shipped sources + `extra_sources`, fast retries."""
    from pipeline.config import load_settings

    data = yaml.safe_load(SHIPPED_SOURCES.read_text(encoding="utf-8"))
    data["sources"] += extra_sources or []
    src = tmp_path / "sources.yaml"
    src.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    knobs = {"retry_backoff_seconds": 0.05, "retry_backoff_max_seconds": 0.2, **crawl}
    return load_settings(data_dir=tmp_path / "data", demo_web_url=url, sources_file=src,
                         brands_file=ROOT / "data" / "brands.yaml", crawl=knobs)


def read_items(run_dir: str | Path) -> list[dict]:
    import gzip
    import json

    out = []
    for f in sorted(Path(run_dir).glob("items-*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            out += [json.loads(line) for line in fh]
    return out


def site_posts(content_dir: Path, key: str) -> int | None:
    from crawlers.demoweb import corpus

    c = corpus.load(content_dir)
    s = c.sites.get(key)
    if s is None:
        return None
    return sum(len(t.posts) for t in s.threads())
