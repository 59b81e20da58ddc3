"""Pages that are not an engine: the root index, robots.txt, the disallowed area, the calendar trap, faults."""

from __future__ import annotations

import threading
import zlib

from demo.web.common import NotFound, Page, esc, trap_links
from demo.web.corpus import Corpus

ROBOTS = """# Demo web robots.txt
User-agent: *
Disallow: /private/
Disallow: /vb/search.php
Disallow: /phpbb/search.php
Disallow: /xf/search/

Sitemap: /sitemap.xml
"""

ENTRY = {
    "vbulletin": "/{key}/",
    "phpbb": "/{key}/",
    "xenforo": "/{key}/",
    "ipb": "/{key}/",
    "discourse": "/{key}/latest.json",
    "news": "/{key}/",
    "telegram": "/{key}/",
}


ENCODING_GOLDEN = "Посылкин опять задержал посылку, жду уже неделю! Ёлки, где мой заказ?"  # in both charsets
ENCODING_PAGES = {
    # name: (bytes charset, Content-Type charset or None, <meta> charset or None)
    "koi8r.html": ("koi8-r", "koi8-r", "koi8-r"),
    "cp1251-meta-only.html": ("windows-1251", None, "windows-1251"),
    "cp1251-undeclared.html": ("windows-1251", None, None),
    "koi8r-undeclared.html": ("koi8-r", None, None),
    # mislabelled, as the real web does it: a forum moved to UTF-8 with its old server config and template;
    # a server's Latin-1 default over a cp1251 page; DOS-era cp866 with no declaration
    "utf8-labelled-cp1251.html": ("utf-8", "windows-1251", "windows-1251"),
    "cp1251-header-latin1.html": ("windows-1251", "iso-8859-1", "windows-1251"),
    "cp866-undeclared.html": ("cp866", None, None),
}


def encoding_page(name: str) -> Page:
    """Small forum-like pages in legacy encodings, declared in the header, only in <meta>, or not at all."""
    if name not in ENCODING_PAGES:
        raise NotFound
    enc, header, meta = ENCODING_PAGES[name]
    meta_tag = f'<meta http-equiv="Content-Type" content="text/html; charset={meta}">' if meta else ""
    body = (
        f"<!DOCTYPE html><html><head>{meta_tag}<title>Старый форум</title></head><body>"
        f'<div class="post" id="post_1"><span class="author">Старожил</span>'
        f'<div class="content">{esc(ENCODING_GOLDEN)}</div></div>'
        f"<p>Форум работает с 2003 года. Кодировка: {esc(enc)}.</p></body></html>"
    )
    return Page(body.encode(enc), charset=header)


def sitemap(corpus: Corpus, base: str) -> Page:
    """Entry points only (a real sitemap would list threads; crawlers must discover them through the boards)."""
    urls = "".join(
        f"<url><loc>{esc(base + ENTRY[s.engine].format(key=s.key))}</loc></url>" for s in corpus.sites.values()
    )
    return Page(
        '<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + urls
        + "</urlset>\n",
        content_type="application/xml",
    )


def _html(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="ru"><head><meta charset="utf-8"><title>{esc(title)}</title></head>'
        f"<body>\n{body}\n{trap_links()}\n</body></html>\n"
    )


def root(corpus: Corpus) -> Page:
    items = []
    for s in corpus.sites.values():
        href = ENTRY[s.engine].format(key=s.key)
        items.append(f'<li><a href="{esc(href)}">{esc(s.title)}</a> <small>({esc(s.engine)})</small></li>')
    extra = '<li><a href="/news/rss.xml">RSS</a> · <a href="/news/atom.xml">Atom</a></li>'
    return Page(_html("Demo web", "<h1>Demo web</h1><ul>" + "".join(items) + extra + "</ul>"))


def private(path: str) -> Page:
    return Page(
        _html(
            "Служебный раздел",
            "<h1>Только для модераторов</h1><p>Сюда роботам нельзя "
            "(robots.txt). Если краулер пришёл сюда, он не читает robots.txt.</p>",
        )
    )


def _shift(month: str, k: int) -> str:
    y, m = (int(x) for x in month.split("-"))
    m += k
    y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
    return f"{y:04d}-{m:02d}"


def calendar(query: dict) -> Page:
    """An endless calendar: every month links to the previous and next one (a classic spider trap)."""
    month = (query.get("month") or ["2024-05"])[0]
    try:
        prev, nxt = _shift(month, -1), _shift(month, 1)
    except ValueError:
        raise NotFound from None
    body = (
        f"<h1>События: {esc(month)}</h1><p>Событий нет.</p>"
        f'<a rel="prev" href="/calendar/?month={prev}">← {prev}</a> '
        f'<a rel="next" href="/calendar/?month={nxt}">{nxt} →</a>'
    )
    return Page(_html(f"Календарь {month}", body))


class Faults:
    """State for the fault endpoints (per server)."""

    HUGE_BYTES = 20 * 1024 * 1024
    BOMB_BYTES = 210 * 1024 * 1024
    _bomb: bytes | None = None
    _bomb_lock = threading.Lock()

    def __init__(self) -> None:
        self.flaky_seen: set[str] = set()
        self.lock = threading.Lock()

    def flaky(self, query: dict) -> Page:
        key = (query.get("key") or ["default"])[0]
        with self.lock:
            first = key not in self.flaky_seen
            self.flaky_seen.add(key)
        if first:
            return Page(_html("503", "<h1>Service Unavailable</h1>"), status=503, headers={"Retry-After": "0"})
        body = (
            f'<div class="post" id="post_1"><span class="author">flaky</span>'
            f'<div class="content">Со второго раза открылось (ключ {esc(key)}).</div></div>'
        )
        return Page(_html("Flaky", body))

    @classmethod
    def gzip_bomb(cls) -> bytes:
        with cls._bomb_lock:
            if cls._bomb is None:
                co = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31 = gzip container
                chunk = b"\0" * (1 << 20)
                parts = [co.compress(b"<html><body>")]
                for _ in range(cls.BOMB_BYTES >> 20):
                    parts.append(co.compress(chunk))
                parts.append(co.flush())
                cls._bomb = b"".join(parts)
            return cls._bomb

    def page(self, name: str, query: dict) -> Page:
        if name == "flaky":
            return self.flaky(query)
        if name == "always500":
            return Page(_html("500", "<h1>Internal Server Error</h1>"), status=500)
        if name == "gzipbomb":
            return Page(self.gzip_bomb(), headers={"Content-Encoding": "gzip"})
        raise NotFound


def huge_chunks(total: int):
    """The 20 MB page, streamed in 1 MB pieces (never held in memory whole)."""
    head = b'<!DOCTYPE html><html><head><meta charset="utf-8"><title>huge</title></head><body><pre>'
    tail = b"</pre></body></html>\n"
    filler = (b"0123456789abcdef" * 64 + b"\n") * 1000
    left = total - len(head) - len(tail)
    yield head
    while left > 0:
        piece = filler[: min(left, len(filler))]
        left -= len(piece)
        yield piece
    yield tail


def is_gzip(data: bytes) -> bool:
    return data[:2] == b"\x1f\x8b"
