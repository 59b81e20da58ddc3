"""NodeBB topic pages (server-rendered markup with component attributes)."""

from __future__ import annotations

from crawlers.parsers.base import (
    PageResult,
    ParseContext,
    absolute,
    css,
    first,
    first_text,
    html_tree,
    iso_date,
    make_item,
    rel_next,
    split_post,
    strip_fragment,
    text_of,
)


def detect(html: str) -> int:
    head = html[:400000]
    return 2 * sum(m in head for m in ('component="post"', "NodeBB", "nodebb", 'component="topic"'))


def parse(html: str, url: str, ctx: ParseContext) -> PageResult:
    root = html_tree(html)
    topic = first(root, "[component=topic]")
    tid = topic.get("data-tid") if topic is not None else None
    title = first_text(root, "[component='topic/title']") or first_text(root, "h1") or None
    res = PageResult(thread_id=tid, thread_url=strip_fragment(url), thread_title=title)
    res.next_url = rel_next(root, url)
    for p in css(root, "li[component=post][data-pid]"):
        pid = p.get("data-pid")
        body = first(p, "[component='post/content']")
        if body is None:
            continue
        text, quotes, _ = split_post(body, "blockquote", lambda q: {"text": text_of(q)})
        ts = p.get("data-timestamp")
        meta = first(p, "meta[itemprop=datePublished]")
        user = first(p, "a[itemprop=author]")
        res.items.append(
            make_item(
                ctx,
                post_id=pid,
                url=absolute(url, f"/post/{pid}"),
                text=text,
                quoted=quotes,
                signature=first_text(p, "[component='post/signature']"),
                thread_url=res.thread_url,
                thread_id=tid,
                thread_title=title,
                author=p.get("data-username") or (text_of(user) if user is not None else None),
                author_url=absolute(url, user.get("href")) if user is not None else None,
                posted_at=iso_date(ts or (meta.get("content") if meta is not None else None), ctx),
                posted_at_raw=meta.get("content") if meta is not None else ts,
                page_url=url,
            )
        )
    return res
