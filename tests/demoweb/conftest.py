from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTENT = ROOT / "data" / "demo_web"
NOW = datetime(2024, 5, 20, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="session")
def demo():
    """The shipped demo web, read-only, clock pinned."""
    from crawlers.demoweb.server import DemoWebServer

    with DemoWebServer(CONTENT, now=NOW) as srv:
        yield srv


@pytest.fixture
def content_copy(tmp_path):
    dst = tmp_path / "demo_web"
    shutil.copytree(CONTENT, dst, ignore=shutil.ignore_patterns("added.jsonl"))
    return dst


@pytest.fixture
def demo_copy(content_copy):
    """A server over a private copy of the content (tests that add posts)."""
    from crawlers.demoweb.server import DemoWebServer

    with DemoWebServer(content_copy, now=NOW) as srv:
        yield srv
