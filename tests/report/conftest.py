"""Report fixtures: a demo store (the dashboard's synthetic data: five brands, themes, queue, alerts) at a fixed
time, and headless Debian Chromium started as tests/dashboard/test_browser.py does."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest

from ..helpers import headless_chromium

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
HOSTILE = "<script>window.__xss = 1; alert('xss')</script><img src=x onerror=\"window.__xss = 2\"> Посылкин"


@pytest.fixture(scope="session")
def _demo_db(tmp_path_factory):
    from demo.synthetic import make_synthetic_db

    path = tmp_path_factory.mktemp("report") / "demo.duckdb"
    make_synthetic_db(path, 3000, seed=7, now=NOW)
    return path


@pytest.fixture
def demo_store(_demo_db, tmp_path):
    """A private copy of the session's demo store (tests write to it)."""
    from pipeline.config import load_settings
    from pipeline.store import Store

    shutil.copy(_demo_db, tmp_path / "demo.duckdb")
    s = load_settings(data_dir=tmp_path / "data", db_path=tmp_path / "demo.duckdb")
    s.notify.dashboard_url = "http://dash.example:8501"
    store = Store.from_settings(s)
    # the worst open item of the brand is a hostile post: it must show as text, never run
    with store.write() as con:
        con.execute(
            """UPDATE mentions SET context = ? WHERE mention_id = (
                           SELECT mention_id FROM escalations WHERE brand_id = 'posylkin'
                           AND state IN ('new', 'assigned', 'in_progress') ORDER BY priority DESC LIMIT 1)""",
            [HOSTILE],
        )
    return s, store


@pytest.fixture(scope="module")
def driver():
    if not (CHROMIUM and DRIVER):
        pytest.skip("Debian chromium + chromium-driver not installed (`make browser`)")
    with headless_chromium("report", "1100,1400") as d:
        yield d
