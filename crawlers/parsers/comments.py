"""Comment threads under articles/videos, driven by per-source CSS selectors (sources.yaml `selectors`).

Selector keys (all CSS; `@attr` suffix reads an attribute):
  comment   one comment block (required)           id        its id, e.g. "@data-id" (default: @id)
  author    author name inside a comment            author_url   link (default: href of `author`)
  date      date text or "@datetime"                text      the comment's own text (required)
  quote     quoted text inside `text` (removed)      likes     like counter
  parent    how a reply names its parent, e.g. "@data-parent"; without it the nearest enclosing comment
  next      link to the next page of comments        title     article title (page level)
  article   links to articles on listing pages       listing_next  next page of the listing
  body      the article's own text (page level; emitted as an item of kind 'article' when set)
"""

from __future__ import annotations

from crawlers.parsers.base import (
    PageResult,
    ParseContext,
    ParseError,
    ThreadLink,
    absolute,
    css,
    first,
    html_tree,
    iso_date,
    listing_hash,
    make_item,
    parse_int,
    split_post,
    strip_fragment,
    text_of,
)
from crawlers.store_ids import post_id_for_url


def _sel(el, spec: str | None):
    """Return (element, value) for 'css' or 'css@attr' or '@attr'."""
    if not spec:
        return None, None
    css, _, at = spec.partition("@")
    target = el if not css.strip() else first(el, css.strip())
    if target is None:
        return None, None
    return target, (target.get(at) if at else text_of(target))


def parse(html: str, url: str, ctx: ParseContext) -> PageResult:
    s = ctx.selectors
    if "comment" not in s or "text" not in s:
        raise ParseError("comments parser needs `comment` and `text` selectors in the source's `selectors`")
    root = html_tree(html)
    page = strip_fragment(url)
    thread_url = page.split("?")[0]
    _, title = _sel(root, s.get("title") or "h1")
    res = PageResult(thread_url=thread_url, thread_title=title, thread_id=post_id_for_url(thread_url))
    if s.get("body"):
        body_el, _ = _sel(root, s["body"])
        if body_el is not None and "cpage=" not in url and "page=" not in url.split("?")[-1]:
            _, d = _sel(root, s.get("article_date")) if s.get("article_date") else (None, None)
            res.items.append(
                make_item(
                    ctx,
                    post_id=post_id_for_url(thread_url),
                    url=thread_url,
                    text=text_of(body_el),
                    thread_url=thread_url,
                    thread_id=res.thread_id,
                    thread_title=title,
                    posted_at=iso_date(d, ctx),
                    posted_at_raw=d,
                    page_url=url,
                    extra={"item_type": "article"},
                )
            )
    comments = css(root, s["comment"])
    for c in comments:
        cid = (_sel(c, s.get("id") or "@id")[1] or "").strip()
        if not cid:
            continue
        text_el, _ = _sel(c, s["text"])
        if text_el is None:
            continue
        text, quotes, _ = split_post(text_el, s.get("quote"))
        author_el, author = _sel(c, s.get("author"))
        author_url = None
        if s.get("author_url"):
            author_url = absolute(url, _sel(c, s["author_url"])[1])
        elif author_el is not None and author_el.get("href"):
            author_url = absolute(url, author_el.get("href"))
        _, date_raw = _sel(c, s.get("date"))
        parent = None
        if s.get("parent"):
            parent = (_sel(c, s["parent"])[1] or "").strip() or None
        else:
            anc = next((a for a in c.iterancestors() if a in comments), None)
            if anc is not None:
                parent = (_sel(anc, s.get("id") or "@id")[1] or "").strip() or None
        _, likes = _sel(c, s.get("likes"))
        res.items.append(
            make_item(
                ctx,
                post_id=cid,
                url=f"{thread_url}#{cid}",
                text=text,
                quoted=quotes,
                thread_url=thread_url,
                thread_id=res.thread_id,
                thread_title=title,
                author=(author or "").strip() or None,
                author_url=author_url,
                posted_at=iso_date(date_raw, ctx),
                posted_at_raw=(date_raw or "").strip() or None,
                reply_to=parent,
                likes=parse_int(likes),
                page_url=url,
            )
        )
    if s.get("next"):
        el, href = _sel(root, s["next"] if "@" in s["next"] else s["next"] + "@href")
        res.next_url = absolute(url, href)
    if s.get("article"):
        for a in css(root, s["article"]):
            href = absolute(url, a.get("href"))
            if href:
                row = next((x for x in a.iterancestors() if x.tag in ("li", "article", "div")), a)
                res.thread_links.append(
                    ThreadLink(url=strip_fragment(href), title=text_of(a), listing_hash=listing_hash(row))
                )
        if s.get("listing_next"):
            _, href = _sel(root, s["listing_next"] if "@" in s["listing_next"] else s["listing_next"] + "@href")
            res.next_url = absolute(url, href) or res.next_url
    return res
