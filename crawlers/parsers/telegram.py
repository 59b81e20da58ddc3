"""Telegram public channel preview pages (t.me/s/<channel>): tgme_widget_message blocks, ?before= paging; and the
comments widget of a channel post (t.me/<channel>/<id>?embed=1&discussion=1): its linked group's comments."""

from __future__ import annotations

import re
from urllib.parse import urlparse

from crawlers.parsers.base import (
    PageResult,
    ParseContext,
    ParseError,
    absolute,
    css,
    first,
    first_text,
    html_tree,
    iso_date,
    make_item,
    parse_int,
    strip_fragment,
    text_of,
)


def detect(html: str) -> int:
    return 6 if "tgme_widget_message" in html[:400000] else 0


def is_discussion_url(url: str) -> bool:
    return "discussion=1" in urlparse(url).query


def discussion_url(post_url: str, limit: int = 100) -> str:
    """The comments widget of a channel post: https://t.me/<channel>/<id> (the demo: .../tg/<channel>/<id>)."""
    return f"{post_url.split('?')[0].split('#')[0]}?embed=1&discussion=1&comments_limit={int(limit)}"


def _reactions(m) -> int | None:
    return sum(parse_int(text_of(r)) or 0 for r in css(m, ".tgme_reaction")) or None


def _own_text(m):
    # the quoted preview of a replied-to message has the same class, inside the reply link
    return next(
        (
            b
            for b in css(m, ".tgme_widget_message_text")
            if not any("tgme_widget_message_reply" in (a.get("class") or "") for a in b.iterancestors())
        ),
        None,
    )


def parse_discussion(html: str, url: str, ctx: ParseContext) -> PageResult:
    """Comments widget → one item per comment: post_id "<group>/<id>", reply_to the replied comment or else the
    channel post "<channel>/<id>", thread_url the channel post's URL."""
    root = html_tree(html)
    base = strip_fragment(url).split("?")[0]
    m_ch = re.search(r"/([A-Za-z0-9_]+)/(\d+)/?$", base)
    if m_ch is None:
        raise ParseError(f"{url}: not a channel post URL (expected .../<channel>/<id>?embed=1&discussion=1)")
    channel_post = f"{m_ch.group(1)}/{m_ch.group(2)}"
    res = PageResult(thread_url=base, thread_title=first_text(root, ".tgme_widget_discussion_header") or None)
    for m in css(root, "div.tgme_widget_message[data-post]"):
        post = m.get("data-post")
        group = post.partition("/")[0]
        body = _own_text(m)
        reply = first(m, "a.tgme_widget_message_reply")
        reply_to = channel_post
        if reply is not None:
            rm = re.search(r"/([A-Za-z0-9_]+)/(\d+)(?:[?#]|$)", reply.get("href", ""))
            if rm:
                reply_to = f"{rm.group(1) if rm.group(1) != 's' else group}/{rm.group(2)}"
        tm = first(m, ".tgme_widget_message_date time[datetime]") or first(m, "time[datetime]")
        link = first(m, "a.tgme_widget_message_date")
        author_el = first(m, ".tgme_widget_message_author .tgme_widget_message_author_name") or first(
            m, ".tgme_widget_message_author_name"
        )
        author_link = author_el if author_el is not None and author_el.tag == "a" else None
        res.items.append(
            make_item(
                ctx,
                post_id=post,
                url=absolute(url, link.get("href")) if link is not None else f"https://t.me/{post}",
                text=text_of(body) if body is not None else "",
                thread_url=base,
                thread_id=channel_post,
                thread_title=res.thread_title,
                author=text_of(author_el) if author_el is not None else None,
                author_url=absolute(url, author_link.get("href")) if author_link is not None else None,
                posted_at=iso_date(tm.get("datetime") if tm is not None else None, ctx),
                posted_at_raw=tm.get("datetime") if tm is not None else None,
                views=parse_int(first_text(m, ".tgme_widget_message_views")),
                likes=_reactions(m),
                reply_to=reply_to,
                page_url=url,
                extra={"discussion_of": channel_post},
            )
        )
    return res


def parse(html: str, url: str, ctx: ParseContext) -> PageResult:
    if is_discussion_url(url) or "tgme_widget_discussion" in html[:20000]:
        return parse_discussion(html, url, ctx)
    root = html_tree(html)
    channel_title = first_text(root, ".tgme_channel_info_header_title") or first_text(root, "meta[property='og:title']")
    subs = None
    for c in css(root, ".tgme_channel_info_counter"):
        if any(w in text_of(c).lower() for w in ("subscriber", "подписчик")):
            subs = parse_int(first_text(c, ".counter_value"))
    res = PageResult(thread_url=strip_fragment(url).split("?")[0], thread_title=channel_title)
    min_id = None
    for m in css(root, "div.tgme_widget_message[data-post]"):
        post = m.get("data-post")  # "channel/123": the id (numbers repeat across channels of one source)
        channel, _, num = post.partition("/")
        body = _own_text(m)
        text = text_of(body) if body is not None else ""
        reply = first(m, "a.tgme_widget_message_reply")
        reply_to = None
        if reply is not None:
            rm = re.search(r"/(\d+)(?:\?|$)", reply.get("href", ""))
            reply_to = f"{channel}/{rm.group(1)}" if rm else None
        tm = first(m, ".tgme_widget_message_date time[datetime]") or first(m, "time[datetime]")
        link = first(m, "a.tgme_widget_message_date")
        reactions = _reactions(m)
        # posts with a linked discussion group show a comments counter (the spider follows it when it changes)
        comments = (
            parse_int(first_text(m, ".tgme_widget_message_replies_count"))
            if first(m, ".tgme_widget_message_replies") is not None
            else None
        )
        res.items.append(
            make_item(
                ctx,
                post_id=post,
                url=absolute(url, link.get("href")) if link is not None else f"https://t.me/{post}",
                text=text,
                thread_url=res.thread_url,
                thread_id=channel,
                thread_title=channel_title,
                # a signed channel post names its writer; otherwise the channel is the author
                author=(
                    first_text(m, ".tgme_widget_message_from_author")
                    or first_text(m, ".tgme_widget_message_owner_name")
                    or channel_title
                ),
                author_url=res.thread_url,
                posted_at=iso_date(tm.get("datetime") if tm is not None else None, ctx),
                posted_at_raw=tm.get("datetime") if tm is not None else None,
                views=parse_int(first_text(m, ".tgme_widget_message_views")),
                likes=reactions,
                reach=subs,
                reply_to=reply_to,
                page_url=url,
                replies=comments,
            )
        )
        if num.isdigit():
            min_id = int(num) if min_id is None else min(min_id, int(num))
    more = first(root, "a.tme_messages_more[data-before]") or first(root, "link[rel=prev]")
    if more is not None and more.get("href"):
        res.next_url = absolute(url, more.get("href"))
    elif more is not None and more.get("data-before"):
        res.next_url = f"{res.thread_url}?before={more.get('data-before')}"
    return res
