"""Shared fixtures. Area-specific fixtures live in tests/<area>/conftest.py."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .helpers import DEMO_CONTENT, NOW

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"  # research data beside the project (dev machines and CI)


def pytest_configure(config):
    # The converted offline backbone is built once per machine and shared by every test (it is large).
    os.environ.setdefault("BRANDMON_MODELS__CACHE_DIR", str(ROOT / "data" / "cache" / "models"))


@pytest.fixture
def settings(tmp_path):
    """Settings pointing at a fresh data folder; brands come from the shipped demo config."""
    from pipeline.config import load_settings

    return load_settings(
        data_dir=tmp_path / "data",
        brands_file=ROOT / "data" / "brands.yaml",
        sources_file=ROOT / "data" / "sources.yaml",
    )


@pytest.fixture
def store(settings):
    from pipeline.store import Store

    s = Store.from_settings(settings)
    s.upgrade()
    return s


@pytest.fixture
def now():
    """The tests' fixed clock (tests/helpers.py NOW)."""
    return NOW


def _copy_demo_content(dst: Path) -> Path:
    # added.jsonl holds posts a developer added to their local demo; tests start from the shipped content
    shutil.copytree(DEMO_CONTENT, dst, ignore=shutil.ignore_patterns("added.jsonl"))
    return dst


@pytest.fixture
def demo_dir(tmp_path) -> Path:
    """A private copy of the demo web's content that a test may add posts to."""
    return _copy_demo_content(tmp_path / "demo_web")


@pytest.fixture
def demo(demo_dir):
    """The demo web served from `demo_dir` on 127.0.0.1, its clock pinned at NOW."""
    from demo.web.server import DemoWebServer

    with DemoWebServer(demo_dir, now=NOW) as srv:
        yield srv


@pytest.fixture(scope="session")
def demo_ro(tmp_path_factory):
    """One demo web server for the whole run, for tests that only read it (reset its hits before counting)."""
    from demo.web.server import DemoWebServer

    snap = _copy_demo_content(tmp_path_factory.mktemp("demo_ro") / "demo_web")
    with DemoWebServer(snap, now=NOW) as srv:
        yield srv


@pytest.fixture
def shared_data():
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not beside the project")
    return SHARED_DATA


@pytest.fixture
def facts_in_step():
    """Check: mention_facts equals a fresh derivation from mentions, documents and current_scores."""
    from pipeline import facts

    def check(store) -> bool:
        with store.read() as con:
            return facts.check(con) == {"missing_or_stale": 0, "extra": 0}

    return check
