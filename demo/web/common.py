"""Helpers shared by the engine renderers: escaping, Russian date strings, pagination, the page result."""

from __future__ import annotations

import hashlib
import html
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from demo.web.corpus import MSK, Post, Site, Thread

POSTS_PER_PAGE = 10
THREADS_PER_PAGE = 10

MONTHS_GEN = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
]
MONTHS_SHORT = ["янв", "фев", "мар", "апр", "май", "июн", "июл", "авг", "сен", "окт", "ноя", "дек"]


@dataclass
class Page:
    body: str | bytes
    status: int = 200
    content_type: str = "text/html"
    charset: str | None = "utf-8"
    last_modified: datetime | None = None
    headers: dict[str, str] = field(default_factory=dict)

    _bytes: bytes | None = None
    _etag: str | None = None

    def encoded(self) -> bytes:
        if self._bytes is None:
            # Characters the charset lacks (emoji on a cp1251 forum) become numeric references, as real forums do.
            self._bytes = (
                self.body
                if isinstance(self.body, bytes)
                else self.body.encode(self.charset or "utf-8", errors="xmlcharrefreplace")
            )
        return self._bytes

    def etag(self) -> str:
        if self._etag is None:
            self._etag = '"' + hashlib.sha1(self.encoded()).hexdigest()[:20] + '"'
        return self._etag


class NotFound(Exception):
    pass


def esc(s: object) -> str:
    return html.escape(str(s), quote=True)


def text_html(text: str, mode: str = "br") -> str:
    """Plain post text -> HTML; every character escaped (scraped-looking text is never trusted as markup)."""
    if mode == "p":
        paras = [p for p in text.split("\n\n") if p.strip()]
        return "".join("<p>" + esc(p).replace("\n", "<br>\n") + "</p>\n" for p in paras)
    return esc(text).replace("\n", "<br />\n")


def snippet(text: str, limit: int = 220) -> str:
    t = text.strip()
    if len(t) <= limit:
        return t
    cut = t[:limit].rsplit(" ", 1)[0]
    return cut + "…"


def local(dt: datetime) -> datetime:
    return dt.astimezone(MSK)


def vb_date(dt: datetime, now: datetime) -> tuple[str, str]:
    """('Сегодня', '17:16') / ('Вчера', ...) / ('12.11.2013', ...)."""
    d, n = local(dt), local(now)
    hm = d.strftime("%H:%M")
    if d.date() == n.date():
        return "Сегодня", hm
    if d.date() == n.date() - timedelta(days=1):
        return "Вчера", hm
    return d.strftime("%d.%m.%Y"), hm


def phpbb_date(dt: datetime) -> str:
    d = local(dt)
    return f"{d.day:02d} {MONTHS_SHORT[d.month - 1]} {d.year}, {d:%H:%M}"


def ru_long_date(dt: datetime) -> str:
    d = local(dt)
    return f"{d.day} {MONTHS_GEN[d.month - 1]} {d.year} в {d:%H:%M}"


def xf_relative(dt: datetime, now: datetime) -> str:
    d, n = local(dt), local(now)
    delta = now - dt
    if delta < timedelta(minutes=1):
        return "Только что"
    if delta < timedelta(hours=1):
        return f"{int(delta.total_seconds() // 60)} мин. назад"
    if d.date() == n.date():
        return f"Сегодня в {d:%H:%M}"
    if d.date() == n.date() - timedelta(days=1):
        return f"Вчера в {d:%H:%M}"
    if delta < timedelta(days=7):
        wd = ["Понедельник", "Вторник", "Среда", "Четверг", "Пятница", "Суббота", "Воскресенье"][d.weekday()]
        return f"{wd} в {d:%H:%M}"
    return f"{d.day} {MONTHS_SHORT[d.month - 1]} {d.year}"


def plural(n: int, one: str, few: str, many: str) -> str:
    n10, n100 = n % 10, n % 100
    if n10 == 1 and n100 != 11:
        return one
    if 2 <= n10 <= 4 and not 12 <= n100 <= 14:
        return few
    return many


def news_date(dt: datetime, now: datetime) -> str:
    """'только что', '5 минут назад', '2 часа назад', 'вчера в 17:16', '3 мая 2024 в 10:15'."""
    d, n = local(dt), local(now)
    delta = now - dt
    if delta < timedelta(minutes=1):
        return "только что"
    if delta < timedelta(hours=1):
        m = int(delta.total_seconds() // 60)
        return f"{m} {plural(m, 'минуту', 'минуты', 'минут')} назад"
    if delta < timedelta(hours=6):
        h = int(delta.total_seconds() // 3600)
        return f"{h} {plural(h, 'час', 'часа', 'часов')} назад"
    if d.date() == n.date():
        return f"сегодня в {d:%H:%M}"
    if d.date() == n.date() - timedelta(days=1):
        return f"вчера в {d:%H:%M}"
    return ru_long_date(dt)


def iso(dt: datetime, tz=MSK, sep_colon: bool = True) -> str:
    s = dt.astimezone(tz).isoformat(timespec="seconds")
    if not sep_colon:  # XenForo prints +0300
        s = s[:-3] + s[-2:]
    return s


def iso_z(dt: datetime, millis: bool = False) -> str:
    d = dt.astimezone(UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + (".000Z" if millis else "Z")


def n_pages(n_items: int, per_page: int) -> int:
    return max(1, math.ceil(n_items / per_page))


def page_slice(items: list, page: int, per_page: int) -> list:
    if page < 1 or page > n_pages(len(items), per_page):
        raise NotFound
    return items[(page - 1) * per_page : page * per_page]


def thread_times(thread: Thread, now: datetime) -> dict[int, datetime]:
    return {p.n: t for p, t in zip(thread.posts, thread.times(now))}


def last_activity(thread: Thread, now: datetime) -> datetime:
    ts = thread.times(now)
    return ts[-1] if ts else now


def sorted_threads(threads: list[Thread], now: datetime) -> list[Thread]:
    """Board listing order: sticky first, then by last post, newest first (as the engines show them)."""
    return sorted(threads, key=lambda t: (not t.sticky, -last_activity(t, now).timestamp(), t.id))


class ThreadPage(NamedTuple):
    thread: Thread
    times: dict[int, datetime]  # post number -> when it was posted
    by_n: dict[int, Post]  # post number -> post (for quotes)
    posts: list[Post]  # the posts on this page
    total: int  # pages in the thread


def thread_page(site: Site, thread_id: int, page: int, per_page: int, now: datetime) -> ThreadPage:
    """One page of a thread with its posts' times; NotFound for an unknown thread or page."""
    t = site.thread(thread_id)
    if t is None:
        raise NotFound
    return ThreadPage(
        t,
        thread_times(t, now),
        {p.n: p for p in t.posts},
        page_slice(t.posts, page, per_page),
        n_pages(len(t.posts), per_page),
    )


def board_page(site: Site, board_id: int, page: int, per_page: int, now: datetime) -> tuple[Any, list[Thread], int]:
    """(board, its threads on this page in listing order, pages in the board); NotFound when unknown."""
    b = site.board(board_id)
    if b is None:
        raise NotFound
    threads = sorted_threads(b.threads, now)
    return b, page_slice(threads, page, per_page), n_pages(len(threads), per_page)


def signature_of(site: Site, post: Post) -> str | None:
    if post.signature is not None:
        return post.signature or None
    a = site.authors.get(post.author)
    return a.signature if a else None


def int_arg(query: dict, name: str, default: int) -> int:
    try:
        return int(query.get(name, [default])[0])
    except (TypeError, ValueError):
        raise NotFound from None


def trap_links() -> str:
    """Links every site carries in its footer: one to the robots-disallowed area, one into the calendar trap."""
    return (
        '<div class="footer-links"><a href="/private/members.html">Служебный раздел</a> · '
        '<a href="/calendar/?month=2024-05">Календарь событий</a></div>'
    )
