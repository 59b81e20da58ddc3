"""Invision Power Board 3.x and Invision Community (IPS) 4.x/5.x topic and forum pages (IPS 5: article.ipsEntry
with the same id, data-role=commentContent and <time datetime>, author in .ipsEntry__username)."""

from __future__ import annotations

import copy
import re

from crawlers.parsers.base import (
    PageResult,
    ParseContext,
    ThreadLink,
    absolute,
    css,
    first,
    first_text,
    html_tree,
    iso_date,
    listing_hash,
    make_item,
    parse_int,
    query_param,
    rel_next,
    split_post,
    strip_fragment,
    text_of,
)


def detect(html: str) -> int:
    head = html[:400000]
    return 2 * sum(
        m in head
        for m in (
            "ipsType_",
            "cPost",
            "ipsComment",
            'data-role="commentContent"',
            "Invision",
            "ipsQuote",
            "post_block",
            "ipsBlockquote",
            "IP.Board",
            "ipsEntry__content",
        )
    )


def _quote(q) -> dict:
    body = first(q, ".ipsQuote_contents") or q
    return {
        "author": q.get("data-ipsquote-username"),
        "post_id": q.get("data-ipsquote-contentcommentid"),
        "text": text_of(body),
    }


def _quote3(q) -> dict:
    """IPB 3.2+: <blockquote class="ipsBlockquote" data-author data-cid>; 3.0/3.1: p.citation + div.blockquote."""
    cite = first(q, "p.citation")
    author = q.get("data-author")
    if author is None and cite is not None:
        m = re.match(r"\s*(.+?),\s*(?:on|said|\d)", text_of(cite)) or re.match(
            r"\s*(.+?)\s+(?:писал|сказал)", text_of(cite)
        )
        author = m.group(1) if m else None
    body = copy.deepcopy(q)
    for c in css(body, "p.citation"):
        c.drop_tree()
    return {"author": author, "post_id": q.get("data-cid") or None, "text": text_of(body)}


def _topic(url: str) -> tuple[str | None, str]:
    m = re.search(r"(.*?/topic/(\d+)(?:-[^/]*)?)/?", url)
    if m:
        return m.group(2), m.group(1) + "/"
    t = query_param(url, "showtopic")
    if t:
        return t, f"{url.split('?')[0]}?showtopic={t}"
    return None, strip_fragment(url)


def _parse_ipb3(root, url: str, ctx: ParseContext, res: PageResult) -> None:
    for p in css(root, "div.post_block[id^=post_id_]"):
        pid = p.get("id").rsplit("_", 1)[1]
        body = first(p, "div.post.entry-content") or first(p, "[itemprop=commentText]")
        if body is None:
            continue
        text, quotes, _ = split_post(body, "blockquote.ipsBlockquote, div.blockquote", _quote3, remove_css="p.edit")
        user = first(p, "h3 .author a") or first(p, "h3 a[href*='showuser']") or first(p, "h3 a")
        tm = first(p, "abbr.published") or first(p, "[itemprop=commentTime]")
        date_raw = (tm.get("title") or text_of(tm)) if tm is not None else None
        res.items.append(
            make_item(
                ctx,
                post_id=pid,
                url=f"{res.thread_url}#entry{pid}",
                text=text,
                quoted=quotes,
                signature=first_text(p, "div.signature"),
                thread_url=res.thread_url,
                thread_id=res.thread_id,
                thread_title=res.thread_title,
                author=text_of(user) or None if user is not None else None,
                author_url=absolute(url, user.get("href")) if user is not None and user.get("href") else None,
                posted_at=iso_date(date_raw, ctx),
                posted_at_raw=(text_of(tm) or date_raw) if tm is not None else None,
                likes=(
                    parse_int(first_text(p, ".rep_show, .ipsLikeBar_info"))
                    if first(p, ".rep_show") is not None
                    else None
                ),
                page_url=url,
                reply_to=next((q["post_id"] for q in quotes if q["post_id"]), None),
            )
        )


def parse(html: str, url: str, ctx: ParseContext) -> PageResult:
    root = html_tree(html)
    tid, turl = _topic(url)
    if tid is None:  # a saved copy's own URL says nothing; the page links its topic (feed base, permalinks)
        feed = first(root, "[data-feedid^='topic-'][data-baseurl]")
        link = first(root, "article a[href*='do=findComment'][href*='/topic/']")
        for el, attr in ((feed, "data-baseurl"), (link, "href")):
            u = el.get(attr) if el is not None else None
            if not u:
                continue
            t, tu = _topic(absolute(url, u) or "")
            if t:
                tid, turl = t, tu
                break
    title = (
        first_text(root, "h1.ipsType_pageTitle") or first_text(root, "h1.ipsType_pagetitle") or first_text(root, "h1")
    )
    res = PageResult(thread_id=tid, thread_url=turl, thread_title=title)
    res.next_url = rel_next(root, url, ("li.ipsPagination_next:not(.ipsPagination_inactive) a",))
    if not css(root, "article[id^=elComment_], article[data-commentid]"):
        _parse_ipb3(root, url, ctx, res)
    for p in css(root, "article[id^=elComment_], article[data-commentid]:not([id^=elComment_])"):
        pid = p.get("data-commentid") or p.get("id").split("_", 1)[1]
        body = first(p, "[data-role=commentContent]") or first(p, ".cPost_contentWrap")
        if body is None:
            continue
        text, quotes, _ = split_post(body, "blockquote.ipsQuote", _quote)
        user = (
            first(p, ".cAuthorPane_author a")
            or first(p, ".ipsEntry__username a")
            or first(p, "aside a.ipsType_break")
            or first(p, ".cAuthorPane_author")
            or first(p, ".ipsEntry__username")
        )  # IPS 4 | IPS 5
        tm = first(p, "time[datetime]")
        react = first(p, ".ipsReact_reactCountOnly") or first(p, "[data-role=reactCount]")
        res.items.append(
            make_item(
                ctx,
                post_id=pid,
                url=f"{turl}?do=findComment&comment={pid}",
                text=text,
                quoted=quotes,
                signature=first_text(p, "[data-role=memberSignature]"),
                thread_url=turl,
                thread_id=tid,
                thread_title=title,
                # a guest's name pane has no link and holds the reputation badge too ("Unrecognized\n\n0"):
                # its first line
                author=text_of(user).split("\n", 1)[0].strip() or None if user is not None else None,
                author_url=absolute(url, user.get("href")) if user is not None and user.get("href") else None,
                posted_at=iso_date(tm.get("datetime") if tm is not None else None, ctx),
                posted_at_raw=(text_of(tm) or tm.get("datetime")) if tm is not None else None,
                likes=parse_int(text_of(react)) if react is not None else None,
                page_url=url,
                reply_to=next((q["post_id"] for q in quotes if q["post_id"]), None),
            )
        )
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
                res.thread_links.append(
                    ThreadLink(url=u, thread_id=t, title=text_of(a), replies=replies, listing_hash=listing_hash(row))
                )
        for a in css(root, "a[href*='/forum/']"):
            href = absolute(url, a.get("href"))
            if (
                href
                and re.search(r"/forum/\d+", href)
                and "page" not in href
                and strip_fragment(href) not in res.board_links
            ):
                res.board_links.append(strip_fragment(href))
    return res
