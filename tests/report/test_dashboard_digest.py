"""The Overview page offers the digest: a click in Chromium downloads the same self-contained HTML that
`brandmon report` writes, for the brand picked (real `streamlit run`, real download)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dashboard(demo_store):
    from brandmon.cli.dashboard_cmds import APP, streamlit_command

    settings, store = demo_store
    port = _free_port()
    env = dict(os.environ, BRANDMON_DB_PATH=str(store.path), BRANDMON_NOTIFY__DASHBOARD_URL="http://dash.example:8501")
    env.pop("BRANDMON_CONFIG", None)
    p = subprocess.Popen(
        streamlit_command(APP, "127.0.0.1", port, None),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.3)
        if p.poll() is not None:
            raise RuntimeError(p.stderr.read().decode())
    yield url
    p.terminate()
    p.wait(timeout=20)


def _click(driver, css: str, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for el in driver.find_elements("css selector", css):
            if text in el.text and el.is_displayed():
                el.click()
                return
        time.sleep(0.3)
    raise AssertionError(f"nothing to click with {text!r}")


def test_digest_downloads_from_the_overview(dashboard, driver, tmp_path):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.get(dashboard + "/")
    _click(driver, "summary", "Digest report for management")
    files: list[Path] = []
    for _attempt in range(3):  # a click landing while the button is still being wired starts nothing: click again
        _click(driver, '[data-testid="stDownloadButton"] button', "Digest (HTML)")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            files = list(downloads.glob("digest-*.html"))
            if files and not list(downloads.glob("*.crdownload")):
                break
            time.sleep(0.5)
        if files:
            break
    assert len(files) == 1, list(downloads.iterdir())
    html = files[0].read_text(encoding="utf-8")
    brand = files[0].name.split("-")[1]
    name = {
        "lastochka": "Ласточка Банк",
        "mobiline": "Мобилайн",
        "posylkin": "Посылкин",
        "shopok": "ШопОк",
        "zerno": "Кофейня Зерно",
    }[brand]
    assert files[0].name.startswith(f"digest-{brand}-7d-")
    assert f"<h1>{name} — brand digest</h1>" in html and "<svg" in html and "<script" not in html.lower()
    assert "http://dash.example:8501/queue?item=" in html  # items link back to the dashboard
