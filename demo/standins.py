"""Local stand-ins for the VK API, the YouTube Data API v3 and two review sites, for the demo web and tests.

Responses follow the shapes in the platforms' public documentation (envelopes, paging, error bodies), including
the unhappy paths the spiders must handle: VK error 6 "Too many requests per second" on the first call of each
method, error 5 for a bad token, error 15 for a private wall, deleted comments; YouTube 429 on a video's first
commentThreads call, 403 commentsDisabled, 403 quotaExceeded once the per-key daily quota is spent, 400 for a bad
key. Content comes from data/demo_web/social/*.yaml with times relative to `now`.

`SocialApis.handle(method, path, query, headers, body)` returns (status, content type, bytes) or None for paths it
does not own, so any HTTP server can mount it.
"""

from __future__ import annotations

import html
import json
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

import yaml

VK_TOKEN = "demo-vk-service-token"
YT_KEY = "demo-youtube-api-key"
YT_COSTS = {"search": 100, "videos": 1, "commentThreads": 1, "comments": 1}

Response = tuple[int, str, bytes]


def _json(status: int, obj: Any) -> Response:
    return status, "application/json; charset=utf-8", json.dumps(obj, ensure_ascii=False).encode("utf-8")


class SocialApis:
    def __init__(
        self,
        content_dir: str | Path,
        now: datetime | None = None,
        *,
        vk_token: str = VK_TOKEN,
        yt_key: str = YT_KEY,
        yt_daily_quota: int = 10_000,
        flaky: bool = True,
    ):
        self.dir = Path(content_dir)
        self.now = now
        self.vk_token, self.yt_key, self.yt_quota, self.flaky = vk_token, yt_key, yt_daily_quota, flaky
        self.vk = yaml.safe_load((self.dir / "vk.yaml").read_text(encoding="utf-8"))
        self.yt = yaml.safe_load((self.dir / "youtube.yaml").read_text(encoding="utf-8"))
        self.reviews = yaml.safe_load((self.dir / "reviews.yaml").read_text(encoding="utf-8"))
        self.calls: Counter[str] = Counter()  # per method/endpoint, for tests
        self.yt_used = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------------------ helpers

    def _now(self) -> datetime:
        return self.now or datetime.now(UTC).replace(microsecond=0)

    def _ts(self, minutes_ago: float) -> int:
        return int((self._now() - timedelta(minutes=float(minutes_ago))).timestamp())

    def _iso(self, minutes_ago: float) -> str:
        return (self._now() - timedelta(minutes=float(minutes_ago))).strftime("%Y-%m-%dT%H:%M:%SZ")

    def add_vk_comment(self, owner_id: int, post_id: int, comment: dict[str, Any]) -> None:
        """Append a comment to a wall post (tests of incremental crawling)."""
        for p in self.vk["walls"][owner_id]:
            if p["id"] == post_id:
                p.setdefault("comments", []).append(comment)
                return
        raise KeyError(f"no VK post {owner_id}_{post_id}")

    def add_yt_reply(self, video_id: str, thread_id: str, reply: dict[str, Any]) -> None:
        for v in self.yt["videos"]:
            if v["id"] == video_id:
                for th in v["threads"]:
                    if th["id"] == thread_id:
                        th.setdefault("replies", []).append(reply)
                        return
        raise KeyError(f"no YouTube thread {video_id}/{thread_id}")

    def handle(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes = b"") -> Response | None:
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if method == "POST" and body:
            params.update({k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()})
        with self._lock:
            if path.startswith("/api/vk/method/"):
                return self._vk(path.rsplit("/", 1)[1], params)
            if path.startswith("/api/youtube/v3/"):
                lower = {k.lower(): v for k, v in headers.items()}
                return self._youtube(path.rsplit("/", 1)[1], params, lower.get("x-goog-api-key") or params.get("key"))
            if path.startswith("/reviews/"):
                return self._reviews(path, params)
        return None

    # ------------------------------------------------------------------------------------------ VK

    def _vk_error(self, code: int, msg: str, method: str, params: dict[str, str]) -> Response:
        shown = [{"key": k, "value": v} for k, v in params.items() if k != "access_token"]
        shown.append({"key": "method", "value": method})
        return _json(200, {"error": {"error_code": code, "error_msg": msg, "request_params": shown}})

    def _vk_group(self, owner_id: int) -> dict[str, Any] | None:
        return next((g for g in self.vk["groups"] if -g["id"] == owner_id), None)

    def _vk_extended(self, from_ids: set[int]) -> dict[str, Any]:
        profiles = [p for p in self.vk["profiles"] if p["id"] in from_ids]
        groups = [
            {k: g[k] for k in ("id", "name", "screen_name", "members_count")}
            for g in self.vk["groups"]
            if -g["id"] in from_ids
        ]
        return {"profiles": profiles, "groups": groups}

    def _vk_post(self, owner: int, p: dict[str, Any]) -> dict[str, Any]:
        comments = [c for c in p.get("comments", []) if not c.get("deleted")]
        return {
            "id": p["id"],
            "owner_id": owner,
            "from_id": p.get("from_id", owner),
            "date": self._ts(p["minutes_ago"]),
            "post_type": "post",
            "text": p["text"],
            "comments": {"count": len(comments), "can_post": 1},
            "likes": {"count": p.get("likes", 0), "user_likes": 0, "can_like": 1},
            "reposts": {"count": p.get("reposts", 0)},
            "views": {"count": p.get("views", 0)},
        }

    def _vk_comment(self, c: dict[str, Any], owner: int, post_id: int, parents: list[int]) -> dict[str, Any]:
        if c.get("deleted"):
            return {
                "id": c["id"],
                "from_id": 0,
                "date": 0,
                "text": "",
                "post_id": post_id,
                "owner_id": owner,
                "parents_stack": parents,
                "deleted": True,
            }
        out = {
            "id": c["id"],
            "from_id": c["from_id"],
            "date": self._ts(c["minutes_ago"]),
            "text": c["text"],
            "post_id": post_id,
            "owner_id": owner,
            "parents_stack": parents,
            "likes": {"count": c.get("likes", 0), "user_likes": 0, "can_like": 1},
        }
        if c.get("reply_to_comment"):
            out["reply_to_comment"] = c["reply_to_comment"]
        return out

    def _vk(self, method: str, params: dict[str, str]) -> Response:
        self.calls[f"vk.{method}"] += 1
        if params.get("access_token") != self.vk_token:
            return self._vk_error(5, "User authorization failed: invalid access_token (4).", method, params)
        if self.flaky and self.calls[f"vk.{method}"] == 1:
            return self._vk_error(6, "Too many requests per second", method, params)
        count = min(int(params.get("count", 20)), 100)
        offset = int(params.get("offset", 0))
        extended = params.get("extended") in ("1", "true")
        if method == "wall.get":
            owner = (
                int(params["owner_id"])
                if "owner_id" in params
                else next((-g["id"] for g in self.vk["groups"] if g["screen_name"] == params.get("domain")), 0)
            )
            group = self._vk_group(owner)
            if owner not in self.vk["walls"]:
                return self._vk_error(
                    100, "One of the parameters specified was missing or invalid: owner_id is undefined", method, params
                )
            if group and group.get("private"):
                return self._vk_error(
                    15, "Access denied: this wall available only for community members", method, params
                )
            posts = sorted(self.vk["walls"][owner], key=lambda p: p["minutes_ago"])  # newest first
            page = [self._vk_post(owner, p) for p in posts[offset : offset + count]]
            resp: dict[str, Any] = {"count": len(posts), "items": page}
            if extended:
                resp.update(self._vk_extended({i["from_id"] for i in page} | {owner}))
            return _json(200, {"response": resp})
        if method == "wall.getComments":
            owner, post_id = int(params["owner_id"]), int(params["post_id"])
            post = next((p for p in self.vk["walls"].get(owner, []) if p["id"] == post_id), None)
            if post is None:
                return self._vk_error(15, "Access denied: post was deleted or not found", method, params)
            per_thread = min(int(params.get("thread_items_count", 0)), 10)
            top = [c for c in post.get("comments", []) if not c.get("reply_to_comment")]
            items = []
            for c in top[offset : offset + count]:
                item = self._vk_comment(c, owner, post_id, [])
                kids = [k for k in post.get("comments", []) if k.get("reply_to_comment") == c["id"]]
                item["thread"] = {
                    "count": len(kids),
                    "can_post": True,
                    "items": [self._vk_comment(k, owner, post_id, [c["id"]]) for k in kids[:per_thread]],
                }
                items.append(item)
            resp = {"count": len(top), "current_level_count": len(top), "can_post": True, "items": items}
            if extended:
                ids = {i["from_id"] for i in items} | {k["from_id"] for i in items for k in i["thread"]["items"]}
                resp.update(self._vk_extended(ids))
            return _json(200, {"response": resp})
        if method == "newsfeed.search":
            q = params.get("q", "").lower().strip()
            stem = q[:-1] if len(q) > 4 else q  # the real search matches word forms; a stem is enough here
            hits = [
                (owner, p)
                for owner, posts in self.vk["walls"].items()
                for p in posts
                if stem and stem in p["text"].lower() and not (self._vk_group(owner) or {}).get("private")
            ]
            hits.sort(key=lambda op: op[1]["minutes_ago"])
            start = int(params.get("start_from") or 0)
            page = [self._vk_post(o, p) for o, p in hits[start : start + count]]
            resp = {"items": page, "count": len(page), "total_count": len(hits)}
            if start + count < len(hits):
                resp["next_from"] = str(start + count)
            if extended:
                resp.update(self._vk_extended({i["from_id"] for i in page} | {i["owner_id"] for i in page}))
            return _json(200, {"response": resp})
        return self._vk_error(3, "Unknown method passed", method, params)

    # ------------------------------------------------------------------------------------------ YouTube

    def _yt_error(self, status: int, reason: str, message: str, domain: str = "youtube.commentThread") -> Response:
        return _json(
            status,
            {
                "error": {
                    "code": status,
                    "message": message,
                    "errors": [{"message": message, "domain": domain, "reason": reason}],
                }
            },
        )

    def _yt_comment(self, c: dict[str, Any], video_id: str, parent: str | None = None) -> dict[str, Any]:
        sn = {
            "channelId": "",
            "videoId": video_id,
            "textDisplay": html.escape(c["text"]),
            "textOriginal": c["text"],
            "authorDisplayName": c["author"],
            "authorProfileImageUrl": "",
            "authorChannelUrl": f"http://www.youtube.com/channel/{c['channel']}",
            "authorChannelId": {"value": c["channel"]},
            "canRate": True,
            "viewerRating": "none",
            "likeCount": c.get("likes", 0),
            "publishedAt": self._iso(c["minutes_ago"]),
            "updatedAt": self._iso(c["minutes_ago"]),
        }
        if parent:
            sn["parentId"] = parent
        return {"kind": "youtube#comment", "etag": f"e-{c['id']}", "id": c["id"], "snippet": sn}

    def _page(self, rows: list[Any], params: dict[str, str], default: int, cap: int) -> tuple[list[Any], str | None]:
        size = min(int(params.get("maxResults", default)), cap)
        start = int(params.get("pageToken") or 0)
        nxt = str(start + size) if start + size < len(rows) else None
        return rows[start : start + size], nxt

    def _youtube(self, endpoint: str, params: dict[str, str], key: str | None) -> Response:
        self.calls[f"yt.{endpoint}"] += 1
        if key != self.yt_key:
            return self._yt_error(400, "keyInvalid", "API key not valid. Please pass a valid API key.", "usageLimits")
        cost = YT_COSTS.get(endpoint)
        if cost is None:
            return self._yt_error(404, "notFound", f"Method {endpoint} not found", "global")
        if self.yt_used + cost > self.yt_quota:
            return self._yt_error(
                403,
                "quotaExceeded",
                "The request cannot be completed because you have exceeded your quota.",
                "youtube.quota",
            )
        self.yt_used += cost
        videos = {v["id"]: v for v in self.yt["videos"]}
        if endpoint == "search":
            q = params.get("q", "").lower()
            hits = [
                v
                for v in sorted(self.yt["videos"], key=lambda v: v["minutes_ago"])
                if any(t in q or q in t for t in v.get("query_terms", []))
            ]
            page, nxt = self._page(hits, params, 5, 50)
            items = [
                {
                    "kind": "youtube#searchResult",
                    "etag": f"s-{v['id']}",
                    "id": {"kind": "youtube#video", "videoId": v["id"]},
                    "snippet": {
                        "publishedAt": self._iso(v["minutes_ago"]),
                        "channelId": v["channel_id"],
                        "title": v["title"],
                        "description": "",
                        "channelTitle": self.yt["channels"][v["channel_id"]]["title"],
                        "liveBroadcastContent": "none",
                    },
                }
                for v in page
            ]
            out = {
                "kind": "youtube#searchListResponse",
                "etag": "s",
                "regionCode": "RU",
                "pageInfo": {"totalResults": len(hits), "resultsPerPage": len(items)},
                "items": items,
            }
            if nxt:
                out["nextPageToken"] = nxt
            return _json(200, out)
        if endpoint == "videos":
            ids = [i for i in params.get("id", "").split(",") if i in videos]
            items = [
                {
                    "kind": "youtube#video",
                    "etag": f"v-{i}",
                    "id": i,
                    "snippet": {
                        "publishedAt": self._iso(videos[i]["minutes_ago"]),
                        "channelId": videos[i]["channel_id"],
                        "title": videos[i]["title"],
                    },
                    "statistics": {
                        "viewCount": str(videos[i]["views"]),
                        "likeCount": "0",
                        "commentCount": str(sum(1 + len(t.get("replies", [])) for t in videos[i]["threads"])),
                    },
                }
                for i in ids
            ]
            return _json(
                200,
                {
                    "kind": "youtube#videoListResponse",
                    "etag": "v",
                    "items": items,
                    "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
                },
            )
        if endpoint == "commentThreads":
            v = videos.get(params.get("videoId", ""))
            if v is None:
                return self._yt_error(
                    404, "videoNotFound", "The video identified by the videoId parameter could not be found."
                )
            if v.get("comments_disabled"):
                return self._yt_error(
                    403, "commentsDisabled", "The video identified by the videoId parameter has disabled comments."
                )
            if self.flaky and self.calls[f"yt.commentThreads.{v['id']}"] == 0:
                self.calls[f"yt.commentThreads.{v['id']}"] += 1
                self.yt_used -= cost  # a rate-limited call is not charged
                return self._yt_error(429, "rateLimitExceeded", "Too many requests", "youtube.quota")
            threads = sorted(v["threads"], key=lambda t: t["minutes_ago"])  # order=time: newest first
            page, nxt = self._page(threads, params, 20, 100)
            items = []
            for t in page:
                replies = t.get("replies", [])
                item = {
                    "kind": "youtube#commentThread",
                    "etag": f"t-{t['id']}",
                    "id": t["id"],
                    "snippet": {
                        "channelId": v["channel_id"],
                        "videoId": v["id"],
                        "topLevelComment": self._yt_comment(t, v["id"]),
                        "canReply": True,
                        "totalReplyCount": len(replies),
                        "isPublic": True,
                    },
                }
                if replies and "replies" in params.get("part", ""):
                    item["replies"] = {"comments": [self._yt_comment(r, v["id"], t["id"]) for r in replies[:2]]}
                items.append(item)
            out = {
                "kind": "youtube#commentThreadListResponse",
                "etag": "t",
                "pageInfo": {"totalResults": len(items), "resultsPerPage": len(items)},
                "items": items,
            }
            if nxt:
                out["nextPageToken"] = nxt
            return _json(200, out)
        if endpoint == "comments":
            parent = params.get("parentId", "")
            for v in self.yt["videos"]:
                for t in v["threads"]:
                    if t["id"] == parent:
                        page, nxt = self._page(t.get("replies", []), params, 20, 100)
                        out = {
                            "kind": "youtube#commentListResponse",
                            "etag": "c",
                            "items": [self._yt_comment(r, v["id"], parent) for r in page],
                        }
                        if nxt:
                            out["nextPageToken"] = nxt
                        return _json(200, out)
            return self._yt_error(
                404, "commentNotFound", "The comment identified by the parentId could not be found.", "youtube.comment"
            )
        return self._yt_error(404, "notFound", "not found", "global")

    # ------------------------------------------------------------------------------------------ reviews

    def _reviews(self, path: str, params: dict[str, str]) -> Response | None:
        self.calls[f"reviews.{path}"] += 1
        if path == "/reviews/" or path == "/reviews/index.html":
            links = "".join(
                f'<li><a href="/reviews/{p["id"]}.html">{html.escape(p["title"])}</a></li>'
                for p in self.reviews["html_products"]
            )
            return (
                200,
                "text/html; charset=utf-8",
                f"<html><body><h1>Отзывы</h1><ul>{links}</ul></body></html>".encode(),
            )
        if path == "/reviews/api/feedbacks":
            prod = next((p for p in self.reviews["json_products"] if p["id"] == params.get("nmId")), None)
            if prod is None:
                return _json(404, {"error": True, "errorText": "product not found"})
            skip, take = int(params.get("skip", 0)), min(int(params.get("take", 2)), 30)
            rows = sorted(prod["feedbacks"], key=lambda f: f["minutes_ago"])
            page = rows[skip : skip + take]
            fbs = [
                {
                    "id": f["id"],
                    "text": f["text"],
                    "productValuation": f["valuation"],
                    "createdDate": self._iso(f["minutes_ago"]),
                    "wbUserDetails": {"name": f["author"]},
                    "answer": {"text": f["answer"]} if f.get("answer") else None,
                    "nmId": int(prod["id"]),
                }
                for f in page
            ]
            nxt = (
                f"/reviews/api/feedbacks?{urlencode({'nmId': prod['id'], 'skip': skip + take, 'take': take})}"
                if skip + take < len(rows)
                else None
            )
            return _json(200, {"feedbacks": fbs, "feedbackCount": len(rows), "valuation": "4.1", "next": nxt})
        slug = path.removeprefix("/reviews/").removesuffix(".html")
        prod = next((p for p in self.reviews["html_products"] if p["id"] == slug), None)
        if prod is None:
            return None
        per = 3
        pg = max(int(params.get("page", 1)), 1)
        rows = sorted(prod["reviews"], key=lambda r: r["minutes_ago"])
        page = rows[(pg - 1) * per : pg * per]
        blocks = []
        for r in page:
            answer = (
                (
                    f'<div class="review-answer"><span class="answer-author">Представитель компании</span>'
                    f'<p class="answer-text">{html.escape(r["answer"])}</p></div>'
                )
                if r.get("answer")
                else ""
            )
            pros = f'<p class="pros">{html.escape(r["pros"])}</p>' if r.get("pros") else ""
            cons = f'<p class="cons">{html.escape(r["cons"])}</p>' if r.get("cons") else ""
            when = (self._now() - timedelta(minutes=r["minutes_ago"])).strftime("%d.%m.%Y")
            blocks.append(
                f'<div class="review" data-review-id="{r["id"]}" itemprop="review">'
                f'<a class="user-login" href="/reviews/users/{quote(r["author"])}">{html.escape(r["author"])}</a>'
                f'<span class="review-date">{when}</span>'
                f'<div class="rating" title="Оценка: {r["rating"]} из 5">'
                f"{'★' * r['rating']}{'☆' * (5 - r['rating'])}</div>"
                f'<div class="review-body">{html.escape(r["text"])}</div>{pros}{cons}{answer}</div>'
            )
        nxt = f'<a class="next" href="/reviews/{slug}.html?page={pg + 1}">Следующая</a>' if pg * per < len(rows) else ""
        page_html = (
            f'<html><head><meta charset="utf-8"><title>{html.escape(prod["title"])}</title></head><body>'
            f'<h1 class="product-title">{html.escape(prod["title"])}</h1>{"".join(blocks)}'
            f'<div class="pager">{nxt}</div></body></html>'
        )
        return 200, "text/html; charset=utf-8", page_html.encode("utf-8")


def label_rows(content_dir: str | Path) -> list[dict[str, Any]]:
    """answers.csv rows for the stand-in content: one per labelled post/comment/review, brand '' for the rest
    (official answers included). post_id is what the spiders produce; url_path is the item's canonical URL."""
    apis = SocialApis(content_dir)
    out: list[dict[str, Any]] = []

    def row(site: str, pid: str, url: str, lab: dict | None) -> None:
        lab = lab or {}
        out.append(
            {
                "site": site,
                "post_id": pid,
                "url_path": url,
                "brand_id": lab.get("brand", ""),
                "sentiment": lab.get("sentiment", "neutral" if not lab else ""),
                "intent": lab.get("intent", "other" if not lab else ""),
                "topic": lab.get("topic", ""),
                "must_escalate": int(lab.get("must_escalate", 0)),
                "advocate": 0,
                "mention": "text" if lab.get("brand") else "",
            }
        )

    private = {-g["id"] for g in apis.vk["groups"] if g.get("private")}
    for owner, posts in apis.vk["walls"].items():
        if owner in private:
            continue
        for p in posts:
            base = f"https://vk.com/wall{owner}_{p['id']}"
            row("vk", f"{owner}_{p['id']}", base, p.get("label"))
            for c in p.get("comments", []):
                if not c.get("deleted"):
                    row("vk", f"{owner}_{p['id']}_c{c['id']}", f"{base}?reply={c['id']}", c.get("label"))
    for v in apis.yt["videos"]:
        for t in v["threads"]:
            for c in [t, *t.get("replies", [])]:
                row("youtube", c["id"], f"https://www.youtube.com/watch?v={v['id']}&lc={c['id']}", c.get("label"))
    for prod in apis.reviews["html_products"]:
        for r in prod["reviews"]:
            row("reviews", r["id"], f"/reviews/{prod['id']}.html#review-{r['id']}", r.get("label"))
            if r.get("answer"):
                row("reviews", f"{r['id']}-answer", f"/reviews/{prod['id']}.html#review-{r['id']}-answer", None)
    for prod in apis.reviews["json_products"]:
        for f in prod["feedbacks"]:
            row("marketplace", f["id"], f"/reviews/api/feedbacks#review-{f['id']}", f.get("label"))
            if f.get("answer"):
                row("marketplace", f"{f['id']}-answer", f"/reviews/api/feedbacks#review-{f['id']}-answer", None)
    return out
