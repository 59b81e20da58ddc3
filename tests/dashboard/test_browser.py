"""The real thing: `streamlit run` on a free port, each page opened in headless Debian Chromium.

Asserts key text on every page, saves screenshots under test-artifacts/dashboard/, and checks the DOM of pages
showing 500 hostile posts: no injected <script>/<img onerror>/<iframe>/<svg onload>, no javascript: links, and no
alert() ever fired.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "dashboard"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="Debian chromium + chromium-driver not installed "
                                                         "(`make browser` or apt-get install chromium chromium-driver)"),
]

PAGES = {  # url path -> text that must be on the page
    "": ["Overview", "Mentions per day", "Negative share", "Response rate", "Latest alerts"],
    "mentions": ["Mentions explorer", "mentions match", "Scored context", "Correct this label"],
    "themes": ["Complaint themes", "Example posts", "Growing"],
    "queue": ["Escalation queue", "Why it is here", "History", "SLA breached"],
    "alerts": ["Alerts", "open alerts", "Acknowledge"],
    "authors": ["Advocates & opinion leaders", "Authors shown"],
    "sources": ["Sources health", "has been silent", "Crawl runs"],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_factory():
    procs = []

    def start(db: Path, **env_extra: str) -> str:
        port = _free_port()
        env = dict(os.environ, BRANDMON_DB_PATH=str(db), **env_extra)
        from pipeline.cli.dashboard_cmds import APP, streamlit_command

        cmd = streamlit_command(APP, "127.0.0.1", port, None)  # exactly what `brandmon dashboard` runs
        p = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(p)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if urllib.request.urlopen(url + "/_stcore/health", timeout=2).status == 200:
                    return url
            except OSError:
                time.sleep(0.3)
            if p.poll() is not None:
                raise RuntimeError(p.stderr.read().decode())
        raise RuntimeError("streamlit did not start in 60 s")

    yield start
    for p in procs:
        p.terminate()
        p.wait(timeout=20)


@pytest.fixture(scope="module")
def driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = Path(os.environ.get("TMPDIR", "/tmp")) / f"brandmon-chromium-{os.getpid()}"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1600,1400"):
        opts.add_argument(flag)
    d = webdriver.Chrome(service=Service(DRIVER), options=opts)
    d.set_page_load_timeout(60)
    yield d
    d.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _open(driver, url: str, must: list[str], timeout: float = 60) -> str:
    from selenium.common.exceptions import UnexpectedAlertPresentException
    from selenium.webdriver.common.by import By

    driver.get(url)
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        try:
            text = driver.find_element(By.TAG_NAME, "body").text
            running = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')
        except UnexpectedAlertPresentException:
            pytest.fail("a scraped payload executed alert()")
        if all(m in text for m in must) and not running:
            time.sleep(1.0)  # let charts and tables paint before the screenshot
            return driver.find_element(By.TAG_NAME, "body").text
        time.sleep(0.5)
    missing = [m for m in must if m not in text]
    raise AssertionError(f"{url}: missing {missing}; page text starts: {text[:400]!r}")


def test_every_page_in_chromium(synth_db, server_factory, driver):
    base = server_factory(synth_db)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for path, must in PAGES.items():
        text = _open(driver, f"{base}/{path}", must)
        assert "Traceback" not in text and "Error" not in text.replace("Errors", ""), path
        driver.save_screenshot(str(SHOTS / f"{path or 'overview'}.png"))
        assert (SHOTS / f"{path or 'overview'}.png").stat().st_size > 20_000


def test_hostile_posts_never_become_html_in_chromium(hostile_db, server_factory, driver):
    from selenium.common.exceptions import NoAlertPresentException

    base = server_factory(hostile_db)
    SHOTS.mkdir(parents=True, exist_ok=True)
    probe = """
        const bad = [];
        for (const s of document.querySelectorAll('script')) if (/alert|xss/.test(s.textContent)) bad.push('script');
        for (const el of document.querySelectorAll('img[onerror], svg[onload], [onclick], iframe'))
            if (/alert|evil/.test(el.outerHTML)) bad.push(el.tagName + ' ' + el.outerHTML.slice(0, 80));
        for (const el of document.querySelectorAll('style'))
            if (/body\{display:none\}/.test(el.textContent)) bad.push('injected style');
        for (const a of document.querySelectorAll('a[href]'))
            if (!/^(https?:|#|\\/|mailto:)/i.test(a.getAttribute('href')) || /evil/.test(a.href)) bad.push('a ' + a.href);
        return bad;
    """
    checked = 0
    for path, must in (("mentions", ["Mentions explorer", "onerror=alert"]), ("queue", ["Why it is here"]),
                       ("themes", ["Example posts"]), ("alerts", ["<img src=x onerror"])):
        text = _open(driver, f"{base}/{path}", must)
        assert driver.execute_script(probe) == [], path
        try:
            driver.switch_to.alert
            pytest.fail(f"{path}: an alert() fired")
        except NoAlertPresentException:
            pass
        checked += text.count("<script>") + text.count("onerror") + text.count("javascript:")
        driver.save_screenshot(str(SHOTS / f"hostile-{path}.png"))
    assert checked >= 4  # the payloads are on screen, as visible text


def test_password_gates_every_page_even_by_direct_url(synth_db, server_factory, driver):
    base = server_factory(synth_db, BRANDMON_DASHBOARD__PASSWORD="s3cret")
    for path in ("", "mentions", "queue"):
        text = _open(driver, f"{base}/{path}", ["Password", "Sign in"])
        assert "Mentions per day" not in text and "mentions match" not in text and "Why it is here" not in text
