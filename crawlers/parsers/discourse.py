"""Discourse JSON API: /latest.json topic lists and /t/<slug>/<id>.json topics (+ /t/<id>/posts.json chunks)."""

from __future__ import annotations

import json
from urllib.parse import urlencode, urljoin, urlparse

import lxml.html

from crawlers.parsers.base import _PARSER, PageResult, ParseContext, ParseError, ThreadLink, iso_date, make_item, text_of, css

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
        quotes.append({"author": q.get("data-username"), "post_id": q.get("data-post"),
                       "text": text_of(body[0]) if body else text_of(q)})
        q.drop_tree()
    return text_of(frag), quotes


def parse(text: str | bytes, url: str, ctx: ParseContext) -> PageResult:
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
        res.thread_links.append(ThreadLink(url=f"{root}/t/{slug}/{tid}.json", thread_id=str(tid), title=t.get("title"),
                                           replies=(t.get("posts_count") or 1) - 1, listing_hash=sig))
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
        res.items.append(make_item(
            ctx, post_id=str(p["id"]), url=f"{thread_url}/{p.get('post_number')}", text=text, quoted=quotes,
            thread_url=thread_url, thread_id=tid, thread_title=title or p.get("topic_title"),
            author=p.get("username"), author_url=f"{root}/u/{p.get('username')}" if p.get("username") else None,
            posted_at=iso_date(p.get("created_at"), ctx), posted_at_raw=p.get("created_at"),
            reply_to=str(by_number[rt]) if rt in by_number else (str(rt) if rt else None),
            likes=likes, views=p.get("reads"), page_url=url,
            extra={"post_number": p.get("post_number"), "reply_to_post_number": rt,
                   **({"reactions": {r.get("id"): r.get("count") for r in reactions}} if reactions else {})},
        ))
    if topic is not None:
        have = {p.get("id") for p in posts}
        rest = [i for i in ps.get("stream", []) if i not in have]
        for k in range(0, len(rest), CHUNK):
            q = urlencode([("post_ids[]", i) for i in rest[k:k + CHUNK]])
            res.extra_urls.append(f"{root}/t/{tid}/posts.json?{q}")
    return res
