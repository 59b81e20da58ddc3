"""XenForo 2 markup: /xf/, /xf/forums/<slug>.N/[page-K], /xf/threads/<slug>.N/[page-K]."""

from __future__ import annotations

import re
from datetime import datetime

from demo.web.common import (
    POSTS_PER_PAGE,
    THREADS_PER_PAGE,
    NotFound,
    Page,
    board_page,
    esc,
    iso,
    last_activity,
    n_pages,
    phpbb_date,
    signature_of,
    snippet,
    text_html,
    thread_page,
    trap_links,
    xf_relative,
)
from demo.web.corpus import MSK, Post, Site, Thread, slugify

P = "/xf"


def _time(dt: datetime, now: datetime) -> str:
    d = dt.astimezone(MSK)
    ds = phpbb_date(dt).split(",")[0]
    return (
        f'<time class="u-dt" dir="auto" datetime="{iso(dt, sep_colon=False)}" data-time="{int(dt.timestamp())}" '
        f'data-date-string="{esc(ds)}" data-time-string="{d:%H:%M}" title="{esc(ds)} в {d:%H:%M}">'
        f"{esc(xf_relative(dt, now))}</time>"
    )


def _member(site: Site, name: str) -> str:
    a = site.author(name)
    return f"{P}/members/{esc(slugify(name))}.{a.user_id}/"


def _layout(site: Site, title: str, body: str, crumbs: str = "") -> str:
    return f"""<!DOCTYPE html>
<html id="XF" lang="ru-RU" dir="LTR" data-app="public" data-template="thread_view" data-container-key="" data-content-key="" data-logged-in="false" class="has-no-js template-thread_view">
<head>
<meta charset="utf-8" />
<meta http-equiv="X-UA-Compatible" content="IE=Edge" />
<meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover">
<title>{esc(title)} | {esc(site.title)}</title>
<link rel="stylesheet" href="{P}/css.php?css=public%3Anormalize.css%2Cpublic%3Acore.less%2Cpublic%3Aapp.less&amp;s=1&amp;l=2" />
</head>
<body data-template="thread_view">
<div class="p-pageWrapper" id="top">
<header class="p-header" id="header"><div class="p-header-inner"><div class="p-header-content">
<div class="p-header-logo p-header-logo--image"><a href="{P}/">{esc(site.title)}</a></div>
</div></div></header>
<div class="p-body"><div class="p-body-inner">
<ul class="p-breadcrumbs" itemscope itemtype="https://schema.org/BreadcrumbList">
<li itemprop="itemListElement" itemscope itemtype="https://schema.org/ListItem"><a href="{P}/" itemprop="item"><span itemprop="name">Форумы</span></a></li>{crumbs}
</ul>
<div class="p-body-header"><div class="p-title "><h1 class="p-title-value">{esc(title)}</h1></div></div>
<div class="p-body-main"><div class="p-body-content"><div class="p-body-pageContent">
{body}
</div></div></div>
</div></div>
<footer class="p-footer" id="footer"><div class="p-footer-inner">{trap_links()}
<div class="p-footer-copyright">Community platform by XenForo<sup>&reg;</sup> &copy; 2010-2024 XenForo Ltd.</div></div></footer>
</div>
</body>
</html>
"""


def _page_nav(base: str, page: int, total: int) -> str:
    if total <= 1:
        return ""
    items = []
    for k in range(1, total + 1):
        href = base if k == 1 else f"{base}page-{k}"
        cur = " pageNav-page--current" if k == page else ""
        items.append(f'<li class="pageNav-page{cur}"><a href="{href}">{k}</a></li>')
    prev = (
        (
            f'<a href="{base if page == 2 else f"{base}page-{page - 1}"}" class="pageNav-jump pageNav-jump--prev">'
            "Назад</a>"
        )
        if page > 1
        else ""
    )
    nxt = f'<a href="{base}page-{page + 1}" class="pageNav-jump pageNav-jump--next">Вперёд</a>' if page < total else ""
    return (
        f'<div class="block-outer"><div class="block-outer-main"><nav class="pageNavWrapper pageNavWrapper--mixed">'
        f'<div class="pageNav  ">{prev}<ul class="pageNav-main">{"".join(items)}</ul>{nxt}</div>'
        f'<div class="pageNavSimple"><span class="pageNavSimple-el pageNavSimple-el--current">{page} из {total}'
        f"</span></div></nav></div></div>"
    )


def _index(site: Site, now: datetime) -> Page:
    nodes = []
    for b in site.boards:
        last = max((last_activity(t, now) for t in b.threads), default=now)
        n_msgs = sum(len(t.posts) for t in b.threads)
        nodes.append(f"""<div class="node node--forum node--id{b.id} node--depth2 node--read">
<div class="node-body"><span class="node-icon" aria-hidden="true"><i></i></span>
<div class="node-main js-nodeMain"><h3 class="node-title"><a href="{P}/forums/{esc(b.slug)}.{b.id}/" data-xf-init="element-tooltip" data-shortcut="node-description">{esc(b.title)}</a></h3>
<div class="node-description node-description--tooltip js-nodeDescTooltip">{esc(b.description)}</div></div>
<div class="node-stats"><dl class="pairs pairs--rows"><dt>Темы</dt><dd>{len(b.threads)}</dd></dl>
<dl class="pairs pairs--rows"><dt>Сообщения</dt><dd>{n_msgs}</dd></dl></div>
<div class="node-extra">{_time(last, now)}</div></div></div>""")
    body = (
        '<div class="block block--category block--category1"><div class="block-container">'
        '<h2 class="block-header"><a href="#">Основные разделы</a></h2><div class="block-body">'
        + "\n".join(nodes)
        + "</div></div></div>"
    )
    return Page(_layout(site, site.title, body), last_modified=now)


def _forum(site: Site, board_id: int, slug: str, page: int, now: datetime) -> Page:
    b, on_page, total = board_page(site, board_id, page, THREADS_PER_PAGE, now)
    rows = []
    for t in on_page:
        times = t.times(now)
        first = t.posts[0] if t.posts else None
        starter = first.author if first else ""
        sticky = " structItem--sticky" if t.sticky else ""
        rows.append(f"""<div class="structItem structItem--thread{sticky} js-inlineModContainer js-threadListItem-{t.id}" data-author="{esc(starter)}">
<div class="structItem-cell structItem-cell--main" data-xf-init="touch-proxy">
<div class="structItem-title"><a href="{P}/threads/{esc(t.slug)}.{t.id}/" class="" data-tp-primary="on" data-xf-init="preview-tooltip">{esc(t.title)}</a></div>
<div class="structItem-minor"><ul class="structItem-parts">
<li><a href="{_member(site, starter)}" class="username " dir="auto" data-user-id="{site.author(starter).user_id}">{esc(starter)}</a></li>
<li class="structItem-startDate"><a href="{P}/threads/{esc(t.slug)}.{t.id}/" rel="nofollow">{_time(times[0], now) if times else ""}</a></li>
</ul></div></div>
<div class="structItem-cell structItem-cell--meta" title="Реакции на первое сообщение: {first.likes if first else 0}">
<dl class="pairs pairs--justified"><dt>Ответы</dt><dd>{max(0, len(t.posts) - 1)}</dd></dl>
<dl class="pairs pairs--justified structItem-minor"><dt>Просмотры</dt><dd>{t.views}</dd></dl></div>
<div class="structItem-cell structItem-cell--latest">
<a href="{P}/threads/{esc(t.slug)}.{t.id}/latest" rel="nofollow">{_time(times[-1], now) if times else ""}</a>
<div class="structItem-minor"><a href="{_member(site, t.posts[-1].author) if t.posts else "#"}" class="username " dir="auto">{esc(t.posts[-1].author if t.posts else "")}</a></div>
</div></div>""")
    base = f"{P}/forums/{esc(b.slug)}.{b.id}/"
    nav = _page_nav(base, page, total)
    body = (
        nav + '<div class="block block--threadList"><div class="block-container"><div class="block-body">'
        '<div class="structItemContainer"><div class="structItemContainer-group js-threadList">'
        + "\n".join(rows)
        + "</div></div></div></div></div>"
        + nav
    )
    crumbs = (
        f'<li itemprop="itemListElement" itemscope itemtype="https://schema.org/ListItem">'
        f'<a href="{base}" itemprop="item"><span itemprop="name">{esc(b.title)}</span></a></li>'
    )
    last = max((last_activity(t, now) for t in b.threads), default=now)
    return Page(_layout(site, b.title, body, crumbs), last_modified=last)


def _reactions(site: Site, post: Post) -> str:
    if not post.likes:
        return '<div class="reactionsBar js-reactionsList "></div>'
    names = [n for n in site.authors if n != post.author][: min(post.likes, 3)] or ["Гость"]
    names = names[: post.likes]
    more = post.likes - len(names)
    who = ", ".join(f"<bdi>{esc(n)}</bdi>" for n in names)
    tail = f" и ещё {more}" if more > 0 else ""
    return (
        f'<div class="reactionsBar js-reactionsList is-active"><ul class="reactionSummary"><li><span class="reaction reaction--small reaction--1" data-reaction-id="1">'
        f'<i aria-hidden="true"></i><img src="data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7" class="reaction-sprite js-reaction" alt="Нравится" title="Нравится" /></span></li></ul>'
        f'<span class="u-srOnly">Реакции:</span><a class="reactionsBar-link" href="{P}/posts/{post.id}/reactions" data-xf-click="overlay" data-cache="false" rel="nofollow">{who}{tail}</a></div>'
    )


def _post(
    site: Site, t: Thread, post: Post, when: datetime, quoted: tuple[Post, datetime] | None, now: datetime
) -> str:
    a = site.author(post.author)
    quote = ""
    if quoted:
        qp, _ = quoted
        qa = site.author(qp.author)
        quote = (
            f'<blockquote data-attributes="member: {qa.user_id}" data-quote="{esc(qp.author)}" data-source="post: {qp.id}" '
            f'class="bbCodeBlock bbCodeBlock--expandable bbCodeBlock--quote js-expandWatch">'
            f'<div class="bbCodeBlock-title"><a href="{P}/goto/post?id={qp.id}" class="bbCodeBlock-sourceJump" rel="nofollow" '
            f'data-xf-click="attribution" data-content-selector="#post-{qp.id}">{esc(qp.author)} сказал(а):</a></div>'
            f'<div class="bbCodeBlock-content"><div class="bbCodeBlock-expandContent js-expandContent ">'
            f'{text_html(snippet(qp.text))}</div><div class="bbCodeBlock-expandLink js-expandLink"><a role="button" tabindex="0">Нажмите для раскрытия...</a></div></div></blockquote>'
        )
    sig = signature_of(site, post)
    sig_html = f'<aside class="message-signature"><div class="bbWrapper">{text_html(sig)}</div></aside>' if sig else ""
    link = f"{P}/threads/{esc(t.slug)}.{t.id}/post-{post.id}"
    return f"""<article class="message message--post js-post js-inlineModContainer  " data-author="{esc(post.author)}" data-content="post-{post.id}" id="js-post-{post.id}" itemscope itemtype="https://schema.org/Comment" itemid="{link}">
<span class="u-anchorTarget" id="post-{post.id}"></span>
<div class="message-inner">
<div class="message-cell message-cell--user">
<section class="message-user" itemprop="author" itemscope itemtype="https://schema.org/Person" itemid="{_member(site, post.author)}">
<div class="message-userDetails">
<h4 class="message-name"><a href="{_member(site, post.author)}" class="username " dir="auto" data-user-id="{a.user_id}" data-xf-init="member-tooltip"><span itemprop="name">{esc(post.author)}</span></a></h4>
<h5 class="userTitle message-userTitle" dir="auto" itemprop="jobTitle">{esc(a.title or "Участник")}</h5>
</div>
<div class="message-userExtras">
<dl class="pairs pairs--justified"><dt>Регистрация</dt><dd>{esc(a.joined or "12.03.2019")}</dd></dl>
<dl class="pairs pairs--justified"><dt>Сообщения</dt><dd>{a.posts or 0}</dd></dl>
</div>
<span class="message-userArrow"></span>
</section>
</div>
<div class="message-cell message-cell--main">
<div class="message-main js-quickEditTarget">
<header class="message-attribution message-attribution--split">
<ul class="message-attribution-main listInline ">
<li class="u-concealed"><a href="{link}" rel="nofollow" itemprop="url">{_time(when, now)}</a></li>
</ul>
<ul class="message-attribution-opposite message-attribution-opposite--list ">
<li><a href="{link}" class="message-attribution-gadget" data-xf-init="share-tooltip" data-href="{P}/posts/{post.id}/share" rel="nofollow">#{post.n}</a></li>
</ul>
</header>
<div class="message-content js-messageContent">
<div class="message-userContent lbContainer js-lbContainer " data-lb-id="post-{post.id}" data-lb-caption-desc="{esc(post.author)} &middot; {esc(phpbb_date(when))}">
<article class="message-body js-selectToQuote">
<div itemprop="text"><div class="bbWrapper">{quote}{text_html(post.text)}</div></div>
<div class="js-selectToQuoteEnd">&nbsp;</div>
</article>
</div>
{sig_html}
</div>
<footer class="message-footer">
<div class="message-actionBar actionBar"><div class="actionBar-set actionBar-set--external">
<a href="{P}/posts/{post.id}/react?reaction_id=1" class="reaction reaction--small actionBar-action actionBar-action--reaction" data-th-direction="" data-xf-init="reaction" data-reaction-list="< .js-post | .js-reactionsList" rel="nofollow"><span class="reaction-text js-reactionText"><bdi>Нравится</bdi></span></a>
</div></div>
{_reactions(site, post)}
</footer>
</div>
</div>
</div>
</article>"""


def _thread(site: Site, thread_id: int, slug: str, page: int, now: datetime) -> Page:
    t, times, by_n, posts, total = thread_page(site, thread_id, page, POSTS_PER_PAGE, now)
    arts = []
    for p in posts:
        q = (by_n[p.quote], times[p.quote]) if p.quote else None
        arts.append(_post(site, t, p, times[p.n], q, now))
    base = f"{P}/threads/{esc(t.slug)}.{t.id}/"
    nav = _page_nav(base, page, total)
    b = site.board_of(t)
    crumbs = (
        f'<li itemprop="itemListElement" itemscope itemtype="https://schema.org/ListItem">'
        f'<a href="{P}/forums/{esc(b.slug)}.{b.id}/" itemprop="item"><span itemprop="name">{esc(b.title)}</span></a></li>'
    )
    body = (
        nav
        + f'<div class="block block--messages" data-xf-init="" data-type="post" data-href="{P}/inline-mod/" data-search-target="*">'
        '<div class="block-container lbContainer"><div class="block-body js-replyNewMessageContainer">'
        + "\n".join(arts)
        + "</div></div></div>"
        + nav
    )
    title = t.title + (f" | Страница {page}" if page > 1 else "")
    last = max(times[p.n] for p in posts) if posts else now
    return Page(_layout(site, title, body, crumbs), last_modified=last)


_FORUM = re.compile(r"^/forums/([^/]*?)\.(\d+)/(?:page-(\d+))?$")
_THREAD = re.compile(r"^/threads/([^/]*?)\.(\d+)/(?:page-(\d+)|latest|post-(\d+))?$")


def render(site: Site, path: str, query: dict, now: datetime) -> Page:
    if path in ("", "/", "/index.php", "/forums/"):
        return _index(site, now)
    m = _FORUM.match(path)
    if m:
        return _forum(site, int(m.group(2)), m.group(1), int(m.group(3) or 1), now)
    m = _THREAD.match(path)
    if m:
        t = site.thread(int(m.group(2)))
        if t is None:
            raise NotFound
        if path.endswith("/latest"):
            return Page("", status=302, headers={"Location": _last_page_url(t)})
        if m.group(4):  # post permalink: redirect to the page holding it, like XenForo
            n = next((p.n for p in t.posts if p.id == int(m.group(4))), None)
            if n is None:
                raise NotFound
            k = (n - 1) // POSTS_PER_PAGE + 1
            return Page(
                "",
                status=302,
                headers={
                    "Location": f"{P}/threads/{t.slug}.{t.id}/" + (f"page-{k}" if k > 1 else "") + f"#post-{m.group(4)}"
                },
            )
        return _thread(site, t.id, m.group(1), int(m.group(3) or 1), now)
    raise NotFound


def _last_page_url(t: Thread) -> str:
    k = n_pages(len(t.posts), POSTS_PER_PAGE)
    return f"{P}/threads/{t.slug}.{t.id}/" + (f"page-{k}" if k > 1 else "")


def post_url(site: Site, t: Thread, post: Post) -> str:
    k = (post.n - 1) // POSTS_PER_PAGE + 1
    return f"{P}/threads/{t.slug}.{t.id}/" + (f"page-{k}" if k > 1 else "") + f"#post-{post.id}"
