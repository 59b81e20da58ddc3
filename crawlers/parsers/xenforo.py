"""XenForo 1 (li.message) and XenForo 2 (article.message) thread and forum pages."""

from __future__ import annotations

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
    inner_text,
    iso_date,
    listing_hash,
    make_item,
    parse_int,
    rel_next,
    split_post,
    strip_fragment,
    text_of,
)


def detect(html: str) -> int:
    head = html[:400000]
    return 2 * sum(
        m in head for m in ("XenForo", "xenforo", "data-author=", "messageList", "bbWrapper", "p-body-pageContent")
    )


def _quote(q) -> dict:
    src = q.get("data-source") or ""
    m = re.search(r"post:\s*(\d+)", src)
    body = (
        first(q, ".bbCodeBlock-content .bbCodeBlock-expandContent")
        or first(q, ".bbCodeBlock-content")
        or first(q, ".quote")
        or q
    )
    pid = m.group(1) if m else None
    link = first(q, "a.AttributionLink, a.bbCodeBlock-sourceJump")
    if pid is None and link is not None:
        # "#post-955852", "posts/955852/", "/goto/post?id=955852", "index.php?goto/post&id=955852"
        for v in (link.get("data-content-selector") or "", link.get("href") or ""):
            mm = re.search(r"post[-/=](\d+)", v) or re.search(r"goto/post\S*?[?&](?:id|ipostd)=(\d+)", v)
            if mm:
                pid = mm.group(1)
                break
    author = q.get("data-quote") or q.get("data-author")
    if not author:  # quotes rendered without attributes name the author only in the title: "X said:"
        title = first(q, ".bbCodeBlock-title") or first(q, ".attribution") or link
        am = _SAID.match(inner_text(title)) if title is not None else None
        author = am.group(1).strip() if am else None
    return {"author": author, "post_id": pid, "text": text_of(body)}


_SAID = re.compile(
    r"^\s*(.+?)\s+(?:said|сказал\(а\)|сказал|сказала|писал\(а\)|пишет|написал\(а\))"
    r"\s*:?\s*[↑]?\s*$",
    re.I,
)


def _thread_id(url: str) -> tuple[str | None, str]:
    m = re.search(r"(.*?/threads/(?:[^/]*\.)?(\d+))/", url)
    if m:
        return m.group(2), m.group(1) + "/"
    return None, strip_fragment(url)


def parse(html: str, url: str, ctx: ParseContext) -> PageResult:
    root = html_tree(html)
    tid, thread_url = _thread_id(url)
    og = first(root, "meta[property='og:title']")
    title = (
        first_text(root, "h1.p-title-value")
        or first_text(root, ".titleBar h1")
        or first_text(root, "h1")
        or (og.get("content") if og is not None else None)
    )
    res = PageResult(thread_id=tid, thread_url=thread_url, thread_title=title)
    res.next_url = rel_next(root, url, ("a.pageNav-jump--next", "nav .PageNav a.text[href*='page-']"))
    xf2 = css(root, "article.message[data-author]")
    # a code block's title ("Code:", "C++:") is the template's label, not the poster's words (a substring test
    # first: most pages have no code block, and their posts skip the lookup)
    code_title = ".bbCodeBlock--code > .bbCodeBlock-title" if "bbCodeBlock--code" in html else None
    if xf2:
        for p in xf2:
            dc = p.get("data-content") or p.get("id") or ""
            m = re.search(r"(\d+)", dc)
            if not m:
                continue
            pid = m.group(1)
            body = (
                first(p, "article.message-body .bbWrapper")
                or first(p, ".message-body .bbWrapper")
                or first(p, ".bbWrapper")
            )
            if body is None:
                continue
            text, quotes, _ = split_post(
                body, "blockquote.bbCodeBlock--quote, .bbCodeBlock--quote", _quote, remove_css=code_title
            )
            tm = first(p, ".message-attribution time.u-dt") or first(p, "time.u-dt") or first(p, "time[datetime]")
            # data-time (2.0/2.1) and data-timestamp (2.2+) are unix times: exact whatever zone the page shows
            date_raw = (
                (tm.get("data-timestamp") or tm.get("data-time") or tm.get("datetime")) if tm is not None else None
            )
            user = first(p, "a.username") or first(p, ".message-name")
            perma = first(p, ".message-attribution-main a[href*='/post'], a[href*='/posts/']")
            react = first(p, ".reactionsBar-link, .reactionsBar")
            likes = None
            if react is not None:
                rt = text_of(react)
                names = len(css(react, "bdi"))
                others = re.search(r"(?:(\d+)\s+(?:others?|друг)|(?:ещё|еще|and)\s+(\d+))", rt)
                likes = names + (int(others.group(1) or others.group(2)) if others else 0) if names else parse_int(rt)
            res.items.append(
                make_item(
                    ctx,
                    post_id=pid,
                    url=(
                        absolute(url, perma.get("href")) if perma is not None else f"{strip_fragment(url)}#post-{pid}"
                    ),
                    text=text,
                    quoted=quotes,
                    signature=first_text(p, "aside.message-signature"),
                    thread_url=thread_url,
                    thread_id=tid,
                    thread_title=title,
                    author=p.get("data-author"),
                    author_url=absolute(url, user.get("href")) if user is not None and user.get("href") else None,
                    posted_at=iso_date(date_raw, ctx),
                    posted_at_raw=(tm.get("title") or text_of(tm) or date_raw) if tm is not None else None,
                    likes=likes,
                    page_url=url,
                    reply_to=next((q["post_id"] for q in quotes if q["post_id"]), None),
                )
            )
    else:
        for p in css(root, "li.message[id^=post-]"):
            pid = p.get("id").split("-", 1)[1]
            body = first(p, "blockquote.messageText")
            if body is None:
                continue
            text, quotes, _ = split_post(body, "div.bbCodeQuote", _quote, remove_css=".messageTextEndMarker")
            dt = first(p, ".messageMeta abbr.DateTime") or first(p, ".messageMeta span.DateTime")
            date_raw = None
            if dt is not None:
                date_raw = dt.get("data-time") or dt.get("title") or text_of(dt)
            user = first(p, ".messageUserBlock a.username") or first(p, "a.username")
            likes_el = first(p, ".LikeText")
            # "Dark Post Rating" add-on (common on XF 1 boards): "Like x 3", "Hugs x 1"
            ratings = {}
            for li in css(p, ".dark_postrating_outputlist li"):
                img, n = first(li, "img[alt]"), first_text(li, "strong")
                if img is not None and n and parse_int(n) is not None:
                    ratings[img.get("alt")] = parse_int(n)
            res.items.append(
                make_item(
                    ctx,
                    post_id=pid,
                    url=(
                        absolute(url, f"posts/{pid}/")
                        if "/threads/" not in url
                        else f"{strip_fragment(url)}#post-{pid}"
                    ),
                    text=text,
                    quoted=quotes,
                    signature=first_text(p, ".signature"),
                    thread_url=thread_url,
                    thread_id=tid,
                    thread_title=title,
                    author=p.get("data-author"),
                    author_url=absolute(url, user.get("href")) if user is not None and user.get("href") else None,
                    posted_at=iso_date(date_raw, ctx),
                    posted_at_raw=(dt.get("title") or text_of(dt)) if dt is not None else None,
                    likes=(
                        (len(css(likes_el, "a.username")) or None)
                        if likes_el is not None
                        else (sum(ratings.values()) if ratings else None)
                    ),
                    page_url=url,
                    extra={"reactions": ratings} if ratings else {},
                    reply_to=next((q["post_id"] for q in quotes if q["post_id"]), None),
                )
            )
    if not res.items:
        seen = set()
        for item in css(root, ".structItem--thread, li.discussionListItem"):
            a = (
                first(item, ".structItem-title a[href*='/threads/']")
                or first(item, "h3.title a")
                or first(item, "a[href*='/threads/']")
            )
            if a is None:
                continue
            href = absolute(url, a.get("href"))
            t, turl = _thread_id(href or "")
            if t and t not in seen:
                seen.add(t)
                replies = parse_int(first_text(item, ".structItem-cell--meta dd, dl.major dd"))
                res.thread_links.append(
                    ThreadLink(
                        url=turl, thread_id=t, title=text_of(a), replies=replies, listing_hash=listing_hash(item)
                    )
                )
        for a in css(root, ".node-title a, h3.nodeTitle a"):
            href = absolute(url, a.get("href"))
            if href and href not in res.board_links:
                res.board_links.append(href)
    return res
