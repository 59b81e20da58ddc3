"""schema.org microdata posts (DiscussionForumPosting, Comment, Answer, ...) → PostItems.

Many engines and custom forums mark each post up as an `itemscope` with `itemprop=text|articleBody` and
`itemprop=author|datePublished`; Discourse's crawler view, vBulletin 5, IPB 3 and NodeBB all do. The generic
parser uses this before falling back to trafilatura's one-item-per-page extraction.

A property belongs to its nearest enclosing `itemscope` (the microdata rule), so a thread posting that wraps
its comments (Discourse) keeps only its own text.
"""

from __future__ import annotations

import re

from crawlers.parsers.base import (
    PageResult,
    ParseContext,
    absolute,
    css,
    first,
    first_text,
    inner_text,
    iso_date,
    make_item,
    parse_int,
    split_post,
    strip_fragment,
    text_of,
)

POST_TYPES = (
    "DiscussionForumPosting",
    "Comment",
    "UserComments",
    "Answer",
    "Question",
    "SocialMediaPosting",
    "Article",
    "NewsArticle",
    "BlogPosting",
)
COMMENT_TYPES = ("Comment", "UserComments", "Answer")
TEXT_PROPS = ("text", "articleBody", "commentText", "reviewBody")
DATE_PROPS = ("datePublished", "dateCreated", "commentTime", "uploadDate")
QUOTE_CSS = "blockquote, aside.quote"
SIGNATURE_CSS = ".signature, .post-signature"


def _scope_of(el):
    """The nearest itemscope element enclosing `el` (excluding `el` itself)."""
    return next((a for a in el.iterancestors() if a.get("itemscope") is not None), None)


def _type_of(el) -> str:
    t = el.get("itemtype") or ""
    return t.rstrip("/").rsplit("/", 1)[-1]


def props(scope) -> dict[str, list]:
    """itemprop name → elements owned by `scope` (not by an itemscope nested inside it)."""
    out: dict[str, list] = {}
    stack = list(scope)
    while stack:
        el = stack.pop(0)
        if not isinstance(el.tag, str):
            continue
        names = (el.get("itemprop") or "").split()
        for n in names:
            out.setdefault(n, []).append(el)
        if el.get("itemscope") is None:
            stack[0:0] = list(el)
    return out


def prop_value(el) -> str | None:
    """The microdata value of a property element: content/datetime/href attributes, else its text."""
    if el is None:
        return None
    for a in ("content", "datetime"):
        if el.get(a):
            return el.get(a).strip()
    if el.tag in ("a", "link") and el.get("href"):
        return el.get("href")
    if el.tag == "abbr" and el.get("title"):
        return el.get("title")
    if el.tag == "time" and el.get("title"):
        return el.get("title")
    return text_of(el) or None


def _author(el) -> tuple[str | None, str | None]:
    """(name, profile URL) of an author property: a Person scope or a plain element."""
    if el is None:
        return None, None
    if el.get("itemscope") is not None:
        p = props(el)
        name_el = p["name"][0] if "name" in p else None
        # a name marked on the profile link (<a itemprop="name" href=...>) is its text, not the URL
        name = (
            (text_of(name_el) or None if name_el.tag == "a" and not name_el.get("content") else prop_value(name_el))
            if name_el is not None
            else None
        )
        url = p["url"][0].get("href") or p["url"][0].get("content") if "url" in p else None
        link = first(el, "a[href]")
        return name or (text_of(el) or None), url or (link.get("href") if link is not None else None)
    link = el if el.tag == "a" else first(el, "a[href]")
    return (el.get("content") or text_of(el) or None), (link.get("href") if link is not None else None)


def likes_of(p: dict[str, list]) -> int | None:
    for el in p.get("interactionStatistic", []):
        sp = props(el)
        kind = prop_value(sp["interactionType"][0]) if "interactionType" in sp else ""
        if "userInteractionCount" in sp and ("Like" in (kind or "") or not kind):
            return parse_int(prop_value(sp["userInteractionCount"][0]))
    for el in p.get("interactionCount", []):  # older "UserLikes:4" form
        m = re.match(r"UserLikes:(\d+)", el.get("content") or "")
        if m:
            return int(m.group(1))
    return None


def post_scopes(root) -> list:
    """Every itemscope of a post type that has its own text property, in document order."""
    out = []
    for el in root.iter():
        if isinstance(el.tag, str) and el.get("itemscope") is not None and _type_of(el) in POST_TYPES:
            p = props(el)
            if any(t in p for t in TEXT_PROPS):
                out.append((el, p))
    return out


def _quote(q) -> dict:
    return {
        "author": q.get("data-username") or q.get("data-author"),
        "post_id": q.get("data-post"),
        "text": text_of(first(q, "blockquote") if q.tag == "aside" else q),
    }


def parse_posts(root, url: str, ctx: ParseContext, res: PageResult, types: list | None = None) -> int:
    """Append one item per microdata post on the page; returns how many were added. `types` (when given)
    receives each added item's schema.org type."""
    title = res.thread_title or first_text(root, "h1") or first_text(root, "title")
    added = 0
    for n, (el, p) in enumerate(post_scopes(root), 1):
        body = next(p[t][0] for t in TEXT_PROPS if t in p)
        text, quotes, sig = split_post(body, QUOTE_CSS, _quote, SIGNATURE_CSS)
        if sig is None:  # a signature beside the text, still owned by this post (not by a nested comment)
            own_sig = next((s for s in css(el, SIGNATURE_CSS) if _scope_of(s) is el), None)
            sig = inner_text(own_sig) or None if own_sig is not None else None
        if not text and not quotes:
            continue
        name, aurl = _author(p["author"][0] if "author" in p else None)
        if name is None and "creator" in p:
            name, aurl = _author(p["creator"][0])
        date_el = next((p[d][0] for d in DATE_PROPS if d in p), None)
        date_raw = prop_value(date_el)
        own_url = prop_value(p["url"][0]) if "url" in p else None
        # an element id like "post_3" repeats in every thread, so ids are made unique with the page URL
        anchor = f"{strip_fragment(url)}#{el.get('id') or n}"
        own_abs = absolute(url, own_url)
        own = own_abs if own_abs and strip_fragment(own_abs) != strip_fragment(url) else None
        pid = el.get("itemid") or own or anchor
        res.items.append(
            make_item(
                ctx,
                post_id=str(pid),
                url=own or anchor,
                text=text,
                quoted=quotes,
                signature=sig,
                thread_url=res.thread_url or strip_fragment(url),
                thread_id=res.thread_id,
                thread_title=title,
                author=name,
                author_url=absolute(url, aurl),
                posted_at=iso_date(date_raw, ctx),
                posted_at_raw=date_raw,
                likes=likes_of(p),
                page_url=url,
                reply_to=next((q["post_id"] for q in quotes if q["post_id"]), None),
            )
        )
        added += 1
        if types is not None:
            types.append(_type_of(el))
    return added


def has_posts(root) -> bool:
    return bool(post_scopes(root))


def only_comments(root) -> bool:
    """True when the page marks up its comments but not the thing they comment on (the article's own text is
    then only found by main-text extraction)."""
    return all(_type_of(el) in COMMENT_TYPES for el, _ in post_scopes(root))


__all__ = [
    "COMMENT_TYPES",
    "POST_TYPES",
    "has_posts",
    "likes_of",
    "only_comments",
    "parse_posts",
    "post_scopes",
    "prop_value",
    "props",
]
