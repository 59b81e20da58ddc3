"""Values and readers more than one test area uses. Fixtures are in tests/conftest.py.

Import them relatively (``from ..helpers import NOW, read_items``): the suite runs in importlib mode, without
``tests`` on sys.path.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMO_CONTENT = ROOT / "data" / "demo_web"

# The tests' clock where its value does not matter, only that it is fixed: the demo web dates its posts relative
# to it, and fixtures that write rows date them from it. Tests whose expectations hang on a particular instant
# (a Friday, the day a saved page was read) keep their own, named for that.
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def read_items(run_dir: str | Path) -> list[dict]:
    """Every item of a crawl run's raw folder, in file order (gzipped JSON lines, as the crawler writes them)."""
    out: list[dict] = []
    for f in sorted(Path(run_dir).glob("items-*.jsonl.gz")):
        with gzip.open(f, "rt", encoding="utf-8") as fh:
            out += [json.loads(line) for line in fh]
    return out


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@contextmanager
def headless_chromium(name: str, window: str = "1600,1400") -> Iterator[Any]:
    """A Selenium driver for Debian's headless Chromium, with a private profile and no background networking
    (the machine's closed network refuses Chromium's own connections, many at a time)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = Path(os.environ.get("TMPDIR", "/tmp")) / f"brandmon-{name}-chromium-{os.getpid()}"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-quic",
        "--no-first-run",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={window}",
    ):
        opts.add_argument(flag)
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    d.set_page_load_timeout(60)
    try:
        yield d
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)
