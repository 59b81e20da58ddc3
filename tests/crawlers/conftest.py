"""Crawler test helpers: settings pointing at a demo web server (the `demo` fixtures are in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_SOURCES = ROOT / "data" / "sources.yaml"


def crawl_settings(tmp_path: Path, url: str, extra_sources: list[dict] | None = None, **crawl):
    """Settings for a crawl of the demo at `url`: shipped sources + `extra_sources`, fast retries."""
    from pipeline.config import load_settings

    data = yaml.safe_load(SHIPPED_SOURCES.read_text(encoding="utf-8"))
    data["sources"] += extra_sources or []
    src = tmp_path / "sources.yaml"
    src.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    knobs = {"retry_backoff_seconds": 0.05, "retry_backoff_max_seconds": 0.2, **crawl}
    return load_settings(
        data_dir=tmp_path / "data",
        demo_web_url=url,
        sources_file=src,
        brands_file=ROOT / "data" / "brands.yaml",
        crawl=knobs,
    )


def site_posts(content_dir: Path, key: str) -> int | None:
    from demo.web import corpus

    c = corpus.load(content_dir)
    s = c.sites.get(key)
    if s is None:
        return None
    return sum(len(t.posts) for t in s.threads())
