"""Dashboard fixtures: synthetic databases built once per session, copied per test that writes."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dashboard" / "app.py"


@pytest.fixture(scope="session")
def synth_db(tmp_path_factory) -> Path:
    from demo.synthetic import make_synthetic_db

    path = tmp_path_factory.mktemp("dash") / "synth.duckdb"
    make_synthetic_db(path, 3000, seed=7)
    return path


@pytest.fixture(scope="session")
def hostile_db(tmp_path_factory) -> Path:
    """500 posts that are all injection attempts (text, titles, author names, URLs, alert explanations)."""
    from demo.synthetic import make_synthetic_db

    path = tmp_path_factory.mktemp("dash_hostile") / "hostile.duckdb"
    make_synthetic_db(path, 500, seed=3, hostile=500)
    return path


@pytest.fixture
def db(synth_db, tmp_path) -> Path:
    """A private copy for tests that act (assign, correct, acknowledge)."""
    dst = tmp_path / "db.duckdb"
    shutil.copy(synth_db, dst)
    return dst


@pytest.fixture
def use_db(monkeypatch):
    """Point the app at a database through the environment, as `brandmon dashboard` does."""

    def _use(path: Path, **env: str) -> None:
        monkeypatch.setenv("BRANDMON_DB_PATH", str(path))
        monkeypatch.delenv("BRANDMON_CONFIG", raising=False)
        for k, v in env.items():
            monkeypatch.setenv(k, v)

    return _use


@pytest.fixture
def app_test():
    from streamlit.testing.v1 import AppTest

    def _make(page: str | None = None, analyst: str | None = None):
        at = AppTest.from_file(str(APP), default_timeout=60)
        if analyst:
            at.session_state["analyst"] = analyst
        at.run()
        if page:
            at.switch_page(f"views/{page}.py").run()
        return at

    return _make


def sql_rows(path, sql, params=None) -> list[tuple]:
    """Rows of a query on a read-only connection of its own (what the tests check the app against)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()
