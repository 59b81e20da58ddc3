"""Invision Community (IPS) 4.x topic and forum pages."""

from __future__ import annotations

import re

from crawlers.parsers.base import (
    css, PageResult, ParseContext, ThreadLink, absolute, first, first_text, html_tree, iso_date, listing_hash,
    make_item, parse_int, rel_next, split_post, strip_fragment, text_of,
)


def detect(html: str) -> int:
    head = html[:400000]
    return 2 * sum(m in head for m in ("ipsType_", "cPost", "ipsComment", "data-role=\"commentContent\"", "Invision", "ipsQuote"))


def _quote(q) -> dict:
    body = first(q, ".ipsQuote_contents") or q
    return {"author": q.get("data-ipsquote-username"), "post_id": q.get("data-ipsquote-contentcommentid"),
            "text": text_of(body)}


def _topic(url: str) -> tuple[str | None, str]:
    m = re.search(r"(.*?/topic/(\d+)(?:-[^/]*)?)/?", url)
    if m:
        return m.group(2), m.group(1) + "/"
    return None, strip_fragment(url)


def parse(html: str, url: str, ctx: ParseContext) -> PageResult:
    root = html_tree(html)
    tid, turl = _topic(url)
    title = first_text(root, "h1.ipsType_pageTitle") or first_text(root, "h1")
    res = PageResult(thread_id=tid, thread_url=turl, thread_title=title)
    res.next_url = rel_next(root, url, ("li.ipsPagination_next:not(.ipsPagination_inactive) a",))
    for p in css(root, "article[id^=elComment_]"):
        pid = p.get("id").split("_", 1)[1]
        body = first(p, "[data-role=commentContent]") or first(p, ".cPost_contentWrap")
        if body is None:
            continue
        text, quotes, _ = split_post(body, "blockquote.ipsQuote", _quote)
        user = first(p, ".cAuthorPane_author a") or first(p, "aside a.ipsType_break") or first(p, ".cAuthorPane_author")
        tm = first(p, "time[datetime]")
        react = first(p, ".ipsReact_reactCountOnly") or first(p, "[data-role=reactCount]")
        res.items.append(make_item(
            ctx, post_id=pid, url=f"{turl}?do=findComment&comment={pid}", text=text, quoted=quotes,
            signature=first_text(p, "[data-role=memberSignature]"), thread_url=turl, thread_id=tid, thread_title=title,
            author=text_of(user) or None if user is not None else None,
            author_url=absolute(url, user.get("href")) if user is not None and user.get("href") else None,
            posted_at=iso_date(tm.get("datetime") if tm is not None else None, ctx),
            posted_at_raw=(text_of(tm) or tm.get("datetime")) if tm is not None else None,
            likes=parse_int(text_of(react)) if react is not None else None, page_url=url,
            reply_to=next((q["post_id"] for q in quotes if q["post_id"]), None),
        ))
    if not res.items:
        seen = set()
        for row in css(root, "li[data-rowid], li.ipsDataItem"):
            a = first(row, "h4.ipsDataItem_title a[href*='/topic/']") or first(row, "a[href*='/topic/']")
            if a is None:
                continue
            t, u = _topic(absolute(url, a.get("href")) or "")
            if t and t not in seen:
                seen.add(t)
                replies = parse_int(first_text(row, ".ipsDataItem_stats_number"))
                res.thread_links.append(ThreadLink(url=u, thread_id=t, title=text_of(a), replies=replies,
                                                   listing_hash=listing_hash(row)))
        for a in css(root, "a[href*='/forum/']"):
            href = absolute(url, a.get("href"))
            if href and re.search(r"/forum/\d+", href) and "page" not in href and strip_fragment(href) not in res.board_links:
                res.board_links.append(strip_fragment(href))
    return res
