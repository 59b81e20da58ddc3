"""vBulletin 4 markup, served in windows-1251: /vb/ (forum.php), forumdisplay.php?f=N&page=K, showthread.php?t=N&page=K."""

from __future__ import annotations

from datetime import datetime

from demo.web.common import (
    POSTS_PER_PAGE,
    THREADS_PER_PAGE,
    NotFound,
    Page,
    board_page,
    esc,
    int_arg,
    last_activity,
    n_pages,
    signature_of,
    snippet,
    text_html,
    thread_page,
    trap_links,
    vb_date,
)
from demo.web.corpus import Post, Site, Thread

P = "/vb"
CHARSET = "windows-1251"


def _date(dt: datetime, now: datetime) -> str:
    day, hm = vb_date(dt, now)
    return f'<span class="date">{day},&nbsp;<span class="time">{hm}</span></span>'


def _plain_date(dt: datetime, now: datetime) -> str:
    day, hm = vb_date(dt, now)
    return f"{day}, {hm}"


def _layout(site: Site, title: str, body: str, nav: str = "") -> Page:
    html = f"""<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" dir="ltr" lang="ru" id="vbulletin_html">
<head>
<meta http-equiv="Content-Type" content="text/html; charset=windows-1251" />
<meta name="generator" content="vBulletin 4.2.5" />
<title>{esc(title)} - {esc(site.title)}</title>
<link rel="stylesheet" type="text/css" href="{P}/clientscript/vbulletin_css/style00001l/main-rollup.css?d=1700000000" />
</head>
<body>
<div class="above_body"><div id="header" class="floatcontainer doc_header">
<div><a name="top" href="{P}/forum.php" class="logo-image"><img src="{P}/images/misc/vbulletin4_logo.png" alt="{esc(site.title)}" /></a></div>
</div></div>
<div class="body_wrapper">
<div id="breadcrumb" class="breadcrumb"><ul class="floatcontainer">
<li class="navbithome"><a href="{P}/forum.php" accesskey="1"><img src="{P}/images/misc/navbit-home.png" alt="Главная" /></a></li>
{nav}
</ul><hr /></div>
{body}
</div>
<div id="footer" class="floatcontainer footer">{trap_links()}
<div id="footer_copyright" class="shade footer_copyright">Powered by <a href="https://www.vbulletin.com" id="vbulletinlink">vBulletin&reg;</a> Version 4.2.5<br />Copyright &copy; 2024 vBulletin Solutions, Inc. All rights reserved.<br />Перевод: zCarot</div>
</div>
</body>
</html>
"""
    return Page(html, charset=CHARSET)


def _pagination(href: str, page: int, total: int, where: str) -> str:
    if total <= 1:
        return ""
    links = []
    for k in range(1, total + 1):
        if k == page:
            links.append(
                f'<span class="selected"><a href="javascript://" title="Показано с {(k - 1) * 10 + 1}">{k}</a></span>'
            )
        else:
            links.append(f'<span><a href="{href}&amp;page={k}" title="Показано с {(k - 1) * 10 + 1}">{k}</a></span>')
    prev = (
        f'<span class="prev_next"><a rel="prev" href="{href}&amp;page={page - 1}" title="Предыдущая страница">'
        f'<img src="{P}/images/pagination/previous-right.png" alt="Предыдущая" /></a></span>'
        if page > 1
        else ""
    )
    nxt = (
        f'<span class="prev_next"><a rel="next" href="{href}&amp;page={page + 1}" title="Следующая страница">'
        f'<img src="{P}/images/pagination/next-right.png" alt="Следующая" /></a></span>'
        if page < total
        else ""
    )
    return (
        f'<div id="pagination_{where}" class="pagination_{where}"><form action="{P}/" method="get" class="pagination popupmenu nohovermenu">'
        f'<span><a href="javascript://" class="popupctrl">Страница {page} из {total}</a></span>'
        f"{prev}{''.join(links)}{nxt}</form></div>"
    )


def _index(site: Site, now: datetime) -> Page:
    rows = []
    for b in site.boards:
        last = max((last_activity(t, now) for t in b.threads), default=now)
        rows.append(f"""<li id="forum{b.id}" class="forumbit_post old L2">
<div class="forumrow table"><div class="foruminfo td"><img src="{P}/images/statusicon/forum_old-48.png" class="forumicon" id="forum_statusicon_{b.id}" alt="" />
<div class="forumdata"><div class="datacontainer"><div class="titleline">
<h2 class="forumtitle"><a href="{P}/forumdisplay.php?f={b.id}">{esc(b.title)}</a></h2></div>
<p class="forumdescription">{esc(b.description)}</p></div></div></div>
<h4 class="nocss_label">Действия:</h4>
<ul class="forumstats_2 td"><li>Тем: {len(b.threads)}</li><li>Сообщений: {sum(len(t.posts) for t in b.threads)}</li></ul>
<div class="forumlastpost td"><p class="lastpostdate">{_date(last, now)}</p></div>
</div></li>""")
    body = f'<ol id="forums" class="floatcontainer"><li id="cat1" class="forumbit_nopost L1"><ol id="childforum_for_1" class="childforum">{"".join(rows)}</ol></li></ol>'
    return _layout(site, "Форум", body)


def _forum(site: Site, board_id: int, page: int, now: datetime) -> Page:
    b, on_page, total = board_page(site, board_id, page, THREADS_PER_PAGE, now)
    rows = []
    for t in on_page:
        times = t.times(now)
        starter, last = t.posts[0], t.posts[-1]
        sa, la = site.author(starter.author), site.author(last.author)
        pages = n_pages(len(t.posts), POSTS_PER_PAGE)
        links = " ".join(
            f'<span><a href="{P}/showthread.php?t={t.id}&amp;page={k}">{k}</a></span>' for k in range(1, pages + 1)
        )
        pagelinks = (
            ""
            if pages == 1
            else f'<dl class="pagination" id="pagination_threadbit_{t.id}"><dt class="label">Страниц: {pages} <span class="separator">&bull;</span></dt><dd>{links}</dd></dl>'
        )
        sticky = "sticky " if t.sticky else ""
        rows.append(f"""<li class="threadbit {sticky}hot" id="thread_{t.id}">
<div class="rating0 nonsticky"><div class="threadinfo" title="{esc(snippet(starter.text, 120))}">
<div class="inner"><h3 class="threadtitle">{'<span class="prefix understate">Важно: </span>' if t.sticky else ""}<a class="title" href="{P}/showthread.php?t={t.id}" id="thread_title_{t.id}">{esc(t.title)}</a></h3>
<div class="threadmeta"><div class="author"><span class="label">Автор <a href="{P}/member.php?u={sa.user_id}" class="username understate" title="Автор темы {esc(starter.author)}">{esc(starter.author)}</a>&lrm;, {_plain_date(times[0], now)}</span>
{pagelinks}</div></div></div></div>
<ul class="threadstats td alt" title=""><li>Ответов: <a href="{P}/misc.php?do=whoposted&amp;t={t.id}" class="understate">{len(t.posts) - 1}</a></li><li>Просмотров: {t.views}</li></ul>
<dl class="threadlastpost td"><dt class="lastpostby hidden">Последнее сообщение от</dt><dd><div class="popupmenu memberaction"><a class="username offline popupctrl" href="{P}/member.php?u={la.user_id}"><strong>{esc(last.author)}</strong></a></div></dd>
<dd>{_plain_date(times[-1], now)} <a href="{P}/showthread.php?t={t.id}&amp;p={last.id}#post{last.id}" class="lastpostdate understate" title="К последнему сообщению"><img src="{P}/images/buttons/lastpost-right.png" alt="К последнему сообщению" /></a></dd></dl>
</div></li>""")
    href = f"{P}/forumdisplay.php?f={b.id}"
    body = (
        f'<div id="above_threadlist" class="above_threadlist">{_pagination(href, page, total, "top")}</div>'
        f'<div id="threadlist" class="threadlist"><form id="thread_inlinemod_form" action="{P}/inlinemod.php?forumid={b.id}" method="post">'
        f'<h2 class="hidden">Темы в разделе {esc(b.title)}</h2><div><ol id="threads" class="threads">{"".join(rows)}</ol></div></form></div>'
        f'<div id="below_threadlist" class="noinlinemod below_threadlist">{_pagination(href, page, total, "bottom")}</div>'
    )
    nav = f'<li class="navbit lastnavbit"><span>{esc(b.title)}</span></li>'
    pg = _layout(site, b.title, body, nav)
    pg.last_modified = max((last_activity(t, now) for t in b.threads), default=now)
    return pg


def _post(site: Site, t: Thread, p: Post, when: datetime, quoted: Post | None, now: datetime) -> str:
    a = site.author(p.author)
    quote = ""
    if quoted:
        quote = f"""<div class="bbcode_container">
	<div class="bbcode_description">Цитата:</div>
	<div class="bbcode_quote">
		<div class="quote_container">
			<div class="bbcode_quote_container"></div>
				<div class="bbcode_postedby">
					<img src="{P}/images/misc/quote_icon.png" alt="Цитата" /> Сообщение от <strong>{esc(quoted.author)}</strong>
					<a href="{P}/showthread.php?p={quoted.id}#post{quoted.id}" rel="nofollow"><img class="inlineimg" src="{P}/images/buttons/viewpost-right.png" alt="Посмотреть сообщение" /></a>
				</div>
				<div class="message">{text_html(snippet(quoted.text))}</div>
		</div>
	</div>
</div>"""
    sig = signature_of(site, p)
    sig_html = (
        f'<div class="after_content"><div class="signature restore"><div class="signaturecontainer">'
        f"{text_html(sig)}</div></div></div>"
        if sig
        else ""
    )
    likes = (
        f'<div class="postfoot"><div class="textcontrols floatcontainer"><span class="postlike">Поблагодарили: '
        f'<strong class="likes_count">{p.likes}</strong></span></div></div>'
        if p.likes
        else ""
    )
    return f"""<li class="postbitlegacy postbitim postcontainer old" id="post_{p.id}">
<div class="posthead">
	<span class="postdate old">{_date(when, now)}</span>
	<span class="nodecontrols"><a name="post{p.id}" href="{P}/showthread.php?t={t.id}&amp;p={p.id}#post{p.id}" class="postcounter">#{p.n}</a><a id="postcount{p.id}" name="{p.n}"></a></span>
</div>
<div class="postdetails">
	<div class="userinfo">
		<div class="username_container">
			<div class="popupmenu memberaction"><a class="username offline popupctrl" href="{P}/member.php?u={a.user_id}" title="{esc(p.author)} вне форума"><strong>{esc(p.author)}</strong></a></div>
		</div>
		<span class="usertitle">{esc(a.title or "Пользователь")}</span>
		<hr />
		<dl class="userinfo_extra">
			<dt>Регистрация</dt> <dd>{esc(a.joined or "05.03.2012")}</dd>
			<dt>Сообщений</dt> <dd>{a.posts or 1}</dd>
		</dl>
	</div>
	<div class="postbody">
		<div class="postrow">
			<h2 class="title icon">{esc("Re: " + t.title if p.n > 1 else t.title)}</h2>
			<div class="content">
				<div id="post_message_{p.id}">
					<blockquote class="postcontent restore ">
						{quote}{text_html(p.text)}
					</blockquote>
				</div>
			</div>
		</div>
		{sig_html}
		<div class="cleardiv"></div>
	</div>
</div>
{likes}
<hr />
</li>"""


def _thread(site: Site, thread_id: int, page: int, now: datetime) -> Page:
    t, times, by_n, posts, total = thread_page(site, thread_id, page, POSTS_PER_PAGE, now)
    items = [_post(site, t, p, times[p.n], by_n.get(p.quote) if p.quote else None, now) for p in posts]
    href = f"{P}/showthread.php?t={t.id}"
    b = site.board_of(t)
    body = (
        f'<div id="pagetitle" class="pagetitle"><h1>Тема: <span class="threadtitle"><a href="{href}" title="Перезагрузить страницу">{esc(t.title)}</a></span></h1></div>'
        f'<div id="above_postlist" class="above_postlist">{_pagination(href, page, total, "top")}'
        f'<div id="postpagestats_above" class="postpagestats">Показано с {(page - 1) * POSTS_PER_PAGE + 1} по {(page - 1) * POSTS_PER_PAGE + len(posts)} из {len(t.posts)}</div></div>'
        f'<div id="postlist" class="postlist restrain"><ol id="posts" class="posts" start="{(page - 1) * POSTS_PER_PAGE + 1}">{"".join(items)}</ol></div>'
        f'<div id="below_postlist" class="noinlinemod below_postlist">{_pagination(href, page, total, "bottom")}</div>'
    )
    nav = (
        f'<li class="navbit"><a href="{P}/forumdisplay.php?f={b.id}">{esc(b.title)}</a></li>'
        f'<li class="navbit lastnavbit"><span>{esc(t.title)}</span></li>'
    )
    pg = _layout(site, t.title + (f" - Страница {page}" if page > 1 else ""), body, nav)
    pg.last_modified = max(times[p.n] for p in posts)
    return pg


def render(site: Site, path: str, query: dict, now: datetime) -> Page:
    if path in ("/", "/forum.php", "/index.php"):
        return _index(site, now)
    if path == "/forumdisplay.php":
        return _forum(site, int_arg(query, "f", 0), int_arg(query, "page", 1), now)
    if path == "/showthread.php":
        if "p" in query and "t" not in query:  # post permalink: redirect to its page, as vBulletin does
            pid = int_arg(query, "p", 0)
            for t in site.threads():
                for p in t.posts:
                    if p.id == pid:
                        return Page("", status=301, headers={"Location": post_url(site, t, p)})
            raise NotFound
        return _thread(site, int_arg(query, "t", 0), int_arg(query, "page", 1), now)
    raise NotFound


def post_url(site: Site, t: Thread, post: Post) -> str:
    k = (post.n - 1) // POSTS_PER_PAGE + 1
    return f"{P}/showthread.php?t={t.id}" + (f"&page={k}" if k > 1 else "") + f"#post{post.id}"
