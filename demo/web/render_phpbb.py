"""phpBB 3.2 prosilver markup: /phpbb/ (index.php), viewforum.php?f=N&start=K, viewtopic.php?t=N&start=K."""

from __future__ import annotations

from datetime import UTC, datetime

from demo.web.common import (
    POSTS_PER_PAGE,
    THREADS_PER_PAGE,
    NotFound,
    Page,
    esc,
    int_arg,
    iso,
    last_activity,
    n_pages,
    phpbb_date,
    signature_of,
    snippet,
    sorted_threads,
    text_html,
    thread_times,
    trap_links,
)
from demo.web.corpus import Post, Site, Thread

P = "/phpbb"


def _time(dt: datetime) -> str:
    return f'<time datetime="{iso(dt, tz=UTC)}">{phpbb_date(dt)}</time>'


def _layout(site: Site, title: str, body: str, crumbs: str = "") -> Page:
    html = f"""<!DOCTYPE html>
<html dir="ltr" lang="ru">
<head>
<meta charset="utf-8" />
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<meta name="viewport" content="width=device-width, initial-scale=1" />
<title>{esc(title)} - {esc(site.title)}</title>
<link href="{P}/styles/prosilver/theme/stylesheet.css?assets_version=12" rel="stylesheet">
</head>
<body id="phpbb" class="nojs notouch section-viewtopic ltr ">
<div id="wrap" class="wrap">
<a id="top" class="top-anchor" accesskey="t"></a>
<div id="page-header"><div class="headerbar" role="banner"><div class="inner"><div id="site-description" class="site-description">
<a id="logo" class="logo" href="{P}/index.php" title="Список форумов"><span class="site_logo"></span></a>
<h1>{esc(site.title)}</h1></div></div></div>
<div class="navbar" role="navigation"><div class="inner"><ul id="nav-breadcrumbs" class="nav-breadcrumbs linklist navlinks" role="menubar">
<li class="breadcrumbs" itemscope itemtype="https://schema.org/BreadcrumbList"><span class="crumb" itemtype="https://schema.org/ListItem" itemprop="itemListElement" itemscope><a href="{P}/index.php" itemtype="https://schema.org/Thing" itemprop="item" accesskey="h" data-navbar-reference="index"><i class="icon fa-home fa-fw"></i><span itemprop="name">Список форумов</span></a></span>{crumbs}</li>
</ul></div></div></div>
<div id="page-body" class="page-body" role="main">
{body}
</div>
<div id="page-footer" class="page-footer" role="contentinfo">{trap_links()}
<div class="copyright">Создано на основе <a href="https://www.phpbb.com/">phpBB</a>&reg; Forum Software &copy; phpBB Limited<br />Русская поддержка phpBB</div></div>
</div>
</body>
</html>
"""
    return Page(html)


def _pagination(href: str, start: int, total_items: int, label: str) -> str:
    total = n_pages(total_items, POSTS_PER_PAGE)
    page = start // POSTS_PER_PAGE + 1
    if total <= 1:
        return f'<div class="pagination">{label}</div>'
    items = []
    if page > 1:
        items.append(
            f'<li class="arrow previous"><a class="button button-icon-only" href="{href}&amp;start={(page - 2) * POSTS_PER_PAGE}" rel="prev" role="button"><i class="icon fa-chevron-left fa-fw" aria-hidden="true"></i><span class="sr-only">Пред.</span></a></li>'
        )
    for k in range(1, total + 1):
        if k == page:
            items.append(f'<li class="active"><span>{k}</span></li>')
        else:
            st = (k - 1) * POSTS_PER_PAGE
            items.append(
                f'<li><a class="button" href="{href}'
                + (f"&amp;start={st}" if st else "")
                + f'" role="button">{k}</a></li>'
            )
    if page < total:
        items.append(
            f'<li class="arrow next"><a class="button button-icon-only" href="{href}&amp;start={page * POSTS_PER_PAGE}" rel="next" role="button"><i class="icon fa-chevron-right fa-fw" aria-hidden="true"></i><span class="sr-only">След.</span></a></li>'
        )
    return f'<div class="pagination">{label}<ul>{"".join(items)}</ul></div>'


def _index(site: Site, now: datetime) -> Page:
    rows = []
    for b in site.boards:
        last_t = max(b.threads, key=lambda t: last_activity(t, now), default=None)
        lastpost = ""
        if last_t is not None:
            lp = last_t.posts[-1]
            lastpost = (
                f'<span><dfn>Последнее сообщение</dfn> <a href="{P}/viewtopic.php?p={lp.id}#p{lp.id}" class="lastsubject">{esc(last_t.title)}</a><br />'
                f'<a href="{P}/memberlist.php?mode=viewprofile&amp;u={site.author(lp.author).user_id}" class="username">{esc(lp.author)}</a><br />'
                f"{_time(last_activity(last_t, now))}</span>"
            )
        rows.append(f"""<li class="row">
<dl class="row-item forum_read"><dt title="Нет непрочитанных сообщений"><div class="list-inner">
<a href="{P}/viewforum.php?f={b.id}" class="forumtitle">{esc(b.title)}</a><br />{esc(b.description)}
</div></dt>
<dd class="topics">{len(b.threads)} <dfn>Темы</dfn></dd>
<dd class="posts">{sum(len(t.posts) for t in b.threads)} <dfn>Сообщения</dfn></dd>
<dd class="lastpost">{lastpost}</dd>
</dl></li>""")
    body = (
        '<div class="forabg"><div class="inner"><ul class="topiclist"><li class="header"><dl class="row-item"><dt><div class="list-inner">Форум</div></dt>'
        '<dd class="topics">Темы</dd><dd class="posts">Сообщения</dd><dd class="lastpost"><span>Последнее сообщение</span></dd></dl></li></ul>'
        f'<ul class="topiclist forums">{"".join(rows)}</ul></div></div>'
    )
    return _layout(site, "Список форумов", body)


def _forum(site: Site, board_id: int, start: int, now: datetime) -> Page:
    b = site.board(board_id)
    if b is None or start < 0 or start % THREADS_PER_PAGE or (start and start >= len(b.threads)):
        raise NotFound
    threads = sorted_threads(b.threads, now)[start : start + THREADS_PER_PAGE]
    rows = []
    for i, t in enumerate(threads):
        times = t.times(now)
        first, last = t.posts[0], t.posts[-1]
        rows.append(f"""<li class="row bg{1 + i % 2}{" sticky" if t.sticky else ""}">
<dl class="row-item {"sticky_read" if t.sticky else "topic_read"}"><dt title="Нет непрочитанных сообщений"><div class="list-inner">
<a href="{P}/viewtopic.php?t={t.id}" class="topictitle">{esc(t.title)}</a><br />
<div class="responsive-hide left-box">автор <a href="{P}/memberlist.php?mode=viewprofile&amp;u={site.author(first.author).user_id}" class="username">{esc(first.author)}</a> &raquo; {_time(times[0])}</div>
</div></dt>
<dd class="posts">{len(t.posts) - 1} <dfn>Ответы</dfn></dd>
<dd class="views">{t.views} <dfn>Просмотры</dfn></dd>
<dd class="lastpost"><span><dfn>Последнее сообщение </dfn>автор <a href="{P}/memberlist.php?mode=viewprofile&amp;u={site.author(last.author).user_id}" class="username">{esc(last.author)}</a>
<a href="{P}/viewtopic.php?p={last.id}#p{last.id}" title="Перейти к последнему сообщению"><i class="icon fa-external-link-square fa-fw icon-lightgray icon-md" aria-hidden="true"></i></a><br />{_time(times[-1])}</span></dd>
</dl></li>""")
    href = f"{P}/viewforum.php?f={b.id}"
    pag = _pagination_topics(href, start, len(b.threads))
    body = (
        f'<h2 class="forum-title"><a href="{href}">{esc(b.title)}</a></h2>'
        f'<div class="action-bar bar-top">{pag}</div>'
        '<div class="forumbg"><div class="inner"><ul class="topiclist"><li class="header"><dl class="row-item"><dt><div class="list-inner">Темы</div></dt>'
        '<dd class="posts">Ответы</dd><dd class="views">Просмотры</dd><dd class="lastpost"><span>Последнее сообщение</span></dd></dl></li></ul>'
        f'<ul class="topiclist topics">{"".join(rows)}</ul></div></div>'
        f'<div class="action-bar bar-bottom">{pag}</div>'
    )
    crumbs = f'<span class="crumb"><a href="{href}"><span itemprop="name">{esc(b.title)}</span></a></span>'
    pg = _layout(site, b.title, body, crumbs)
    pg.last_modified = max((last_activity(t, now) for t in b.threads), default=now)
    return pg


def _pagination_topics(href: str, start: int, n: int) -> str:
    label = f"Тем: {n} &bull; "
    return _pagination(href, start, n, label) if THREADS_PER_PAGE == POSTS_PER_PAGE else label


def _post(site: Site, t: Thread, p: Post, when: datetime, quoted: tuple[Post, datetime] | None, i: int) -> str:
    a = site.author(p.author)
    prof = f"{P}/memberlist.php?mode=viewprofile&amp;u={a.user_id}"
    quote = ""
    if quoted:
        qp, qt = quoted
        quote = (
            f'<blockquote><div><cite><a href="{P}/memberlist.php?mode=viewprofile&amp;u={site.author(qp.author).user_id}">{esc(qp.author)}</a> писал(а): '
            f'<a href="{P}/viewtopic.php?p={qp.id}#p{qp.id}" data-post-id="{qp.id}" onclick="if(document.getElementById(hash.substr(1)))href=hash">↑</a>'
            f'<span class="responsive-hide">{phpbb_date(qt)}</span></cite>{text_html(snippet(qp.text))}</div></blockquote>'
        )
    sig = signature_of(site, p)
    sig_html = f'<div id="sig{p.id}" class="signature">{text_html(sig)}</div>' if sig else ""
    likes = f'<div class="post-likes" data-likes="{p.likes}">Поблагодарили: {p.likes}</div>' if p.likes else ""
    return f"""<div id="p{p.id}" class="post has-profile bg{2 - i % 2}">
<div class="inner">
<dl class="postprofile" id="profile{p.id}">
<dt class="has-profile-rank no-avatar"><div class="avatar-container"></div><a href="{prof}" class="username">{esc(p.author)}</a></dt>
<dd class="profile-rank">{esc(a.title or "")}</dd>
<dd class="profile-posts"><strong>Сообщения:</strong> <a href="{P}/search.php?author_id={a.user_id}&amp;sr=posts">{a.posts or 1}</a></dd>
<dd class="profile-joined"><strong>Зарегистрирован:</strong> {esc(a.joined or "12 ноя 2013, 17:16")}</dd>
</dl>
<div class="postbody">
<div id="post_content{p.id}">
<h3{' class="first"' if p.n == 1 else ""}><a href="#p{p.id}">{esc(("Re: " if p.n > 1 else "") + t.title)}</a></h3>
<p class="author"><a class="unread" href="{P}/viewtopic.php?p={p.id}#p{p.id}" title="Сообщение"><i class="icon fa-file fa-fw icon-lightgray icon-md" aria-hidden="true"></i><span class="sr-only">Сообщение</span></a>
<span class="responsive-hide"><strong><a href="{prof}" class="username">{esc(p.author)}</a></strong> &raquo; </span>{_time(when)}</p>
<div class="content">{quote}{text_html(p.text)}</div>
{likes}
{sig_html}
</div>
</div>
<div class="back2top"><a href="#top" class="top" title="Вернуться к началу"><i class="icon fa-chevron-circle-up fa-fw icon-gray" aria-hidden="true"></i><span class="sr-only">Вернуться к началу</span></a></div>
</div>
</div>
<hr class="divider" />"""


def _topic(site: Site, thread_id: int, start: int, now: datetime) -> Page:
    t = site.thread(thread_id)
    if t is None or start < 0 or start % POSTS_PER_PAGE or (start and start >= len(t.posts)):
        raise NotFound
    times = thread_times(t, now)
    by_n = {p.n: p for p in t.posts}
    posts = t.posts[start : start + POSTS_PER_PAGE]
    items = [
        _post(site, t, p, times[p.n], (by_n[p.quote], times[p.quote]) if p.quote else None, i)
        for i, p in enumerate(posts)
    ]
    href = f"{P}/viewtopic.php?t={t.id}"
    pag = _pagination(
        href, start, len(t.posts), f"{len(t.posts)} {'сообщение' if len(t.posts) == 1 else 'сообщений'} &bull; "
    )
    b = site.board_of(t)
    body = (
        f'<h2 class="topic-title"><a href="{href}">{esc(t.title)}</a></h2>'
        f'<div class="action-bar bar-top">{pag}</div>{"".join(items)}<div class="action-bar bar-bottom">{pag}</div>'
    )
    crumbs = f'<span class="crumb"><a href="{P}/viewforum.php?f={b.id}"><span itemprop="name">{esc(b.title)}</span></a></span>'
    pg = _layout(site, t.title, body, crumbs)
    pg.last_modified = max(times[p.n] for p in posts)
    return pg


def render(site: Site, path: str, query: dict, now: datetime) -> Page:
    if path in ("/", "/index.php"):
        return _index(site, now)
    if path == "/viewforum.php":
        return _forum(site, int_arg(query, "f", 0), int_arg(query, "start", 0), now)
    if path == "/viewtopic.php":
        if "p" in query and "t" not in query:
            pid = int_arg(query, "p", 0)
            for t in site.threads():
                for p in t.posts:
                    if p.id == pid:
                        st = (p.n - 1) // POSTS_PER_PAGE * POSTS_PER_PAGE
                        return _topic(site, t.id, st, now)
            raise NotFound
        return _topic(site, int_arg(query, "t", 0), int_arg(query, "start", 0), now)
    raise NotFound


def post_url(site: Site, t: Thread, post: Post) -> str:
    st = (post.n - 1) // POSTS_PER_PAGE * POSTS_PER_PAGE
    return f"{P}/viewtopic.php?t={t.id}" + (f"&start={st}" if st else "") + f"#p{post.id}"
