"""Fixtures for the flow tests: one Prefect test harness per session (it starts a temporary API server, ~15 s)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def fast_settings(settings):
    """Settings with retry delays short enough for tests."""
    settings.schedule.retry_delay_seconds = 0.05
    settings.schedule.retry_jitter_factor = 0.0
    settings.schedule.write_lock_timeout_seconds = 5
    return settings


@pytest.fixture
def stages_registry(monkeypatch):
    """The stage registry, restored after the test (tests plug in their own stage functions)."""
    from flows import stages as st

    monkeypatch.setattr(st, "STAGES", dict(st.STAGES))
    return st.STAGES
