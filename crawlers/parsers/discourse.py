"""Discourse: the JSON API (/latest.json topic lists, /t/<slug>/<id>.json topics + /t/<id>/posts.json chunks)
and the server-rendered HTML a topic URL returns to crawlers and saved pages (no JavaScript).

The HTML view shows post numbers, not the API's global post ids, so its items are keyed `<topic id>/<number>`.
"""

from __future__ import annotations

import copy
import json
import re
from urllib.parse import urlencode, urljoin, urlparse

import lxml.html

from crawlers.parsers import microdata
from crawlers.parsers.base import (
    _PARSER,
    PageResult,
    ParseContext,
    ParseError,
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
    rel_next,
    split_post,
    strip_fragment,
    text_of,
)

CHUNK = 20  # the real API returns up to 20 posts per posts.json call


def _site_root(url: str, marker: str) -> str:
    u = urlparse(url)
    path = u.path
    i = path.find(marker)
    prefix = path[:i] if i >= 0 else ""
    return f"{u.scheme}://{u.netloc}{prefix}"


def _load(text: str | bytes) -> dict:
    try:
        data = json.loads(text)
    except (ValueError, TypeError) as e:
        raise ParseError(f"not JSON: {e}") from None
    if not isinstance(data, dict):
        raise ParseError("expected a JSON object")
    return data


def _cooked(html: str) -> tuple[str, list[dict]]:
    if not html or not html.strip():
        return "", []
    frag = lxml.html.fragment_fromstring(html, create_parent="div", parser=_PARSER)
    quotes = []
    for q in css(frag, "aside.quote"):
        body = css(q, "blockquote")
        quotes.append(
            {
                "author": q.get("data-username"),
                "post_id": q.get("data-post"),
                "text": text_of(body[0]) if body else text_of(q),
            }
        )
        q.drop_tree()
    for q in css(frag, "blockquote"):  # markdown "> " quoting: someone's words, author unknown
        if not any(a.tag == "blockquote" for a in q.iterancestors()):
            quotes.append({"author": None, "post_id": None, "text": text_of(q)})
    for q in [q for q in css(frag, "blockquote") if not any(a.tag == "blockquote" for a in q.iterancestors())]:
        q.drop_tree()
    return text_of(frag), quotes


def detect(html: str) -> int:
    """Markers of Discourse's HTML (crawler view and the app shell around it)."""
    head = html[:400000]
    return 2 * sum(
        m in head
        for m in (
            "crawler-post",
            'content="Discourse',
            "data-discourse-setup",
            "discourse-cdn",
            "crawler-post-meta",
            "itemprop='articleBody'",
            "discourse_",
            "raw-topic-link",
        )
    )


def parse(text: str | bytes, url: str, ctx: ParseContext) -> PageResult:
    head = text.lstrip()[:1] if isinstance(text, str) else text.lstrip()[:1].decode("latin-1")
    if head not in ("{", "["):
        return parse_html(text, url, ctx)
    data = _load(text)
    if "topic_list" in data:
        return _parse_list(data, url)
    if "post_stream" in data and "id" in data:
        return _parse_topic(data, url, ctx, data)
    if "post_stream" in data:  # posts.json chunk: no topic metadata
        return _parse_topic(data, url, ctx, None)
    raise ParseError("not a Discourse topic list or topic JSON")


def _parse_list(data: dict, url: str) -> PageResult:
    root = _site_root(url, "/latest")
    res = PageResult()
    for t in data["topic_list"].get("topics", []):
        tid, slug = t.get("id"), t.get("slug") or "topic"
        if tid is None:
            continue
        sig = f"{t.get('posts_count')}|{t.get('last_posted_at') or t.get('bumped_at')}"
        res.thread_links.append(
            ThreadLink(
                url=f"{root}/t/{slug}/{tid}.json",
                thread_id=str(tid),
                title=t.get("title"),
                replies=(t.get("posts_count") or 1) - 1,
                listing_hash=sig,
            )
        )
    more = data["topic_list"].get("more_topics_url")
    if more:
        more_path = more if ".json" in more.split("?")[0] else more.replace("/latest", "/latest.json", 1)
        res.next_url = urljoin(root + "/", more_path.lstrip("/")) if not more_path.startswith("http") else more_path
        if more_path.startswith("/"):
            u = urlparse(url)
            res.next_url = f"{u.scheme}://{u.netloc}{more_path}"
    return res


def _parse_topic(data: dict, url: str, ctx: ParseContext, topic: dict | None) -> PageResult:
    root = _site_root(url, "/t/")
    ps = data["post_stream"]
    posts = ps.get("posts", [])
    tid = str(topic["id"]) if topic else str(posts[0].get("topic_id")) if posts else None
    slug = (topic or {}).get("slug") or (posts[0].get("topic_slug") if posts else None) or "topic"
    title = (topic or {}).get("title")
    thread_url = f"{root}/t/{slug}/{tid}"
    res = PageResult(thread_id=tid, thread_url=thread_url, thread_title=title)
    by_number = {p.get("post_number"): p.get("id") for p in posts}
    for p in posts:
        text, quotes = _cooked(p.get("cooked") or "")
        likes = p.get("like_count")
        if likes is None:
            likes = sum(a.get("count", 0) for a in p.get("actions_summary", []) if a.get("id") == 2) or None
        reactions = p.get("reactions") or []
        if reactions and likes is None:
            likes = sum(r.get("count", 0) for r in reactions)
        rt = p.get("reply_to_post_number")
        res.items.append(
            make_item(
                ctx,
                post_id=str(p["id"]),
                url=f"{thread_url}/{p.get('post_number')}",
                text=text,
                quoted=quotes,
                thread_url=thread_url,
                thread_id=tid,
                thread_title=title or p.get("topic_title"),
                author=p.get("username"),
                author_url=f"{root}/u/{p.get('username')}" if p.get("username") else None,
                posted_at=iso_date(p.get("created_at"), ctx),
                posted_at_raw=p.get("created_at"),
                reply_to=str(by_number[rt]) if rt in by_number else (str(rt) if rt else None),
                likes=likes,
                views=p.get("reads"),
                page_url=url,
                extra={
                    "post_number": p.get("post_number"),
                    "reply_to_post_number": rt,
                    **({"reactions": {r.get("id"): r.get("count") for r in reactions}} if reactions else {}),
                },
            )
        )
    if topic is not None:
        have = {p.get("id") for p in posts}
        rest = [i for i in ps.get("stream", []) if i not in have]
        for k in range(0, len(rest), CHUNK):
            q = urlencode([("post_ids[]", i) for i in rest[k : k + CHUNK]])
            res.extra_urls.append(f"{root}/t/{tid}/posts.json?{q}")
    return res


# --------------------------------------------------------------------------------------------- HTML view


def _topic_of(url: str, root) -> tuple[str | None, str]:
    canon = first(root, "link[rel=canonical]") if root is not None else None
    for u in (url, canon.get("href") if canon is not None else ""):
        m = re.search(r"^(.*?/t/(?:[^/?#]+/)?(\d+))(?:[/?#]|$)", absolute(url, u) or "")
        if m:
            return m.group(2), m.group(1)
    return None, strip_fragment(url)


def _html_quote(q) -> dict:
    body = first(q, "blockquote")
    author = q.get("data-username")
    if not author:  # older cooked quotes name the author only in the title ("lena_m:")
        author = (first_text(q, "div.title") or "").rstrip(":").strip() or None
    post, topic = q.get("data-post"), q.get("data-topic")
    return {
        "author": author,
        "post_id": f"{topic}/{post}" if post and topic else post,
        "text": text_of(body if body is not None else q),
    }


def _html_posts(root) -> list:
    # Discourse 2.x+: div#post_N.crawler-post; before that: one DiscussionForumPosting scope per post
    posts = [p for p in css(root, "div.crawler-post") if p.get("id", "").startswith("post_")]
    if posts:
        return posts
    return [el for el, _ in microdata.post_scopes(root) if first(el, ".creator") is not None]


def parse_html(html: str | bytes, url: str, ctx: ParseContext) -> PageResult:
    root = html_tree(html)
    tid, thread_url = _topic_of(url, root)
    og_title = first(root, "meta[property='og:title']")
    title = (
        first_text(root, "#topic-title h1 a")
        or first_text(root, "#topic-title h1")
        or first_text(root, "h1")
        or (og_title.get("content") if og_title is not None else None)
    )
    res = PageResult(thread_id=tid, thread_url=thread_url, thread_title=title)
    res.next_url = rel_next(root, url)
    for n, p in enumerate(_html_posts(root), 1):
        own = microdata.props(p)
        m = re.fullmatch(r"post_(\d+)", p.get("id", ""))
        pos = first_text(p, "[itemprop=position]")
        number = m.group(1) if m else (re.sub(r"\D", "", pos) if pos and re.search(r"\d", pos) else str(n))
        body = first(p, "div.post[itemprop]") or first(p, "div.post")
        if body is None:
            continue
        # aside.quote: a quoted post; a bare blockquote: markdown "> " quoting (no author)
        text, quotes, _ = split_post(body, "aside.quote, blockquote", _html_quote)
        user = (
            first(p, ".creator [itemprop=name]")
            or first(p, ".creator b[itemprop=author]")
            or first(p, ".creator a")
            or first(p, ".creator")
        )
        link = first(p, ".creator a[href]")
        tm = (
            first(p, "time.post-time[datetime]")
            or first(p, "time[itemprop=datePublished][datetime]")
            or first(p, "meta[itemprop=datePublished][content]")
            or first(p, "time[datetime]")
        )
        if tm is not None:
            date_raw = tm.get("datetime") or tm.get("content")
        else:  # a copy without the time element keeps the date as the infos' text
            infos = first(p, ".crawler-post-infos")
            if infos is not None:
                infos = copy.deepcopy(infos)
                for el in css(infos, "[itemprop=position]"):
                    el.drop_tree()
            date_raw = (text_of(infos) or None) if infos is not None else None
        likes = microdata.likes_of(own)
        if likes is None:
            likes = parse_int(first_text(p, ".post-likes")) if first_text(p, ".post-likes") else None
        for q in quotes:  # a quote without data-topic names a post number of this topic
            if q["post_id"] and tid and "/" not in q["post_id"]:
                q["post_id"] = f"{tid}/{q['post_id']}"
        res.items.append(
            make_item(
                ctx,
                post_id=f"{tid}/{number}" if tid else f"{thread_url}#{number}",
                url=f"{thread_url}/{number}",
                text=text,
                quoted=quotes,
                thread_url=thread_url,
                thread_id=tid,
                thread_title=title,
                author=text_of(user) or None if user is not None else None,
                author_url=absolute(url, link.get("href")) if link is not None else None,
                posted_at=iso_date(date_raw, ctx),
                posted_at_raw=date_raw,
                likes=likes,
                page_url=url,
                reply_to=next((q["post_id"] for q in quotes if q["post_id"]), None),
                extra={"post_number": int(number)} if number.isdigit() else {},
            )
        )
    if not res.items:
        _html_listing(root, url, res)
    return res


def _html_listing(root, url: str, res: PageResult) -> None:
    """Crawler view of /latest and category pages: tr.topic-list-item rows with a.raw-topic-link."""
    seen = set()
    for a in css(root, "a.raw-topic-link"):
        t, turl = _topic_of(absolute(url, a.get("href")) or "", root=None)
        if not t or t in seen:
            continue
        seen.add(t)
        row = next((anc for anc in a.iterancestors() if anc.tag == "tr"), a)
        replies = parse_int(first_text(row, "td.replies .posts") or first_text(row, "span.posts"))
        res.thread_links.append(
            ThreadLink(url=turl, thread_id=t, title=text_of(a), replies=replies, listing_hash=listing_hash(row))
        )
    res.next_url = res.next_url or rel_next(root, url, ("a[rel=next]",))
