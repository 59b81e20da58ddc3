"""Invision Community 4 markup: /ipb/, /ipb/forum/N-slug/[page/K/], /ipb/topic/N-slug/[page/K/]."""

from __future__ import annotations

import json
import re
from datetime import datetime

from demo.web.common import (
    POSTS_PER_PAGE,
    THREADS_PER_PAGE,
    NotFound,
    Page,
    board_page,
    esc,
    iso_z,
    last_activity,
    local,
    signature_of,
    snippet,
    text_html,
    thread_page,
    trap_links,
)
from demo.web.corpus import Post, Site, Thread, slugify

P = "/ipb"
MONTHS = [
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


def _time(dt: datetime, now: datetime) -> str:
    d = local(dt)
    days = (now - dt).days
    short = f"{days} дн" if days else f"{max(1, int((now - dt).total_seconds() // 3600))} ч"
    return (
        f"<time datetime='{iso_z(dt)}' title='{d:%d.%m.%Y %H:%M} ' data-short='{short}'>"
        f"{d.day} {MONTHS[d.month - 1]}</time>"
    )


def _profile(site: Site, name: str) -> str:
    return f"{P}/profile/{site.author(name).user_id}-{slugify(name)}/"


def _layout(site: Site, title: str, body: str, crumbs: str = "") -> Page:
    html = f"""<!DOCTYPE html>
<html lang="ru-RU" dir="ltr">
<head>
<meta charset="utf-8">
<title>{esc(title)} - {esc(site.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta property="og:site_name" content="{esc(site.title)}">
</head>
<body class="ipsApp ipsApp_front ipsJS_none ipsClearfix" data-controller="core.front.core.app" data-pageapp="forums" data-pagelocation="front">
<div id="ipsLayout_header" class="ipsClearfix"><header><div class="ipsLayout_container ipsFlex ipsFlex-jc:between ipsFlex-ai:center">
<a href="{P}/" id="elSiteTitle" accesskey="1">{esc(site.title)}</a></div></header>
<nav data-controller="core.front.core.navBar" class="ipsNavBar_noSubBars"></nav></div>
<main id="ipsLayout_body" class="ipsLayout_container"><div id="ipsLayout_contentArea"><div id="ipsLayout_contentWrapper"><div id="ipsLayout_mainArea">
<nav class="ipsBreadcrumb ipsBreadcrumb_top ipsFaded_withHover"><ul data-role="breadcrumbList"><li><a href="{P}/"><span>Главная <i class="fa fa-angle-right"></i></span></a></li>{crumbs}</ul></nav>
{body}
</div></div></div></main>
<footer id="ipsLayout_footer" class="ipsClearfix"><div class="ipsLayout_container">{trap_links()}<p id="elCopyright"><span id="elCopyright_userLine">{esc(site.title)}</span> <a rel="nofollow" title="Invision Community" href="https://www.invisioncommunity.com/">Powered by Invision Community</a></p></div></footer>
</body>
</html>
"""
    return Page(html)


def _pagination(base: str, page: int, total: int) -> str:
    if total <= 1:
        return ""
    items = []
    if page > 1:
        prev = base if page == 2 else f"{base}page/{page - 1}/"
        items.append(
            f'<li class="ipsPagination_prev"><a href="{prev}" title="Предыдущая страница" rel="prev" data-page="{page - 1}">Назад</a></li>'
        )
    for k in range(1, total + 1):
        href = base if k == 1 else f"{base}page/{k}/"
        active = " ipsPagination_active" if k == page else ""
        items.append(f'<li class="ipsPagination_page{active}"><a href="{href}" data-page="{k}">{k}</a></li>')
    if page < total:
        items.append(
            f'<li class="ipsPagination_next"><a href="{base}page/{page + 1}/" title="Следующая страница" rel="next" data-page="{page + 1}">Далее</a></li>'
        )
        items.append(
            f'<li class="ipsPagination_last"><a href="{base}page/{total}/" title="Последняя страница" data-page="{total}"><i class="fa fa-angle-double-right"></i></a></li>'
        )
    return (
        f'<div class="ipsButtonBar ipsPad_half ipsClearfix ipsClear"><ul class="ipsPagination" id="elPagination" '
        f'data-pages="{total}" data-ipspagination-pages="{total}">{"".join(items)}'
        f'<li class="ipsPagination_pageJump"><a href="#">Страница {page} из {total}</a></li></ul></div>'
    )


def _index(site: Site, now: datetime) -> Page:
    rows = []
    for b in site.boards:
        rows.append(f"""<li class="cForumRow ipsDataItem ipsDataItem_responsivePhoto ipsClearfix" data-forumid="{b.id}">
<div class="ipsDataItem_icon ipsDataItem_category"><span class="ipsItemStatus ipsItemStatus_large cForumIcon_normal ipsItemStatus_read"><i class="fa fa-comments"></i></span></div>
<div class="ipsDataItem_main"><h4 class="ipsDataItem_title ipsType_large ipsType_break"><a href="{P}/forum/{b.id}-{esc(b.slug)}/">{esc(b.title)}</a></h4>
<div class="ipsDataItem_meta ipsType_richText">{esc(b.description)}</div></div>
<div class="ipsDataItem_stats ipsDataItem_statsLarge"><dl><dt class="ipsDataItem_stats_number">{sum(len(t.posts) for t in b.threads)}</dt><dd class="ipsDataItem_stats_type ipsType_light">сообщений</dd></dl></div>
</li>""")
    body = (
        f'<div class="ipsPageHeader ipsClearfix"><h1 class="ipsType_pageTitle">{esc(site.title)}</h1></div>'
        f'<section><ol class="ipsList_reset cForumList" data-role="forums"><li class="cForumRow ipsBox ipsSpacer_bottom" data-categoryid="1">'
        f'<h2 class="ipsType_sectionTitle ipsType_reset cForumTitle">Форумы</h2><ol class="ipsDataList ipsDataList_large ipsDataList_zebra" data-role="forums">{"".join(rows)}</ol></li></ol></section>'
    )
    return _layout(site, site.title, body)


def _forum(site: Site, board_id: int, page: int, now: datetime) -> Page:
    b, on_page, total = board_page(site, board_id, page, THREADS_PER_PAGE, now)
    rows = []
    for t in on_page:
        times = t.times(now)
        first, last = t.posts[0], t.posts[-1]
        rows.append(f"""<li class="ipsDataItem ipsDataItem_responsivePhoto{" ipsDataItem_sticky" if t.sticky else ""}" data-rowid="{t.id}" data-location="" data-controller="forums.front.forum.topicRow">
<div class="ipsDataItem_main"><h4 class="ipsDataItem_title ipsContained_container"><span class="ipsType_break ipsContained">
<a href="{P}/topic/{t.id}-{esc(t.slug)}/" class="" title="{esc(t.title)}" data-ipshover data-ipshover-target="{P}/topic/{t.id}-{esc(t.slug)}/?preview=1" data-ipshover-timeout="1.5"><span>{esc(t.title)}</span></a></span></h4>
<div class="ipsDataItem_meta ipsType_reset ipsType_light ipsType_blendLinks"><span>Автор <a href="{_profile(site, first.author)}" data-ipshover class="ipsType_break">{esc(first.author)}</a>, </span>{_time(times[0], now)}</div></div>
<ul class="ipsDataItem_stats">
<li data-statType="forums_comments"><span class="ipsDataItem_stats_number">{len(t.posts) - 1}</span><span class="ipsDataItem_stats_type"> ответов</span></li>
<li class="ipsType_light" data-statType="num_views"><span class="ipsDataItem_stats_number">{t.views}</span><span class="ipsDataItem_stats_type"> просмотров</span></li></ul>
<ul class="ipsDataItem_lastPoster ipsDataItem_withPhoto ipsType_blendLinks"><li><a href="{_profile(site, last.author)}" class="ipsType_break">{esc(last.author)}</a></li>
<li class="ipsType_light"><a href="{P}/topic/{t.id}-{esc(t.slug)}/?do=getLastComment" title="Перейти к последнему сообщению" class="ipsType_blendLinks">{_time(times[-1], now)}</a></li></ul>
</li>""")
    base = f"{P}/forum/{b.id}-{b.slug}/"
    pag = _pagination(base, page, total)
    body = (
        f'<div class="ipsPageHeader ipsClearfix"><h1 class="ipsType_pageTitle">{esc(b.title)}</h1></div>{pag}'
        f'<div class="ipsBox"><ol class="ipsClear ipsDataList cForumTopicTable cTopicList" id="elTable_{b.id}" data-role="tableRows">{"".join(rows)}</ol></div>{pag}'
    )
    crumbs = f'<li><a href="{base}"><span>{esc(b.title)}</span></a></li>'
    pg = _layout(site, b.title, body, crumbs)
    pg.last_modified = max((last_activity(t, now) for t in b.threads), default=now)
    return pg


def _post(site: Site, t: Thread, p: Post, when: datetime, quoted: tuple[Post, datetime] | None, now: datetime) -> str:
    a = site.author(p.author)
    link = f"{P}/topic/{t.id}-{t.slug}/?do=findComment&amp;comment={p.id}"
    quote = ""
    if quoted:
        qp, qt = quoted
        qa = site.author(qp.author)
        quote = (
            f'<blockquote class="ipsQuote" data-ipsquote="" data-ipsquote-contentapp="forums" data-ipsquote-contentclass="forums_Topic" '
            f'data-ipsquote-contentcommentid="{qp.id}" data-ipsquote-contentid="{t.id}" data-ipsquote-contenttype="forums" '
            f'data-ipsquote-timestamp="{int(qt.timestamp())}" data-ipsquote-userid="{qa.user_id}" data-ipsquote-username="{esc(qp.author)}">'
            f'<div class="ipsQuote_citation">{esc(qp.author)} написал:</div><div class="ipsQuote_contents"><p>{text_html(snippet(qp.text))}</p></div></blockquote>\n'
        )
    qdata = esc(
        json.dumps(
            {
                "userid": a.user_id,
                "username": p.author,
                "timestamp": int(when.timestamp()),
                "contentapp": "forums",
                "contenttype": "forums",
                "contentid": t.id,
                "contentclass": "forums_Topic",
                "contentcommentid": p.id,
            },
            ensure_ascii=False,
        )
    )
    sig = signature_of(site, p)
    sig_html = (
        f'<div data-role="memberSignature" class="ipsResponsive_hidePhone"><hr class="ipsHr"><div class="ipsType_light ipsType_richText" data-ipsLazyLoad>{text_html(sig, "p")}</div></div>'
        if sig
        else ""
    )
    react = (
        f'<div class="ipsReact_reactCount"><a href="{P}/topic/{t.id}-{t.slug}/?do=showReactionsComment&amp;comment={p.id}" data-ipsTooltip title="Нравится">'
        f'<span><img src="{P}/uploads/reactions/react_like.png" alt="Нравится"></span><span>{p.likes}</span></a></div>'
        if p.likes
        else ""
    )
    return f"""<a id="comment-{p.id}"></a>
<article id="elComment_{p.id}" class="cPost ipsBox ipsResponsive_pull ipsComment ipsComment_parent ipsClearfix ipsClear ipsColumns ipsColumns_noSpacing ipsColumns_collapsePhone">
<div class="cAuthorPane_mobile ipsResponsive_showPhone"></div>
<aside class="ipsComment_author cAuthorPane ipsColumn ipsColumn_medium ipsResponsive_hidePhone">
<h3 class="ipsType_sectionHead cAuthorPane_author ipsType_blendLinks ipsType_break"><strong><a href='{_profile(site, p.author)}' data-ipsHover data-ipsHover-target='{_profile(site, p.author)}?do=hovercard' title="Перейти в профиль {esc(p.author)}" class="ipsType_break">{esc(p.author)}</a></strong></h3>
<ul class="cAuthorPane_info ipsList_reset"><li data-role="group">{esc(a.title or "Пользователи")}</li>
<li data-role="stats" class="ipsMargin_top"><ul class="ipsList_reset ipsType_light ipsFlex ipsFlex-ai:center ipsFlex-jc:center ipsGap_row:2 cAuthorPane_stats"><li><i class="fa fa-comment"></i> {a.posts or 1}</li></ul></li></ul>
</aside>
<div class="ipsColumn ipsColumn_fluid ipsMargin:none">
<div id="comment-{p.id}_wrap" data-controller="core.front.core.comment" data-commentapp="forums" data-commenttype="forums" data-commentid="{p.id}" data-quotedata="{qdata}" class="ipsComment_content ipsType_medium">
<div class="ipsComment_meta ipsType_light ipsFlex ipsFlex-ai:center ipsFlex-jc:between ipsFlex-fd:row-reverse">
<div class="ipsType_light ipsType_blendLinks ipsComment_meta_right"><ul class="ipsList_inline ipsComment_tools"><li><a class="ipsType_blendLinks" href="{link}" data-ipsTooltip title="Поделиться сообщением" data-ipsMenu data-ipsMenu-closeOnClick="false" id="elSharePost_{p.id}" data-role="shareComment"><i class="fa fa-share-alt"></i></a></li></ul></div>
<div class="ipsType_reset ipsResponsive_hidePhone"><a href='{link}' class='ipsType_blendLinks'>Опубликовано {_time(when, now)}</a></div>
</div>
<div class="cPost_contentWrap">
<div data-role="commentContent" class="ipsType_normal ipsType_richText ipsPadding_bottom ipsContained" data-controller="core.front.core.lightboxedImages">
{quote}{text_html(p.text, "p")}
</div>
<div class="ipsItemControls"><div data-controller="core.front.core.reaction" class="ipsItemControls_right ipsClearfix "><div class="ipsReact ipsPos_right">{react}</div></div></div>
{sig_html}
</div>
</div>
</div>
</article>"""


def _topic(site: Site, thread_id: int, page: int, now: datetime) -> Page:
    t, times, by_n, posts, total = thread_page(site, thread_id, page, POSTS_PER_PAGE, now)
    items = [_post(site, t, p, times[p.n], (by_n[p.quote], times[p.quote]) if p.quote else None, now) for p in posts]
    base = f"{P}/topic/{t.id}-{t.slug}/"
    pag = _pagination(base, page, total)
    b = site.board_of(t)
    body = (
        f'<div class="ipsPageHeader ipsResponsive_pull ipsBox ipsPadding sm:ipsPadding:half ipsMargin_bottom"><div class="ipsFlex ipsFlex-ai:center ipsFlex-fw:wrap ipsGap:4">'
        f'<div class="ipsFlex-flex:11"><h1 class="ipsType_pageTitle ipsContained_container"><span class="ipsType_break ipsContained"><span>{esc(t.title)}</span></span></h1></div></div></div>'
        f'{pag}<div id="comments" data-controller="core.front.core.commentFeed,forums.front.topic.view, core.front.core.ignoredComments" data-baseurl="{base}" data-feedid="topic-{t.id}">'
        f'<form action="{base}?csrfKey=0&amp;do=multimodComment" method="post" data-ipspageaction data-role="moderationTools">{"".join(items)}</form></div>{pag}'
    )
    crumbs = f'<li><a href="{P}/forum/{b.id}-{b.slug}/"><span>{esc(b.title)}</span></a></li>'
    pg = _layout(site, t.title + (f" - Страница {page}" if page > 1 else ""), body, crumbs)
    pg.last_modified = max(times[p.n] for p in posts)
    return pg


_FORUM = re.compile(r"^/forum/(\d+)-([^/]*)/(?:page/(\d+)/?)?$")
_TOPIC = re.compile(r"^/topic/(\d+)-([^/]*)/(?:page/(\d+)/?)?$")


def render(site: Site, path: str, query: dict, now: datetime) -> Page:
    if path in ("/", "/index.php"):
        return _index(site, now)
    m = _FORUM.match(path)
    if m:
        return _forum(site, int(m.group(1)), int(m.group(3) or 1), now)
    m = _TOPIC.match(path)
    if m:
        t = site.thread(int(m.group(1)))
        if t is None:
            raise NotFound
        if query.get("do") == ["findComment"]:
            cid = (query.get("comment") or ["0"])[0]
            post = next((p for p in t.posts if str(p.id) == cid), None)
            if post is None:
                raise NotFound
            return Page("", status=301, headers={"Location": post_url(site, t, post)})
        if query.get("do") == ["getLastComment"]:
            return Page("", status=301, headers={"Location": post_url(site, t, t.posts[-1])})
        return _topic(site, t.id, int(m.group(3) or 1), now)
    raise NotFound


def post_url(site: Site, t: Thread, post: Post) -> str:
    k = (post.n - 1) // POSTS_PER_PAGE + 1
    return f"{P}/topic/{t.id}-{t.slug}/" + (f"page/{k}/" if k > 1 else "") + f"#comment-{post.id}"
