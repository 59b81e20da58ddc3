"""The next page of a thread or comment list, from markup alone.

In order: a `rel=next` link; a link whose text or label says "next" (in English or Russian, or an arrow); the
page-number link one after the current page (the current page number shown as plain text, or marked
current/active, inside a run of page-number links).
"""

from __future__ import annotations

import re
from urllib.parse import urldefrag, urlparse

from crawlers.parsers.base import absolute, text_of

_NEXT_WORD = re.compile(
    r"^\s*(?:next(?:\s+page)?|newer|older comments|след(?:ующая|\.)?(?:\s+страница)?|"
    r"далее|вперёд|вперед|дальше|›|»|>|>>|→|next\s*[›»>→]|след\.?\s*[›»>→])\s*$",
    re.IGNORECASE,
)
_NEXT_HINT = re.compile(r"(?:^|[-_\s])next(?:$|[-_\s])|pagination-?next|page-?next|nav-?next|след", re.IGNORECASE)
_CURRENT = re.compile(r"current|active|selected|this-?page|curr", re.IGNORECASE)


_PAGE_TAIL = re.compile(r"/(?:page[-/]?\d+|\d+|comment-page-\d+)/?$", re.IGNORECASE)
_OTHER_THREAD = re.compile(r"(?:^|&)view=(?:next|previous)", re.IGNORECASE)


def _page_link(base: str, href: str | None) -> str | None:
    if not href or href.startswith(("javascript:", "mailto:")) or href.strip() == "#":
        return None
    u = absolute(base, href)
    if u is None or urldefrag(u)[0] == urldefrag(base)[0] or not same_thread(base, u):
        return None
    return u


def same_thread(page: str, other: str) -> bool:
    """Whether `other` can be a further page of the thread at `page`: the same path with another query
    ("?t=5&start=20"), or the path extended by a page part ("/page-2", "/comment-page-2/"). A "next" link to the
    next topic or the next blog post (WordPress, phpBB's "view=next") is another thread."""
    a, b = urlparse(page), urlparse(other)
    if a.netloc != b.netloc or _OTHER_THREAD.search(b.query):
        return False
    pa, pb = _PAGE_TAIL.sub("", a.path.rstrip("/")) or "/", b.path.rstrip("/") or "/"
    return (
        pb == a.path.rstrip("/")
        or pb == pa
        or pb.startswith(pa.rstrip("/") + "/")
        and bool(_PAGE_TAIL.search(pb[len(pa.rstrip("/")) :] or "/"))
    )


def next_page(root, url: str) -> str | None:
    for el in root.iter("link", "a"):
        if "next" in (el.get("rel") or "").lower().split():
            u = _page_link(url, el.get("href"))
            if u:
                return u
    for a in root.iter("a"):
        label = " ".join(filter(None, (a.get("title"), a.get("aria-label"))))
        t = text_of(a)
        if (
            (t and len(t) < 30 and _NEXT_WORD.match(t))
            or (label and _NEXT_WORD.match(label))
            or _NEXT_HINT.search(a.get("class") or "")
            or _NEXT_HINT.search(a.get("id") or "")
        ):
            u = _page_link(url, a.get("href"))
            if u:
                return u
    return _after_current(root, url)


def _after_current(root, url: str) -> str | None:
    """The link numbered one more than the current page, where the current page number is not a link."""
    for el in root.iter("strong", "b", "span", "em", "li", "a"):
        t = (el.text or "").strip() if el.tag != "li" else text_of(el).strip()
        if not t.isdigit() or len(t) > 5:
            continue
        marked = (
            el.tag != "a"
            and el.tag != "li"
            or bool(_CURRENT.search(el.get("class") or ""))
            or el.get("aria-current") is not None
        )
        if el.tag == "a" and not (el.get("aria-current") or _CURRENT.search(el.get("class") or "")):
            continue
        if not marked:
            continue
        want = str(int(t) + 1)
        parent = el.getparent()
        for scope in (parent, parent.getparent() if parent is not None else None):
            if scope is None:
                continue
            links = [a for a in scope.iter("a") if (a.text or "").strip() == want or text_of(a).strip() == want]
            if links:
                u = _page_link(url, links[0].get("href"))
                if u:
                    return u
    return None
