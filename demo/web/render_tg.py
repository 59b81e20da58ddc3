"""Telegram public channel preview (t.me/s/<channel>) markup: /tg/s/<channel>[?before=ID], /tg/<channel>/<id>,
and the comments widget /tg/<channel>/<id>?embed=1&discussion=1[&comments_limit=N].

Each board of the site is a channel (board slug = channel username) holding one thread of messages. A board with
`discussion_of: <channel>` is that channel's linked discussion group: its messages with `c: <id>` are the comments
under channel post <id>; the channel preview shows a comments counter on such posts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from demo.web.common import NotFound, Page, esc, iso, snippet, text_html, thread_times, trap_links
from demo.web.corpus import Board, Post, Site, Thread

P = "/tg"
PER_PAGE = 20


def views(n: int) -> str:
    """Telegram's compact counters: 950, 1.2K, 12K, 1.5M."""
    if n < 1000:
        return str(n)
    if n < 10_000:
        return f"{n / 1000:.1f}K".replace(".0K", "K")
    if n < 1_000_000:
        return f"{n // 1000}K"
    return f"{n / 1_000_000:.1f}M".replace(".0M", "M")


def _channel(site: Site, name: str) -> tuple[Board, Thread]:
    b = next((b for b in site.boards if b.slug == name), None)
    if b is None or not b.threads:
        raise NotFound
    return b, b.threads[0]


def _layout(title: str, body: str, desc: str = "") -> Page:
    html = f"""<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>{esc(title)} – Telegram</title>
<meta name="viewport" content="width=device-width, initial-scale=1.0, minimum-scale=1.0, maximum-scale=1.0, user-scalable=no" />
<meta property="og:title" content="{esc(title)}">
<meta property="og:description" content="{esc(desc)}">
<meta property="og:site_name" content="Telegram">
</head>
<body class="widget_frame_base tgme_webpreview emoji_image nojs">
{body}
{trap_links()}
</body>
</html>
"""
    return Page(html)


DEFAULT_COMMENTS_LIMIT = 50


def _group(site: Site, channel: str) -> tuple[Board, Thread] | None:
    g = next((b for b in site.boards if b.discussion_of == channel and b.threads), None)
    return (g, g.threads[0]) if g else None


def _commented_on(t: Thread) -> dict[int, int]:
    """Comment n -> channel post id; a reply without `c` belongs to the post its parent comments on."""
    out: dict[int, int] = {}
    for p in t.posts:
        c = p.comment_on if p.comment_on is not None else out.get(p.reply_to or 0)
        if c is not None:
            out[p.n] = int(c)
    return out


def _comments(site: Site, channel: str, msg_id: int) -> tuple[Board, Thread, list[Post]] | None:
    g = _group(site, channel)
    if g is None:
        return None
    on = _commented_on(g[1])
    return g[0], g[1], [p for p in g[1].posts if on.get(p.n) == msg_id]


def _replies(ch: str, p: Post, comments: Sequence[Post]) -> str:
    if not comments:
        return ""
    n = len(comments)
    word = "comment" if n == 1 else "comments"
    return (
        f'<div class="tgme_widget_message_replies_wrap"><a class="tgme_widget_message_replies js-message_replies" '
        f'href="{P}/{ch}/{p.id}?comment={comments[-1].id}"><span class="tgme_widget_message_replies_count">'
        f"{views(n)}</span> {word}</a></div>"
    )


def _message(b: Board, t: Thread, p: Post, when: datetime, by_n: dict[int, Post], comments: Sequence[Post] = ()) -> str:
    ch = b.slug
    reply = ""
    if p.reply_to:
        r = by_n[p.reply_to]
        reply = (
            f'<a class="tgme_widget_message_reply" href="{P}/{ch}/{r.id}"><div class="tgme_widget_message_author accent_color">'
            f'<span class="tgme_widget_message_author_name" dir="auto">{esc(b.title)}</span></div>'
            f'<div class="tgme_widget_message_text js-message_reply_text" dir="auto">{esc(snippet(r.text, 100))}</div></a>'
        )
    author = (
        f'<span class="tgme_widget_message_from_author" dir="auto">{esc(p.author)}</span>'
        if p.author and p.author != b.title
        else ""
    )
    v = p.views if p.views is not None else max(100, t.views // 3 + p.likes * 10)
    reactions = (
        f'<div class="tgme_widget_message_reactions js-message_reactions"><span class="tgme_reaction">'
        f'<i class="emoji" style="background-image:url(\'//telegram.org/img/emoji/40/F09F918D.png\')"><b>👍</b></i>{p.likes}</span></div>'
        if p.likes
        else ""
    )
    return f"""<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message text_not_supported_wrap js-widget_message" data-post="{ch}/{p.id}" data-view="eyJjIjotMTAwMTIzNDU2Nzg5LCJwIjo{p.id}" data-peer="c1234567890_-1" data-peer-hash="0" data-post-id="{p.id}">
<div class="tgme_widget_message_user"><a href="{P}/{ch}"><i class="tgme_widget_message_user_photo bgcolor0" data-content="{esc(b.title[:1])}"></i></a></div>
<div class="tgme_widget_message_bubble">
<i class="tgme_widget_message_bubble_tail"></i>
<div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_owner_name" href="{P}/{ch}"><span dir="auto">{esc(b.title)}</span></a></div>
{reply}
<div class="tgme_widget_message_text js-message_text" dir="auto">{text_html(p.text)}</div>
{reactions}
{_replies(ch, p, list(comments))}
<div class="tgme_widget_message_footer compact js-message_footer">
<div class="tgme_widget_message_info short js-message_info">
<span class="tgme_widget_message_views">{views(v)}</span><span class="copyonly"> views</span>{author}<span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="{P}/{ch}/{p.id}"><time datetime="{iso(when, tz=UTC)}" class="time">{when.astimezone(UTC):%H:%M}</time></a></span>
</div></div>
</div>
</div></div>"""


def channel(site: Site, name: str, query: dict, now: datetime) -> Page:
    b, t = _channel(site, name)
    times = thread_times(t, now)
    by_n = {p.n: p for p in t.posts}
    msgs = t.posts
    before = (query.get("before") or [None])[0]
    if before is not None:
        try:
            msgs = [p for p in msgs if p.id < int(before)]
        except ValueError:
            raise NotFound from None
    shown = msgs[-PER_PAGE:]
    more = ""
    if shown and shown[0].id > t.posts[0].id:
        more = (
            f'<div class="tgme_widget_message_centered js-messages_more_wrap"><a href="{P}/s/{b.slug}?before={shown[0].id}" '
            f'class="tme_messages_more js-messages_more" data-before="{shown[0].id}"></a></div>'
        )
    body = f"""<header class="tgme_header search_collapsed"><div class="tgme_header_info"><a class="tgme_header_link" href="{P}/s/{b.slug}"><div class="tgme_header_title"><span dir="auto">{esc(b.title)}</span></div><div class="tgme_header_counter">{views(t.views)} subscribers</div></a></div></header>
<main class="tgme_main"><div class="tgme_container">
<section class="tgme_right_column"><div class="tgme_channel_info">
<div class="tgme_channel_info_header"><div class="tgme_channel_info_header_title"><span dir="auto">{esc(b.title)}</span></div><div class="tgme_channel_info_header_username"><a href="{P}/{b.slug}">@{esc(b.slug)}</a></div></div>
<div class="tgme_channel_info_description">{esc(b.description)}</div>
<div class="tgme_channel_info_counters"><div class="tgme_channel_info_counter"><span class="counter_value">{views(t.views)}</span> <span class="counter_type">subscribers</span></div></div>
</div></section>
<section class="tgme_channel_history js-message_history">
{more}
{"".join(_message(b, t, p, times[p.n], by_n, _comments_list(site, b.slug, p.id)) for p in shown)}
</section>
</div></main>"""
    pg = _layout(b.title, body, b.description)
    pg.last_modified = max((times[p.n] for p in shown), default=now)
    return pg


def _comments_list(site: Site, channel: str, msg_id: int) -> list[Post]:
    got = _comments(site, channel, msg_id)
    return got[2] if got else []


def single(site: Site, name: str, msg_id: int, now: datetime) -> Page:
    b, t = _channel(site, name)
    p = next((p for p in t.posts if p.id == msg_id), None)
    if p is None:
        raise NotFound
    times = thread_times(t, now)
    return _layout(
        b.title,
        _message(b, t, p, times[p.n], {x.n: x for x in t.posts}, _comments_list(site, name, msg_id)),
        snippet(p.text, 150),
    )


def _comment(g: Board, p: Post, when: datetime, by_n: dict[int, Post]) -> str:
    """One comment of the discussion widget: the writer's name instead of the channel's, replies quote a comment."""
    reply = ""
    if p.reply_to and p.reply_to in by_n:
        r = by_n[p.reply_to]
        reply = (
            f'<a class="tgme_widget_message_reply" href="{P}/{g.slug}/{r.id}"><div class="tgme_widget_message_author accent_color">'
            f'<span class="tgme_widget_message_author_name" dir="auto">{esc(r.author)}</span></div>'
            f'<div class="tgme_widget_message_text js-message_reply_text" dir="auto">{esc(snippet(r.text, 100))}</div></a>'
        )
    reactions = (
        f'<div class="tgme_widget_message_reactions js-message_reactions"><span class="tgme_reaction">'
        f'<i class="emoji"><b>👍</b></i>{p.likes}</span></div>'
        if p.likes
        else ""
    )
    return f"""<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message js-widget_message" data-post="{g.slug}/{p.id}" data-post-id="{p.id}">
<div class="tgme_widget_message_user"><a href="{P}/{g.slug}"><i class="tgme_widget_message_user_photo bgcolor{p.id % 7}" data-content="{esc(p.author[:1])}"></i></a></div>
<div class="tgme_widget_message_bubble">
<div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_author_name" href="{P}/{g.slug}"><span dir="auto">{esc(p.author)}</span></a></div>
{reply}
<div class="tgme_widget_message_text js-message_text" dir="auto">{text_html(p.text)}</div>
{reactions}
<div class="tgme_widget_message_footer js-message_footer"><div class="tgme_widget_message_info js-message_info"><span class="tgme_widget_message_meta"><a class="tgme_widget_message_date" href="{P}/{g.slug}/{p.id}"><time datetime="{iso(when, tz=UTC)}" class="time">{when.astimezone(UTC):%H:%M}</time></a></span></div></div>
</div>
</div></div>"""


def discussion(site: Site, name: str, msg_id: int, query: dict, now: datetime) -> Page:
    """The comments widget of a channel post (what telegram-widget.js data-telegram-discussion loads)."""
    b, t = _channel(site, name)
    if not any(p.id == msg_id for p in t.posts):
        raise NotFound
    got = _comments(site, name, msg_id)
    g, gt, comments = got if got else (None, None, [])
    try:
        limit = int((query.get("comments_limit") or [DEFAULT_COMMENTS_LIMIT])[0])
    except ValueError:
        raise NotFound from None
    shown = comments[-max(limit, 1) :]
    times = thread_times(gt, now) if gt else {}
    by_n = {x.n: x for x in gt.posts} if gt else {}
    n = len(comments)
    header = f"{n} comment{'' if n == 1 else 's'}" if n else "No comments yet"
    body = f"""<div class="tgme_widget_discussion_wrap"><div class="tgme_widget_discussion_header"><span class="js-header">{header}</span></div>
<div class="tgme_widget_messages js-message_history" data-channel="{esc(name)}" data-post="{esc(name)}/{msg_id}">
{"".join(_comment(g, p, times[p.n], by_n) for p in shown) if g else ""}
</div></div>"""
    pg = _layout(b.title, body)
    pg.last_modified = max((times[p.n] for p in shown), default=now)
    return pg


def index(site: Site) -> Page:
    items = "".join(
        f'<li><a href="{P}/s/{esc(b.slug)}">{esc(b.title)}</a> — {esc(b.description)}</li>' for b in site.boards
    )
    return _layout(site.title, f'<h1>{esc(site.title)}</h1><ul class="channels">{items}</ul>')


_S = re.compile(r"^/s/([A-Za-z0-9_]+)/?$")
_ONE = re.compile(r"^/([A-Za-z0-9_]+)/(\d+)$")


def render(site: Site, path: str, query: dict, now: datetime) -> Page:
    if path == "/":
        return index(site)
    m = _S.match(path)
    if m:
        return channel(site, m.group(1), query, now)
    m = _ONE.match(path)
    if m:
        if (query.get("discussion") or [""])[0] == "1":
            return discussion(site, m.group(1), int(m.group(2)), query, now)
        return single(site, m.group(1), int(m.group(2)), now)
    raise NotFound


def post_url(site: Site, t: Thread, post: Post) -> str:
    b = site.board_of(t)
    if b.discussion_of:  # a comment: shown by the widget of the channel post it comments on
        on = _commented_on(t).get(post.n)
        return f"{P}/{b.discussion_of}/{on}?embed=1&discussion=1#{b.slug}/{post.id}"
    newer = [p for p in t.posts if p.id > post.id]
    # the page holding it: the latest page if it is among the last PER_PAGE, else ?before= just after it
    if len(newer) < PER_PAGE:
        return f"{P}/s/{b.slug}#{b.slug}/{post.id}"
    return f"{P}/s/{b.slug}?before={post.id + 1}#{b.slug}/{post.id}"
