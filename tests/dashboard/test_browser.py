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
import time
import urllib.request
from pathlib import Path

import pytest

from ..helpers import headless_chromium

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "dashboard"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM and DRIVER),
        reason="Debian chromium + chromium-driver not installed "
        "(`make browser` or apt-get install chromium chromium-driver)",
    ),
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

    def start(db: Path, port: int | None = None, args: tuple[str, ...] = (), **env_extra: str) -> str:
        port = port or _free_port()
        env = dict(os.environ, BRANDMON_DB_PATH=str(db), **env_extra)
        from brandmon.cli.dashboard_cmds import APP, streamlit_command

        cmd = streamlit_command(APP, "127.0.0.1", port, None) + list(args)  # what `brandmon dashboard` runs
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
    with headless_chromium("dashboard", "1600,1400") as d:
        yield d


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
            if (/body\\{display:none\\}/.test(el.textContent)) bad.push('injected style');
        for (const a of document.querySelectorAll('a[href]'))
            if (!/^(https?:|#|\\/|mailto:)/i.test(a.getAttribute('href')) || /evil/.test(a.href)) bad.push('a ' + a.href);
        return bad;
    """
    checked = 0
    for path, must in (
        ("mentions", ["Mentions explorer", "onerror=alert"]),
        ("queue", ["Why it is here"]),
        ("themes", ["Example posts"]),
        ("alerts", ["<img src=x onerror"]),
    ):
        text = _open(driver, f"{base}/{path}", must)
        assert driver.execute_script(probe) == [], path
        try:
            _ = driver.switch_to.alert  # raises when no alert is open
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


# ------------------------------------------------------------------------------------------ OIDC round trip


class _Provider:
    """A minimal OpenID Connect provider on 127.0.0.1: discovery, an authorize endpoint that signs the user in at
    once, a token endpoint that checks the client secret and issues an RS256 id_token, and its JWKS."""

    CLIENT_ID, CLIENT_SECRET = "brandmon", "test-secret"

    def __init__(self, user: dict) -> None:
        import json
        import threading
        import urllib.parse
        from base64 import b64decode
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from joserfc import jwt
        from joserfc.jwk import RSAKey

        key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
        codes: dict[str, str] = {}
        provider = self
        self.token_requests = 0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def _json(self, obj: dict, status: int = 200) -> None:
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/.well-known/openid-configuration":
                    return self._json(
                        {
                            "issuer": provider.issuer,
                            "authorization_endpoint": provider.issuer + "/authorize",
                            "token_endpoint": provider.issuer + "/token",
                            "jwks_uri": provider.issuer + "/jwks",
                            "response_types_supported": ["code"],
                            "subject_types_supported": ["public"],
                            "id_token_signing_alg_values_supported": ["RS256"],
                            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                        }
                    )
                if url.path == "/jwks":
                    return self._json({"keys": [key.as_dict(private=False)]})
                if url.path == "/authorize":
                    assert q["client_id"] == provider.CLIENT_ID and q["response_type"] == "code"
                    code = f"code-{len(codes)}"
                    codes[code] = q.get("nonce", "")
                    back = q["redirect_uri"] + "?" + urllib.parse.urlencode({"code": code, "state": q["state"]})
                    self.send_response(302)
                    self.send_header("Location", back)
                    self.end_headers()
                    return None
                self.send_error(404)

            def do_POST(self):
                form = dict(urllib.parse.parse_qsl(self.rfile.read(int(self.headers["Content-Length"])).decode()))
                basic = b64decode(self.headers.get("Authorization", "Basic ").split(" ", 1)[1] or b"").decode()
                if basic != f"{provider.CLIENT_ID}:{provider.CLIENT_SECRET}" or form.get("code") not in codes:
                    return self._json({"error": "invalid_client"}, 401)
                provider.token_requests += 1
                now = int(time.time())
                claims = {
                    "iss": provider.issuer,
                    "aud": provider.CLIENT_ID,
                    "iat": now,
                    "exp": now + 600,
                    "nonce": codes.pop(form["code"]),
                    **user,
                }
                id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
                return self._json(
                    {"access_token": "at-1", "token_type": "Bearer", "expires_in": 600, "id_token": id_token}
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _body(driver) -> str:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By

    try:
        return driver.find_element(By.TAG_NAME, "body").text
    except WebDriverException:  # between two pages of a redirect chain
        return ""


def _click(driver, label: str, timeout: float = 30) -> None:
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for b in driver.find_elements(By.TAG_NAME, "button"):
            if b.text.strip().endswith(label) and b.is_displayed():
                b.click()
                return
        time.sleep(0.3)
    raise AssertionError(f"no {label!r} button")


def test_oidc_sign_in_round_trip_in_chromium(db, server_factory, driver, tmp_path):
    """Sign in through a real (local) identity provider: redirect, code exchange, signed id_token, Streamlit's
    identity cookie; the claim's name is the actor of an action; sign out returns to the gate."""
    import duckdb

    provider = _Provider({"sub": "u-42", "name": "Анна Смирнова", "email": "anna@example.org"})
    try:
        port = _free_port()
        secrets = tmp_path / "secrets.toml"
        secrets.write_text(
            f"""
[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "cookie-secret-for-the-browser-test-only"
client_id = "{provider.CLIENT_ID}"
client_secret = "{provider.CLIENT_SECRET}"
server_metadata_url = "{provider.issuer}/.well-known/openid-configuration"
""",
            encoding="utf-8",
        )
        base = server_factory(db, port=port, args=("--secrets.files", str(secrets)), BRANDMON_DASHBOARD__AUTH="oidc")
        for path in ("", "alerts"):
            text = _open(driver, f"{base}/{path}", ["Sign in with your organisation account"])
            assert "Mentions per day" not in text and "open alerts" not in text
        driver.save_screenshot(str(SHOTS / "oidc-gate.png"))
        _click(driver, "Sign in")
        deadline = time.monotonic() + 60  # login → provider → oauth2callback → back home with the cookie
        while time.monotonic() < deadline and "Signed in as" not in _body(driver):
            time.sleep(0.5)
        assert provider.token_requests == 1, (driver.current_url, _body(driver)[:300])
        text = _open(driver, f"{base}/alerts", ["open alerts", "Signed in as", "Анна Смирнова"])
        assert "Analyst name" not in text
        driver.save_screenshot(str(SHOTS / "oidc-signed-in.png"))
        _click(driver, "Acknowledge")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            con = duckdb.connect(str(db), read_only=True)
            try:
                who = con.execute(
                    "SELECT acknowledged_by FROM alerts WHERE acknowledged_by = 'Анна Смирнова'"
                ).fetchall()
            except duckdb.IOException:  # the dashboard's write is in progress
                who = []
            finally:
                con.close()
            if who:
                break
            time.sleep(0.5)
        assert who == [("Анна Смирнова",)]
        _click(driver, "Sign out")
        deadline = time.monotonic() + 60  # /auth/logout clears the cookie and comes back home
        while time.monotonic() < deadline and "Sign in with your organisation account" not in _body(driver):
            time.sleep(0.5)
        text = _open(driver, f"{base}/", ["Sign in with your organisation account"])  # a fresh load: no cookie
        assert "Mentions per day" not in text and "Signed in as" not in text
    finally:
        provider.close()


def test_export_of_all_matching_rows_downloads_in_chromium(synth_db, server_factory, driver, tmp_path):
    """The deferred download (generated on click by the server) of the full export, as a browser receives it."""
    import csv
    import io
    import re

    from selenium.webdriver.common.by import By

    base = server_factory(synth_db, BRANDMON_DASHBOARD__PAGE_SIZE="40")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    text = _open(driver, f"{base}/mentions", ["mentions match", "Prepare export of all"])
    total = int(re.search(r"([\d,]+) mentions match", text).group(1).replace(",", ""))
    assert f"first 40 of {total:,} matching rows" in text
    _click(driver, f"Prepare export of all {total:,} matching rows")
    seen = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and f"Export ready: {total:,} rows" not in seen:
        time.sleep(0.5)
        seen = _body(driver)
    assert f"Export ready: {total:,} rows" in seen
    csv_buttons = [
        b for b in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stDownloadButton"] button') if "CSV" in b.text
    ]
    assert [b.text.strip() for b in csv_buttons] == ["⬇ CSV", f"⬇ CSV · all {total:,}"]
    # one click is enough: the buttons don't rerun the app, so nothing revokes the file the click asks for
    csv_buttons[1].click()
    files: list[Path] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        files = list(downloads.glob("mentions-all-*.csv"))
        if files and not list(downloads.glob("*.crdownload")):
            break
        time.sleep(0.5)
    errors = [e.text for e in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stDownloadButtonError"]')]
    assert files, (list(downloads.iterdir()), errors)
    rows = list(csv.DictReader(io.StringIO(files[0].read_text(encoding="utf-8-sig"))))
    assert len(rows) == total
    assert list(rows[0]) == [
        "posted_at",
        "brand",
        "source_id",
        "sentiment",
        "intent",
        "p_neg",
        "corrected",
        "author",
        "thread_title",
        "context",
        "url",
    ]
    driver.save_screenshot(str(SHOTS / "mentions-export-all.png"))
