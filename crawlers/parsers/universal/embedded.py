"""Posts a page carries as data rather than markup: JSON-LD (schema.org DiscussionForumPosting, Comment, Answer
...) and JSON state blobs in script tags (a client-side app's comments, `window.__STATE__ = {...}`).

Both give plain dicts `{author, date, text, id, url, depth, kind}`; `kind` is "post" for a thread's own
posting and comments, "article" for the article or video the comments are under.
"""

from __future__ import annotations

import json
import re

import lxml.html

from crawlers.parsers.base import text_of

POST_TYPES = {"DiscussionForumPosting", "Comment", "Answer", "Question", "SocialMediaPosting", "UserComments"}
ARTICLE_TYPES = {"Article", "NewsArticle", "BlogPosting", "VideoObject", "WebPage", "TechArticle", "Report"}
_TEXT_KEYS = ("text", "articleBody", "commentText", "body", "description")
_MAX_BLOB = 8_000_000
_MAX_NODES = 200_000


def _types(obj: dict) -> set[str]:
    t = obj.get("@type")
    ts = t if isinstance(t, list) else [t]
    return {str(x).rsplit("/", 1)[-1] for x in ts if x}


def _name(v) -> str | None:
    if isinstance(v, list):
        v = v[0] if v else None
    if isinstance(v, dict):
        v = v.get("name") or v.get("alternateName") or v.get("username")
    return str(v).strip() or None if v is not None else None


def _html_text(s: str) -> str:
    if "<" in s and ">" in s:
        try:
            return text_of(lxml.html.fragment_fromstring(s, create_parent="div"))
        except (ValueError, lxml.etree.ParserError):
            return s.strip()
    return s.strip()


def _repeated_as_comment(obj: dict, text) -> bool:
    """Whether the posting's first comment is the posting itself: the same opening words and the same date."""
    c = obj.get("comment")
    first = c[0] if isinstance(c, list) and c else c
    if not isinstance(first, dict) or not isinstance(text, str):
        return False
    other = next((first[k] for k in _TEXT_KEYS if isinstance(first.get(k), str) and first[k].strip()), None)
    if not isinstance(other, str):
        return False
    words, theirs = " ".join(text.split())[:80], " ".join(other.split())[:80]
    date = obj.get("datePublished") or obj.get("dateCreated")
    their_date = first.get("datePublished") or first.get("dateCreated")
    same_minute = not date or not their_date or str(date)[:16] == str(their_date)[:16]
    return bool(words) and words == theirs and same_minute


def _ld_posts(obj, depth: int, out: list, seen: set, listed: bool = False) -> None:
    """`listed`: `obj` is in a posting's list of comments (the data lists the thread's posts, not just its topic)."""
    if isinstance(obj, list):
        for x in obj:
            _ld_posts(x, depth, out, seen, listed)
        return
    if not isinstance(obj, dict) or id(obj) in seen or len(out) > 10_000:
        return
    seen.add(id(obj))
    types = _types(obj)
    if "@graph" in obj:
        _ld_posts(obj["@graph"], depth, out, seen)
    is_post = bool(types & POST_TYPES)
    if is_post or types & ARTICLE_TYPES:
        text = next((obj[k] for k in _TEXT_KEYS if isinstance(obj.get(k), str) and obj[k].strip()), None)
        # a topic whose first comment repeats it (its opening post listed again as a comment, as Invision 4 does)
        # is that post: it is read once, as the comment, which names its author
        repeated = is_post and _repeated_as_comment(obj, text)
        if (text is not None or is_post) and not repeated:
            out.append(
                {
                    "kind": "post" if is_post else "article",
                    "type": next(iter(types), ""),
                    "author": _name(obj.get("author") or obj.get("creator")),
                    "date": obj.get("datePublished") or obj.get("dateCreated") or obj.get("uploadDate"),
                    "text": _html_text(text or ""),
                    "id": str(obj.get("identifier") or obj.get("@id") or "") or None,
                    "url": obj.get("url") if isinstance(obj.get("url"), str) else None,
                    "depth": depth,
                    "listed": listed,
                }
            )
        for k in ("comment", "suggestedAnswer", "acceptedAnswer", "hasPart"):
            if k in obj:
                _ld_posts(obj[k], depth + (1 if is_post and not repeated else 0), out, seen, k == "comment")
        return
    for k in ("mainEntity", "mainEntityOfPage", "itemListElement", "item"):
        if isinstance(obj.get(k), (dict, list)):
            _ld_posts(obj[k], depth, out, seen)


def json_ld_posts(root) -> list[dict]:
    out: list[dict] = []
    for s in root.iter("script"):
        if (s.get("type") or "").strip().lower() != "application/ld+json" or not s.text:
            continue
        try:
            data = json.loads(s.text.strip().rstrip(";"))
        except (ValueError, RecursionError):
            continue
        try:
            _ld_posts(data, 0, out, set())
        except RecursionError:
            continue
    return out


# ------------------------------------------------------------------------------------------------ state blobs

_ASSIGN = re.compile(r"^\s*(?:window\.|var\s+|let\s+|const\s+|self\.)?[\w$.\[\]\"']+\s*=\s*", re.DOTALL)
_TEXTY = (
    "text",
    "body",
    "content",
    "message",
    "comment",
    "html",
    "body_html",
    "text_html",
    "contentHtml",
    "message_html",
    "commentText",
    "raw",
    "cooked",
    "contentText",
)
_AUTHORY = (
    "author",
    "user",
    "username",
    "login",
    "nickname",
    "nick",
    "userName",
    "authorName",
    "author_name",
    "authorText",
    "by",
    "from",
    "owner",
    "creator",
    "name",
    "display_name",
    "displayName",
    "poster",
)
_DATEY = (
    "created_at",
    "createdAt",
    "created",
    "date",
    "time",
    "timestamp",
    "published",
    "publishedAt",
    "created_utc",
    "time_published",
    "datePublished",
    "posted_at",
    "postedAt",
    "pubDate",
    "ts",
    "publishedTimeText",
    "publishedTime",
)
_CHILDREN = ("children", "replies", "comments", "answers", "thread", "subcomments", "child_comments")


def _blob_texts(root):
    for s in root.iter("script"):
        t = (s.get("type") or "").lower()
        if t and "json" not in t and "javascript" not in t:
            continue
        if t == "application/ld+json":
            continue
        src = s.text
        if not src or len(src) < 60 or len(src) > _MAX_BLOB:
            continue
        src = src.strip()
        if src[:1] not in "{[":
            m = _ASSIGN.match(src)
            if not m:
                continue
            src = src[m.end() :]
        if src[:1] not in "{[":
            continue
        try:
            data, _ = json.JSONDecoder().raw_decode(src)
        except (ValueError, RecursionError):
            continue
        yield data


def _field(d: dict, keys) -> object:
    for k in keys:
        v = d.get(k)
        if v not in (None, "", [], {}):
            return v
    return None


def _plain(v):
    """A text value as apps store it: a string, {"simpleText": ...}, or {"runs": [{"text": ...}, ...]}."""
    if isinstance(v, dict):
        if isinstance(v.get("runs"), list):
            return "".join(str(r.get("text", "")) for r in v["runs"] if isinstance(r, dict)) or None
        return _field(v, ("simpleText", "html", "text", "raw", "value", "content", "content_html"))
    return v


def _record(d: dict) -> dict | None:
    """A comment-like dict: some text and an author or a date."""
    if isinstance(d.get("properties"), dict):  # an entity whose fields sit one level down
        d = {**d["properties"], **{k: v for k, v in d.items() if k != "properties"}}
    text = _plain(_field(d, _TEXTY))
    if isinstance(text, dict):
        text = _plain(text)
    if not isinstance(text, str) or not text.strip():
        return None
    author = _field(d, _AUTHORY)
    if isinstance(author, dict) and ("runs" in author or "simpleText" in author):
        author = _plain(author)
    if isinstance(author, dict):
        author = _field(
            author, ("name", "username", "login", "nickname", "alias", "display_name", "displayName", "title")
        )
    date = _plain(_field(d, _DATEY))
    if author is None and date is None:
        return None
    if author is not None and not isinstance(author, (str, int)):
        author = None
    return {
        "kind": "post",
        "type": "state",
        "author": str(author).strip() if author is not None else None,
        "date": str(date) if isinstance(date, (str, int, float)) else None,
        "text": _html_text(text),
        "id": str(d.get("id") or d.get("_id") or d.get("uuid") or d.get("commentId") or "") or None,
        "url": d.get("url") if isinstance(d.get("url"), str) and d.get("url", "").startswith("http") else None,
    }


def _walk_lists(data, budget: list):
    """Every list of dicts in the blob, and each with how deep in the document it sits."""
    stack = [data]
    while stack and budget[0] > 0:
        x = stack.pop()
        budget[0] -= 1
        if isinstance(x, dict):
            stack.extend(v for v in x.values() if isinstance(v, (dict, list)))
        elif isinstance(x, list):
            if len(x) >= 1 and all(isinstance(v, dict) for v in x[:50]):
                yield x
            stack.extend(v for v in x if isinstance(v, (dict, list)))


def _unwrap(d, depth: int = 4):
    """The comment-like dict inside wrappers ({"commentThreadRenderer": {"comment": {"commentRenderer": {...}}}},
    {"data": {...}}), or `d` itself."""
    if not isinstance(d, dict) or depth <= 0 or _record(d) is not None:
        return d
    for v in d.values():
        if isinstance(v, dict):
            inner = _unwrap(v, depth - 1)
            if _record(inner) is not None:
                return inner
    return d


def _flatten(lst: list, depth: int, out: list, seen: set) -> None:
    for d in lst:
        wrapper = d
        d = _unwrap(d)
        if not isinstance(d, dict) or id(d) in seen or len(out) > 20_000:
            continue
        seen.add(id(d))
        r = _record(d)
        if r is not None:
            r["depth"] = depth
            out.append(r)
        for k in _CHILDREN:
            v = d.get(k) if k in d else (wrapper.get(k) if isinstance(wrapper, dict) else None)
            if isinstance(v, dict):
                v = _field(v, ("data", "items", "comments", "children")) or []
            if isinstance(v, list):
                _flatten([c.get("data", c) if isinstance(c, dict) else c for c in v], depth + 1, out, seen)


def state_posts(root) -> list[dict]:
    """The biggest comment tree found in the page's JSON state (empty when none has two or more records)."""
    best: list[dict] = []
    for data in _blob_texts(root):
        budget = [_MAX_NODES]
        for lst in _walk_lists(data, budget):
            items = [_unwrap(c) for c in lst]
            if sum(1 for d in items[:20] if _record(d) is not None) < min(2, len(items)):
                continue
            out: list[dict] = []
            _flatten(items, 0, out, set())
            if len(out) > len(best):
                best = out
    return best if len(best) >= 2 else []
