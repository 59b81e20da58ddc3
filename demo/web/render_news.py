"""A news site: /news/[?page=K] index, /news/<slug>.html articles with nested, paginated comments (?cpage=K),
/news/rss.xml (RSS 2.0) and /news/atom.xml (Atom)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import escape as xesc

from demo.web.common import (
    NotFound,
    Page,
    esc,
    int_arg,
    iso,
    n_pages,
    news_date,
    page_slice,
    snippet,
    text_html,
    thread_times,
    trap_links,
)
from demo.web.corpus import Post, Site, Thread, slugify

P = "/news"
ARTICLES_PER_PAGE = 10
COMMENTS_PER_PAGE = 10  # top-level comments per page; replies stay with their parent
FEED_ITEMS = 20


def _articles(site: Site, now: datetime) -> list[Thread]:
    return sorted(site.threads(), key=lambda t: (-t.article_time(now).timestamp(), t.id))


def _layout(site: Site, title: str, body: str, base: str = "") -> Page:
    html = f"""<!DOCTYPE html>
<html lang="ru">
<head>
<meta charset="utf-8">
<title>{esc(title)} — {esc(site.title)}</title>
<link rel="alternate" type="application/rss+xml" title="{esc(site.title)}" href="{P}/rss.xml">
<link rel="alternate" type="application/atom+xml" title="{esc(site.title)}" href="{P}/atom.xml">
</head>
<body>
<header class="site-header"><a class="logo" href="{P}/">{esc(site.title)}</a>
<nav class="sections">{"".join(f'<a href="{P}/?section={b.slug}">{esc(b.title)}</a> ' for b in site.boards)}</nav></header>
<main class="content">
{body}
</main>
<footer class="site-footer">{trap_links()}<p>© {esc(site.title)}. Перепечатка с активной ссылкой.</p></footer>
</body>
</html>
"""
    return Page(html)


def index(site: Site, query: dict, now: datetime) -> Page:
    page = int_arg(query, "page", 1)
    arts = _articles(site, now)
    section = (query.get("section") or [None])[0]
    if section:
        arts = [t for t in arts if site.board_of(t).slug == section]
    total = n_pages(len(arts), ARTICLES_PER_PAGE)
    items = []
    for t in page_slice(arts, page, ARTICLES_PER_PAGE):
        at = t.article_time(now)
        b = site.board_of(t)
        items.append(f"""<article class="news-item" id="news-{t.id}">
<h2 class="news-title"><a href="{P}/{esc(t.slug)}.html">{esc(t.title)}</a></h2>
<div class="news-meta"><span class="news-section">{esc(b.title)}</span> · <time datetime="{iso(at)}">{esc(news_date(at, now))}</time> · <a href="{P}/{esc(t.slug)}.html#comments" class="news-comments">{len(t.posts)} комм.</a></div>
<p class="lead">{esc(t.lead or snippet(t.body or "", 200))}</p>
</article>""")
    qs = f"section={section}&amp;" if section else ""
    nav = []
    if page > 1:
        nav.append(f'<a rel="prev" href="{P}/?{qs}page={page - 1}">← Новее</a>')
    if page < total:
        nav.append(f'<a rel="next" class="next" href="{P}/?{qs}page={page + 1}">Старее →</a>')
    body = f'<h1>Новости</h1><div class="news-list">{"".join(items)}</div><nav class="pager">{" ".join(nav)}</nav>'
    pg = _layout(site, "Новости", body)
    pg.last_modified = max((t.article_time(now) for t in arts), default=now)
    return pg


def _comment(t: Thread, p: Post, when: datetime, children: dict[int, list[Post]], times, now, depth=0) -> str:
    kids = children.get(p.n, [])
    kids_html = ""
    if kids:
        kids_html = (
            '<ul class="comment-children">'
            + "".join(_comment(t, k, times[k.n], children, times, now, depth + 1) for k in kids)
            + "</ul>"
        )
    parent = next((x for x in t.posts if x.n == p.reply_to), None) if p.reply_to else None
    return f"""<li class="comment depth-{depth}" id="comment-{p.id}" data-comment-id="{p.id}" data-parent-id="{parent.id if parent else ""}">
<div class="comment-body">
<div class="comment-head"><a class="comment-author" href="{P}/users/{esc(slugify(p.author))}" rel="nofollow">{esc(p.author)}</a>
<time class="comment-date" datetime="{iso(when)}">{esc(news_date(when, now))}</time>
<a class="comment-permalink" href="{P}/{esc(t.slug)}.html#comment-{p.id}">#</a></div>
{f'<div class="comment-reply-to">ответ для <a href="#comment-{parent.id}">{esc(parent.author)}</a></div>' if parent else ""}
<div class="comment-text">{text_html(p.text, "p")}</div>
<div class="comment-rating"><span class="comment-likes" data-likes="{p.likes}">+{p.likes}</span></div>
</div>
{kids_html}
</li>"""


def article(site: Site, t: Thread, query: dict, now: datetime) -> Page:
    cpage = int_arg(query, "cpage", 1)
    times = thread_times(t, now)
    children: dict[int, list[Post]] = {}
    tops: list[Post] = []
    for p in t.posts:
        (children.setdefault(p.reply_to, []) if p.reply_to else tops).append(p)
    total = n_pages(len(tops), COMMENTS_PER_PAGE)
    shown = page_slice(tops, cpage, COMMENTS_PER_PAGE) if tops else []
    at = t.article_time(now)
    b = site.board_of(t)
    nav = []
    if cpage > 1:
        nav.append(f'<a rel="prev" href="{P}/{esc(t.slug)}.html?cpage={cpage - 1}#comments">Предыдущие</a>')
    if cpage < total:
        nav.append(
            f'<a rel="next" class="comments-next" href="{P}/{esc(t.slug)}.html?cpage={cpage + 1}#comments">Следующие комментарии</a>'
        )
    comments = "".join(_comment(t, p, times[p.n], children, times, now) for p in shown)
    body = f"""<article class="article" id="article-{t.id}" data-article-id="{t.id}">
<div class="article-section"><a href="{P}/?section={esc(b.slug)}">{esc(b.title)}</a></div>
<h1 class="article-title">{esc(t.title)}</h1>
<div class="article-meta"><span class="article-author">{esc(t.byline or "Редакция")}</span> <time class="article-date" datetime="{iso(at)}">{esc(news_date(at, now))}</time> <span class="article-views">{t.views} просмотров</span></div>
{f'<p class="article-lead">{esc(t.lead)}</p>' if t.lead else ""}
<div class="article-body">{text_html(t.body or "", "p")}</div>
</article>
<section class="comments" id="comments">
<h2>Комментарии ({len(t.posts)})</h2>
<ul class="comment-list">{comments}</ul>
<nav class="comments-pager">{" ".join(nav)}</nav>
</section>"""
    pg = _layout(site, t.title, body)
    pg.last_modified = max([at] + [times[p.n] for p in t.posts])
    return pg


def _abs(base: str, path: str) -> str:
    return base.rstrip("/") + path


def rss(site: Site, now: datetime, base: str) -> Page:
    items = []
    arts = _articles(site, now)[:FEED_ITEMS]
    for t in arts:
        at = t.article_time(now)
        link = _abs(base, f"{P}/{t.slug}.html")
        items.append(f"""<item>
<title>{xesc(t.title)}</title>
<link>{xesc(link)}</link>
<guid isPermaLink="false">article-{t.id}</guid>
<pubDate>{format_datetime(at.astimezone(UTC), usegmt=True)}</pubDate>
<category>{xesc(site.board_of(t).title)}</category>
<author>{xesc(t.byline or "Редакция")}</author>
<description>{xesc(t.lead or snippet(t.body or "", 300))}</description>
<comments>{xesc(link)}#comments</comments>
</item>""")
    last = max((t.article_time(now) for t in arts), default=now)
    xml = f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
<title>{xesc(site.title)}</title>
<link>{xesc(_abs(base, P + "/"))}</link>
<description>Новости города и страны</description>
<language>ru</language>
<lastBuildDate>{format_datetime(last.astimezone(UTC), usegmt=True)}</lastBuildDate>
<atom:link href="{xesc(_abs(base, P + "/rss.xml"))}" rel="self" type="application/rss+xml"/>
{"".join(items)}
</channel>
</rss>
"""
    return Page(xml, content_type="application/rss+xml", last_modified=last)


def atom(site: Site, now: datetime, base: str) -> Page:
    entries = []
    arts = _articles(site, now)[:FEED_ITEMS]
    for t in arts:
        at = t.article_time(now)
        link = _abs(base, f"{P}/{t.slug}.html")
        entries.append(f"""<entry>
<title>{xesc(t.title)}</title>
<link rel="alternate" type="text/html" href="{xesc(link)}"/>
<id>tag:demo-news,2024:article-{t.id}</id>
<published>{iso(at)}</published>
<updated>{iso(at)}</updated>
<author><name>{xesc(t.byline or "Редакция")}</name></author>
<summary type="text">{xesc(t.lead or snippet(t.body or "", 300))}</summary>
</entry>""")
    last = max((t.article_time(now) for t in arts), default=now)
    xml = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="ru">
<title>{xesc(site.title)}</title>
<id>tag:demo-news,2024:feed</id>
<link rel="alternate" type="text/html" href="{xesc(_abs(base, P + "/"))}"/>
<link rel="self" type="application/atom+xml" href="{xesc(_abs(base, P + "/atom.xml"))}"/>
<updated>{iso(last)}</updated>
{"".join(entries)}
</feed>
"""
    return Page(xml, content_type="application/atom+xml", last_modified=last)


_ARTICLE = re.compile(r"^/([^/]+)\.html$")


def render(site: Site, path: str, query: dict, now: datetime) -> Page:
    base = (query.get("_base") or [""])[0]
    if path in ("/", "/index.html"):
        return index(site, query, now)
    if path == "/rss.xml":
        return rss(site, now, base)
    if path == "/atom.xml":
        return atom(site, now, base)
    m = _ARTICLE.match(path)
    if m:
        t = next((t for t in site.threads() if t.slug == m.group(1)), None)
        if t is None:
            raise NotFound
        return article(site, t, query, now)
    raise NotFound


def post_url(site: Site, t: Thread, post: Post) -> str:
    tops = [p for p in t.posts if not p.reply_to]
    root = post
    by_n = {p.n: p for p in t.posts}
    while root.reply_to:
        root = by_n[root.reply_to]
    k = tops.index(root) // COMMENTS_PER_PAGE + 1
    return f"{P}/{t.slug}.html" + (f"?cpage={k}" if k > 1 else "") + f"#comment-{post.id}"


def article_url(t: Thread) -> str:
    return f"{P}/{t.slug}.html"
