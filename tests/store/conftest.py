"""Fixtures for the store tests: a real PostgreSQL server for the session, a fresh database per test."""

from __future__ import annotations

import pytest

from ..pg_server import PgServer, find_bindir


@pytest.fixture(scope="session")
def pg_server():
    """One PostgreSQL server for the run (about 1.5 s to start); skipped only when its binaries are missing."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install '.[team]')")
    bindir = find_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    srv = PgServer(bindir).start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """The URL of a fresh, empty database on the session's server."""
    return pg_server.new_database()


@pytest.fixture
def pg_settings(settings, pg_url):
    """The `settings` fixture pointed at a fresh Postgres database."""
    settings.store.url = pg_url
    return settings


@pytest.fixture
def pg_store(pg_settings):
    from pipeline.store import Store

    s = Store.from_settings(pg_settings)
    s.upgrade()
    return s
