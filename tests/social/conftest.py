"""Social-area fixtures: the demo web (with its API stand-ins) served from a temp copy, settings limited to
chosen demo sources, and the raw items a crawl wrote."""

from __future__ import annotations

import gzip
import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def demo(tmp_path):
    from crawlers.demoweb.server import DemoWebServer

    content = tmp_path / "demo_web"
    shutil.copytree(ROOT / "data" / "demo_web", content)
    with DemoWebServer(content, now=NOW) as srv:
        yield srv


def sources_settings(tmp_path, url, names, patch=None, **overrides):
    """Settings whose sources.yaml holds only the named demo sources (each updated by `patch[name]`)."""
    from pipeline.config import load_settings

    data = yaml.safe_load((ROOT / "data" / "sources.yaml").read_text(encoding="utf-8"))
    data["sources"] = [s for s in data["sources"] if s["name"] in names]
    for s in data["sources"]:
        s.update((patch or {}).get(s["name"], {}))
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_settings(data_dir=tmp_path / "data", demo_web_url=url, sources_file=path,
                         brands_file=ROOT / "data" / "brands.yaml", **overrides)


def read_items(run_dir) -> list[dict]:
    out = []
    for f in sorted(Path(run_dir).glob("items-*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            out += [json.loads(x) for x in fh]
    return out
