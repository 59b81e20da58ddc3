"""MyBB 1.8 showthread and forumdisplay pages (default `postbit` and `postbit_classic` layouts)."""

from __future__ import annotations

import copy
import re

from crawlers.parsers.base import (
    PageResult,
    ParseContext,
    ThreadLink,
    absolute,
    by_id,
    css,
    first,
    first_text,
    html_tree,
    inner_text,
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

# "Name Wrote:", "Name писал(а):", "Цитата: Name" (language packs differ), with the date in a leading <span>
_WROTE = re.compile(r"^(?:Цитата:\s*)?(.*?)\s*(?:Wrote|wrote|писал\(а\)|написал\(а\)|пишет|писал|написал)?\s*:?\s*$")


def detect(html: str) -> int:
    head = html[:400000]
    return 2 * sum(
        m in head
        for m in ("MyBB", "mybb", 'class="post_body', 'id="pid_', "showthread.php?tid=", "mycode_", "post_author")
    )


def _quote(q) -> dict:
    cite = first(q, "cite")
    if cite is None:
        return {"author": None, "post_id": None, "text": text_of(q)}
    link = first(cite, "a[href*='pid']")
    m = re.search(r"pid=?(\d+)", link.get("href", "")) if link is not None else None
    date = first(cite, "span")
    label = inner_text(cite)
    if date is not None:
        label = label.replace(inner_text(date), "", 1)
    am = _WROTE.match(label.strip())
    author = am.group(1).strip() if am and am.group(1).strip() not in ("", "Quote", "Цитата") else None
    body = copy.deepcopy(q)
    for c in css(body, "cite"):
        c.drop_tree()
    return {"author": author, "post_id": m.group(1) if m else None, "text": text_of(body)}


# MyBB's own search-engine-friendly URLs: thread-123.html, thread-123-page-2.html, forum-4.html
_SEO_THREAD = re.compile(r"(.*/)?thread-(\d+)(?:-(?:page|post)-\d+|-lastpost|-newpost)?\.html")
_SEO_FORUM = re.compile(r"(?:^|/)forum-\d+(?:-page-\d+)?\.html(?:$|[?#])")


def _thread(root, url: str) -> tuple[str | None, str]:
    tid = query_param(url, "tid")
    if tid is None:
        m = _SEO_THREAD.search(url)
        if m:
            return m.group(2), f"{m.group(1) or ''}thread-{m.group(2)}.html"
    if tid is None:
        for a in css(root, "a[href*='showthread.php?tid='], a[href*='newreply.php?tid=']"):
            tid = query_param(absolute(url, a.get("href")) or "", "tid")
            if tid:
                break
    base = url.split("?")[0]
    return tid, (f"{base}?tid={tid}" if tid and base.endswith("showthread.php") else strip_fragment(url))


def parse(html: str, url: str, ctx: ParseContext) -> PageResult:
    root = html_tree(html)
    tid, thread_url = _thread(root, url)
    title = (
        first_text(root, "div.navigation span.active")
        or first_text(root, "td.thead strong")
        or " ".join((first_text(root, "title") or "").split())
        or None
    )
    res = PageResult(thread_url=thread_url, thread_id=tid, thread_title=title)
    res.next_url = rel_next(root, url, ("div.pagination a.pagination_next",))
    for p in css(root, "div.post[id^=post_]"):
        m = re.fullmatch(r"post_(\d+)", p.get("id", ""))
        if not m:
            continue
        pid = m.group(1)
        body = by_id(p, f"pid_{pid}") or first(p, "div.post_body")
        if body is None:
            continue
        text, quotes, _ = split_post(body, "blockquote.mycode_quote, blockquote", _quote)
        user = (
            first(p, ".post_author .largetext a")
            or first(p, ".author_information a")
            or first(p, ".post_author a[href*='member.php']")
        )
        date_el = first(p, "span.post_date")
        date_raw = None
        if date_el is not None:
            # relative dates ("Today", "1 hour ago") carry the absolute one in a title attribute
            rel = first(date_el, "span[title]")
            date_raw = rel.get("title") if rel is not None else None
            if not date_raw:
                edit = first(date_el, "span.post_edit")
                date_raw = text_of(date_el).replace(text_of(edit), "").strip() if edit is not None else text_of(date_el)
        perma = first(p, ".post_head a[href*='pid']")
        res.items.append(
            make_item(
                ctx,
                post_id=pid,
                url=absolute(url, perma.get("href")) if perma is not None else f"{thread_url}&pid={pid}#pid{pid}",
                text=text,
                quoted=quotes,
                signature=first_text(p, "div.signature"),
                thread_url=thread_url,
                thread_id=tid,
                thread_title=title,
                author=text_of(user) or None if user is not None else None,
                author_url=absolute(url, user.get("href")) if user is not None and user.get("href") else None,
                posted_at=iso_date(date_raw, ctx),
                posted_at_raw=date_raw or None,
                page_url=url,
                likes=(
                    parse_int(first_text(p, ".post_reputation, .thx_count"))
                    if first(p, ".post_reputation, .thx_count") is not None
                    else None
                ),
                reply_to=next((q["post_id"] for q in quotes if q["post_id"]), None),
            )
        )
    if not res.items:
        _parse_listing(root, url, res)
    return res


def _parse_listing(root, url: str, res: PageResult) -> None:
    seen = set()
    for a in css(root, "span[id^=tid_] a, a.subject_new, a.subject_old"):
        href = absolute(url, a.get("href"))
        if not href:
            continue
        t, turl = _thread(root, href)
        if not t or query_param(href, "tid") is None and not _SEO_THREAD.search(href):
            continue
        if t in seen:
            continue
        seen.add(t)
        row = next((anc for anc in a.iterancestors() if anc.tag == "tr"), a)
        res.thread_links.append(ThreadLink(url=turl, thread_id=t, title=text_of(a), listing_hash=listing_hash(row)))
    for a in css(root, "a[href]"):
        href = absolute(url, a.get("href"))
        if (
            href
            and ("forumdisplay.php?fid=" in href or _SEO_FORUM.search(href))
            and strip_fragment(href) not in res.board_links
        ):
            res.board_links.append(strip_fragment(href))
