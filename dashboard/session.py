"""This dashboard session's settings, its store for writes, and the clock.

Settings are read once per browser session: `--config FILE` after `--` (what `brandmon dashboard --config`
passes to `streamlit run`), then BRANDMON_* environment variables. A bad config stops the page with one line.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import streamlit as st

from pipeline.config import ConfigError, Settings, load_settings
from pipeline.store import Store


def config_arg(argv: list[str]) -> str | None:
    """`streamlit run dashboard/app.py -- --config FILE` (what `brandmon dashboard --config` passes)."""
    for i, a in enumerate(argv):
        if a == "--config" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--config="):
            return a.split("=", 1)[1]
    return None


def settings() -> Settings:
    """Settings for this run: --config after `--`, then BRANDMON_* env (BRANDMON_DB_PATH, BRANDMON_DATA_DIR …)."""
    if "_bm_settings" not in st.session_state:
        try:
            st.session_state["_bm_settings"] = load_settings(config_arg(sys.argv[1:]))
        except ConfigError as e:
            st.error(f"Configuration error: {e}")
            st.stop()
    return st.session_state["_bm_settings"]


def write_store() -> Store:
    return Store.from_settings(settings())


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
