"""Discourse JSON API: /discourse/latest.json[?page=K], /discourse/t/<slug>/<id>.json (first 20 posts + the
full post id stream), /discourse/t/<id>/posts.json?post_ids[]=… (the rest), /discourse/categories.json.
/discourse/ itself is the crawler-view HTML topic list real Discourse serves to non-JS clients."""

from __future__ import annotations

import json
import re
from datetime import datetime

from demo.web.common import (
    NotFound,
    Page,
    esc,
    iso_z,
    last_activity,
    snippet,
    text_html,
    thread_times,
    trap_links,
)
from demo.web.corpus import Post, Site, Thread, slugify

P = "/discourse"
TOPICS_PER_PAGE = 10
CHUNK = 20


def _json(obj) -> Page:
    return Page(json.dumps(obj, ensure_ascii=False, separators=(",", ":")), content_type="application/json")


def _user(site: Site, name: str) -> dict:
    a = site.author(name)
    return {
        "id": a.user_id,
        "username": name,
        "name": name,
        "avatar_template": f"{P}/letter_avatar_proxy/v4/letter/{slugify(name)[:1] or 'u'}/{{size}}.png",
        "trust_level": 2 if (a.posts or 0) > 100 else 1,
    }


def _topics(site: Site, now: datetime) -> list[Thread]:
    return sorted(site.threads(), key=lambda t: (-last_activity(t, now).timestamp(), t.id))


def _topic_summary(site: Site, t: Thread, now: datetime) -> dict:
    times = t.times(now)
    posters: list[dict] = []
    for name in dict.fromkeys(p.author for p in t.posts):
        posters.append(
            {
                "extras": None,
                "description": "Original Poster" if not posters else "Frequent Poster",
                "user_id": site.author(name).user_id,
            }
        )
        if len(posters) == 5:
            break
    return {
        "id": t.id,
        "title": t.title,
        "fancy_title": esc(t.title),
        "slug": t.slug,
        "posts_count": len(t.posts),
        "reply_count": max(0, len(t.posts) - 1),
        "highest_post_number": len(t.posts),
        "image_url": None,
        "created_at": iso_z(times[0], True),
        "last_posted_at": iso_z(times[-1], True),
        "bumped": True,
        "bumped_at": iso_z(times[-1], True),
        "archetype": "regular",
        "unseen": False,
        "pinned": t.sticky,
        "visible": True,
        "closed": False,
        "archived": False,
        "views": t.views,
        "like_count": sum(p.likes for p in t.posts),
        "has_summary": False,
        "category_id": t.board_id,
        "last_poster_username": t.posts[-1].author,
        "posters": posters,
    }


def _cooked(t: Thread, p: Post, by_n: dict[int, Post]) -> str:
    quote = ""
    if p.quote:
        q = by_n[p.quote]
        quote = (
            f'<aside class="quote no-group" data-username="{esc(q.author)}" data-post="{q.n}" data-topic="{t.id}">\n'
            f'<div class="title">\n<div class="quote-controls"></div>\n<img loading="lazy" alt="" width="24" height="24" '
            f'src="{P}/letter_avatar_proxy/v4/letter/x/24.png" class="avatar"> {esc(q.author)}:</div>\n'
            f"<blockquote>\n{text_html(snippet(q.text), 'p')}</blockquote>\n</aside>\n"
        )
    return quote + text_html(p.text, "p")


def _post(site: Site, t: Thread, p: Post, when: datetime, by_n: dict[int, Post]) -> dict:
    u = _user(site, p.author)
    a = site.author(p.author)
    reply_to = p.reply_to or (p.quote if p.quote else None)
    return {
        "id": p.id,
        "name": u["name"],
        "username": p.author,
        "avatar_template": u["avatar_template"],
        "created_at": iso_z(when, True),
        "cooked": _cooked(t, p, by_n),
        "post_number": p.n,
        "post_type": 1,
        "updated_at": iso_z(when, True),
        "reply_count": sum(1 for x in t.posts if (x.reply_to or x.quote) == p.n),
        "reply_to_post_number": reply_to,
        "quote_count": 1 if p.quote else 0,
        "incoming_link_count": 0,
        "reads": max(1, t.views // 3 + p.likes * 4),
        "readers_count": max(0, t.views // 3 + p.likes * 4 - 1),
        "score": round(p.likes * 15 + t.views * 0.05, 1),
        "yours": False,
        "topic_id": t.id,
        "topic_slug": t.slug,
        "display_username": p.author,
        "primary_group_name": None,
        "flair_name": None,
        "version": 1,
        "can_edit": False,
        "can_delete": False,
        "can_recover": False,
        "user_title": a.title,
        "bookmarked": False,
        "actions_summary": [{"id": 2, "count": p.likes}] if p.likes else [],
        "reactions": [{"id": "heart", "type": "emoji", "count": p.likes}] if p.likes else [],
        "reaction_users_count": p.likes,
        "current_user_used_main_reaction": False,
        "moderator": False,
        "admin": False,
        "staff": False,
        "user_id": u["id"],
        "hidden": False,
        "trust_level": u["trust_level"],
        "deleted_at": None,
        "user_deleted": False,
        "wiki": False,
        "signature": None,
    }


def latest(site: Site, query: dict, now: datetime) -> Page:
    try:
        page = int((query.get("page") or ["0"])[0])
    except ValueError:
        raise NotFound from None
    topics = _topics(site, now)
    chunk = topics[page * TOPICS_PER_PAGE : (page + 1) * TOPICS_PER_PAGE]
    if page < 0 or (page and not chunk):
        raise NotFound
    users: dict[str, dict] = {}
    for t in chunk:
        for p in t.posts:
            users.setdefault(p.author, _user(site, p.author))
    tl = {
        "can_create_topic": False,
        "per_page": TOPICS_PER_PAGE,
        "top_tags": [],
        "topics": [_topic_summary(site, t, now) for t in chunk],
    }
    if (page + 1) * TOPICS_PER_PAGE < len(topics):
        tl["more_topics_url"] = f"{P}/latest?no_definitions=true&page={page + 1}"
    pg = _json({"users": list(users.values()), "primary_groups": [], "flair_groups": [], "topic_list": tl})
    pg.last_modified = max((last_activity(t, now) for t in chunk), default=now)
    return pg


def topic(site: Site, t: Thread, now: datetime) -> Page:
    times = thread_times(t, now)
    by_n = {p.n: p for p in t.posts}
    posts = [_post(site, t, p, times[p.n], by_n) for p in t.posts[:CHUNK]]
    summary = _topic_summary(site, t, now)
    body = {
        "post_stream": {"posts": posts, "stream": [p.id for p in t.posts]},
        "timeline_lookup": [],
        "tags": [],
        "tags_descriptions": {},
        "id": t.id,
        "title": t.title,
        "fancy_title": esc(t.title),
        "posts_count": len(t.posts),
        "created_at": summary["created_at"],
        "views": t.views,
        "reply_count": summary["reply_count"],
        "like_count": summary["like_count"],
        "last_posted_at": summary["last_posted_at"],
        "visible": True,
        "closed": False,
        "archived": False,
        "has_summary": False,
        "archetype": "regular",
        "slug": t.slug,
        "category_id": t.board_id,
        "word_count": sum(len(p.text.split()) for p in t.posts),
        "deleted_at": None,
        "user_id": posts[0]["user_id"],
        "highest_post_number": len(t.posts),
        "pinned": t.sticky,
        "chunk_size": CHUNK,
        "details": {
            "can_edit": False,
            "created_by": _user(site, t.posts[0].author),
            "last_poster": _user(site, t.posts[-1].author),
            "participants": [
                dict(_user(site, n), post_count=sum(1 for p in t.posts if p.author == n))
                for n in dict.fromkeys(p.author for p in t.posts)
            ],
        },
    }
    pg = _json(body)
    pg.last_modified = times[len(t.posts)] if t.posts else now
    return pg


def posts(site: Site, t: Thread, query: dict, now: datetime) -> Page:
    ids = set()
    for v in query.get("post_ids[]", []) + query.get("post_ids", []):
        try:
            ids.add(int(v))
        except ValueError:
            raise NotFound from None
    times = thread_times(t, now)
    by_n = {p.n: p for p in t.posts}
    out = [_post(site, t, p, times[p.n], by_n) for p in t.posts if p.id in ids]
    return _json({"post_stream": {"posts": out}, "id": t.id})


def categories(site: Site, now: datetime) -> Page:
    cats = [
        {
            "id": b.id,
            "name": b.title,
            "slug": b.slug,
            "description": b.description,
            "topic_count": len(b.threads),
            "post_count": sum(len(t.posts) for t in b.threads),
        }
        for b in site.boards
    ]
    return _json({"category_list": {"can_create_category": False, "categories": cats}})


def crawler_index(site: Site, now: datetime) -> Page:
    rows = "".join(
        f'<div class="topic-list-item"><a href="{P}/t/{esc(t.slug)}/{t.id}" class="title raw-link raw-topic-link" itemprop="url">'
        f'{esc(t.title)}</a> <span class="posts" title="сообщения">({len(t.posts)})</span></div>\n'
        for t in _topics(site, now)
    )
    html = (
        f'<!DOCTYPE html>\n<html lang="ru"><head><meta charset="utf-8"><title>{esc(site.title)}</title>'
        f'<meta name="generator" content="Discourse 3.2.1 - https://github.com/discourse/discourse version 3.2.1">'
        f'<link rel="alternate" type="application/json" href="{P}/latest.json"></head>'
        f'<body class="crawler"><header><a href="{P}/">{esc(site.title)}</a></header><div id="main-outlet" class="wrap" role="main">'
        f'<div class="topic-list" itemscope itemtype="http://schema.org/ItemList">{rows}</div></div>{trap_links()}</body></html>\n'
    )
    return Page(html)


_TOPIC = re.compile(r"^/t/(?:([^/]+)/)?(\d+)(?:\.json)?/?$")
_POSTS = re.compile(r"^/t/(\d+)/posts\.json$")


def render(site: Site, path: str, query: dict, now: datetime) -> Page:
    if path == "/":
        return crawler_index(site, now)
    if path in ("/latest.json", "/latest"):
        return latest(site, query, now)
    if path in ("/categories.json", "/categories"):
        return categories(site, now)
    m = _POSTS.match(path)
    if m:
        t = site.thread(int(m.group(1)))
        if t is None:
            raise NotFound
        return posts(site, t, query, now)
    m = _TOPIC.match(path)
    if m:
        t = site.thread(int(m.group(2)))
        if t is None:
            raise NotFound
        return topic(site, t, now)
    raise NotFound


def post_url(site: Site, t: Thread, post: Post) -> str:
    """The API URL that returns the post: the topic JSON for the first chunk, posts.json for the rest."""
    if post.n <= CHUNK:
        return f"{P}/t/{t.slug}/{t.id}.json#post_{post.n}"
    return f"{P}/t/{t.id}/posts.json?post_ids[]={post.id}#post_{post.n}"
