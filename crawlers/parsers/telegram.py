"""Telegram public channel preview pages (t.me/s/<channel>): tgme_widget_message blocks, ?before= paging."""

from __future__ import annotations

import re

from crawlers.parsers.base import (
    css, PageResult, ParseContext, absolute, first, first_text, html_tree, iso_date, make_item, parse_int,
    strip_fragment, text_of,
)


def detect(html: str) -> int:
    return 6 if "tgme_widget_message" in html[:400000] else 0


def parse(html: str, url: str, ctx: ParseContext) -> PageResult:
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
        # the quoted preview of a replied-to message has the same class, inside the reply link
        body = next((b for b in css(m, ".tgme_widget_message_text")
                     if not any("tgme_widget_message_reply" in (a.get("class") or "") for a in b.iterancestors())), None)
        text = text_of(body) if body is not None else ""
        reply = first(m, "a.tgme_widget_message_reply")
        reply_to = None
        if reply is not None:
            rm = re.search(r"/(\d+)(?:\?|$)", reply.get("href", ""))
            reply_to = f"{channel}/{rm.group(1)}" if rm else None
        tm = first(m, ".tgme_widget_message_date time[datetime]") or first(m, "time[datetime]")
        link = first(m, "a.tgme_widget_message_date")
        reactions = sum(parse_int(text_of(r)) or 0 for r in css(m, ".tgme_reaction")) or None
        res.items.append(make_item(
            ctx, post_id=post, url=absolute(url, link.get("href")) if link is not None else f"https://t.me/{post}",
            text=text, thread_url=res.thread_url, thread_id=channel, thread_title=channel_title,
            # a signed channel post names its writer; otherwise the channel is the author
            author=(first_text(m, ".tgme_widget_message_from_author")
                    or first_text(m, ".tgme_widget_message_owner_name") or channel_title),
            author_url=res.thread_url, posted_at=iso_date(tm.get("datetime") if tm is not None else None, ctx),
            posted_at_raw=tm.get("datetime") if tm is not None else None,
            views=parse_int(first_text(m, ".tgme_widget_message_views")), likes=reactions, reach=subs,
            reply_to=reply_to, page_url=url,
        ))
        if num.isdigit():
            min_id = int(num) if min_id is None else min(min_id, int(num))
    more = first(root, "a.tme_messages_more[data-before]") or first(root, "link[rel=prev]")
    if more is not None and more.get("href"):
        res.next_url = absolute(url, more.get("href"))
    elif more is not None and more.get("data-before"):
        res.next_url = f"{res.thread_url}?before={more.get('data-before')}"
    return res
