"""DemoWebServer: serves the demo corpus as several forum engines, a news site, feeds and Telegram pages.

Pages are rendered from the content files at request time (so a reply added with ``corpus.add_post`` shows up
on the next request) and cached keyed on (content files' mtimes, ``now`` to the minute, URL). ETag is a hash of
the body; If-None-Match / If-Modified-Since answer 304. ``hits`` counts requests per path (no query),
``hits_full`` per path+query.
"""

from __future__ import annotations

import collections
import importlib
import logging
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from demo.standins import SocialApis
from demo.web import corpus as corpus_mod
from demo.web.common import NotFound, Page
from demo.web.render_misc import (
    ROBOTS,
    Faults,
    calendar,
    encoding_page,
    huge_chunks,
    private,
    root,
    sitemap,
)

log = logging.getLogger(__name__)

RENDERERS = {
    "vbulletin": "demo.web.render_vb",
    "phpbb": "demo.web.render_phpbb",
    "xenforo": "demo.web.render_xf",
    "ipb": "demo.web.render_ipb",
    "discourse": "demo.web.render_discourse",
    "news": "demo.web.render_news",
    "telegram": "demo.web.render_tg",
}


def renderer(engine: str):
    return importlib.import_module(RENDERERS[engine])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: crawlers reuse connections
    disable_nagle_algorithm = True  # headers and body go out in separate writes; don't wait for delayed ACKs
    server_version = "DemoWeb/1.0"
    demo: DemoWebServer

    def log_message(self, fmt, *args):  # quiet; the counters say what was fetched
        log.debug("demoweb " + fmt, *args)

    def do_HEAD(self):
        self._serve(head=True)

    def do_GET(self):
        self._serve(head=False)

    def do_POST(self):  # the VK API stand-in takes form posts, like the real API
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        demo = self.server.demo  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        demo._count(path, self.path)
        if demo.social is not None and path.startswith(("/api/", "/reviews/")):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, 1 << 20)) if length else b""
            answer = demo.social.handle(self.command, path, parts.query, dict(self.headers.items()), body)
            if answer is not None:
                status, ctype, payload = answer
                return self._send(Page(payload, status=status, content_type=ctype.split(";")[0], charset="utf-8"), head)
        try:
            if path == "/faults/slow":
                secs = float((query.get("seconds") or ["5"])[0])
                time.sleep(min(secs, 60))
            if path == "/faults/huge":
                return self._stream_huge(head)
            page = demo.page(path, parts.query, query)
        except NotFound:
            page = Page("<html><body><h1>404 Not Found</h1></body></html>", status=404)
        except Exception as e:  # a render bug must not kill the server: answer 500 and log it
            log.exception("demoweb render failed for %s", self.path)
            page = Page(f"<html><body><h1>500</h1><pre>{type(e).__name__}</pre></body></html>", status=500)
        self._send(page, head)

    def _send(self, page: Page, head: bool) -> None:
        body, etag = page.encoded(), page.etag()
        status = page.status
        cacheable = status == 200
        if cacheable and self._not_modified(etag, page.last_modified):
            status, body = 304, b""
        self.send_response(status)
        ctype = page.content_type + (f"; charset={page.charset}" if page.charset else "")
        self.send_header("Content-Type", ctype)
        if cacheable:
            self.send_header("ETag", etag)
            if page.last_modified:
                self.send_header("Last-Modified", format_datetime(page.last_modified.astimezone(UTC), usegmt=True))
        for k, v in page.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _not_modified(self, etag: str, last_modified: datetime | None) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            return etag in [t.strip() for t in inm.split(",")] or inm.strip() == "*"
        ims = self.headers.get("If-Modified-Since")
        if ims and last_modified:
            try:
                return last_modified.replace(microsecond=0) <= parsedate_to_datetime(ims)
            except (TypeError, ValueError):
                return False
        return False

    def _stream_huge(self, head: bool) -> None:
        total = Faults.HUGE_BYTES
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(total))
        self.end_headers()
        if head:
            return
        try:
            for chunk in huge_chunks(total):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the crawler gave up on the oversize body, as it should


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        import sys

        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, TimeoutError)):
            return  # the client hung up (a crawler refusing an oversize body, a test timing out): not our error
        log.exception("demoweb: error serving %s", client_address)


class DemoWebServer:
    """The demo web on a local port. ``port=0`` picks a free one; ``now`` pins the clock (tests)."""

    def __init__(
        self,
        content_dir: Path | str = corpus_mod.DEFAULT_CONTENT_DIR,
        host: str = "127.0.0.1",
        port: int = 0,
        now: datetime | None = None,
    ):
        self.content_dir = Path(content_dir)
        self.host, self.port = host, port
        self.now = now
        self.hits: collections.Counter = collections.Counter()
        self.hits_full: collections.Counter = collections.Counter()
        self.faults = Faults()
        self._hits_lock = threading.Lock()
        self._cache: dict[str, Page] = {}
        self._cache_key: tuple = ()
        self._cache_lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        corpus_mod.load(self.content_dir)  # fail fast on a broken corpus
        # VK / YouTube / review-site stand-ins (demo.standins), when the content has them
        social_dir = self.content_dir / "social"
        self.social = SocialApis(social_dir, now=now) if social_dir.is_dir() else None

    # lifecycle
    def start(self) -> DemoWebServer:
        handler = type("Handler", (_Handler,), {})
        self._httpd = _HTTPServer((self.host, self.port), handler)
        self._httpd.demo = self  # type: ignore[attr-defined]
        self.port = self._httpd.server_address[1]
        # a short poll: stop() (every test's teardown) waits for it, 0.5 s by default
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="demoweb", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        if self._httpd is None:
            self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> DemoWebServer:
        return self.start() if self._httpd is None else self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # state
    def _count(self, path: str, full: str) -> None:
        with self._hits_lock:
            self.hits[path] += 1
            self.hits_full[full] += 1

    def reset_hits(self) -> None:
        with self._hits_lock:
            self.hits.clear()
            self.hits_full.clear()

    def current_now(self) -> datetime:
        n = self.now or datetime.now(UTC)
        return n.replace(second=0, microsecond=0) if self.now is None else n

    # rendering
    def page(self, path: str, raw_query: str, query: dict) -> Page:
        if path == "/robots.txt":
            return Page(ROBOTS, content_type="text/plain")
        if path.startswith("/faults/"):
            if path == "/faults/slow":
                return Page("<html><body><p>Медленно, но ответил.</p></body></html>")
            return self.faults.page(path[len("/faults/") :], query)
        c = corpus_mod.load(self.content_dir)
        now = self.current_now()
        key = (c.stamp, now)
        cache_id = path + "?" + raw_query
        with self._cache_lock:
            if key != self._cache_key:
                self._cache, self._cache_key = {}, key
            hit = self._cache.get(cache_id)
        if hit is not None:
            return hit
        page = self._render(c, path, query, now)
        if page.status == 200:
            with self._cache_lock:
                if self._cache_key == key:
                    self._cache[cache_id] = page
        return page

    def _render(self, c: corpus_mod.Corpus, path: str, query: dict, now: datetime) -> Page:
        if path in ("/", "/index.html"):
            return root(c)
        if path == "/sitemap.xml":
            return sitemap(c, self.url)
        if path.startswith("/private/"):
            return private(path)
        if path.rstrip("/") == "/calendar":
            return calendar(query)
        if path.startswith("/enc/"):
            return encoding_page(path[len("/enc/") :])
        key, _, rest = path.lstrip("/").partition("/")
        site = c.sites.get(key)
        if site is None:
            raise NotFound
        if not rest and not path.endswith("/"):
            return Page("", status=301, headers={"Location": f"/{key}/"})
        query = dict(query, _base=[self.url])  # feeds need absolute links
        return renderer(site.engine).render(site, "/" + rest, query, now)

    def post_url(self, site_key: str, thread_id: int, post_id: int | str) -> str:
        """Absolute URL of the page showing a post (with its anchor)."""
        c = corpus_mod.load(self.content_dir)
        site = c.sites[site_key]
        t = site.thread(int(thread_id))
        if t is None:
            raise LookupError(f"{site_key}: no thread {thread_id}")
        post = next(p for p in t.posts if str(p.id) == str(post_id))
        return self.url + renderer(site.engine).post_url(site, t, post)
