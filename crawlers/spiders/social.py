"""API and review spiders: VK, YouTube Data API v3, config-driven review sites.

They share `SourceSpider`'s plumbing (safety, budget, errors, raw writer, incremental `state_updates`) but drive
their own requests. Secrets are named in sources.yaml (`secrets: {token: ENV_VAR}`) and read from the
environment in the crawl subprocess; they travel in a POST body (VK) or a request header (YouTube), never in a
URL, so neither Scrapy's logs nor the raw layer can contain them. A missing secret disables the source with a
clear error instead of failing the run.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin

from scrapy.http import FormRequest, Request, Response

from crawlers.dates import parse_date
from crawlers.social import reviews as rv
from crawlers.social import vk
from crawlers.social import youtube as yt
from crawlers.spiders.base import SourceSpider


class MissingSecret(RuntimeError):
    pass


class ApiSpider(SourceSpider):
    """Base for API sources: secret lookup, JSON decoding, error bookkeeping, bounded app-level retries."""

    api_retries = 4
    api_backoff = 0.5

    def secret(self, name: str) -> str:
        env = self.source.secrets.get(name)
        if not env:
            raise MissingSecret(f"source {self.source.name}: secrets.{name} is not configured in sources.yaml")
        value = os.environ.get(env, "")
        if not value:
            raise MissingSecret(
                f"source {self.source.name} disabled: environment variable {env} (secrets.{name}) is not set"
            )
        return value

    def record(self, url: str, error: str, message: str, status: int | None = None) -> None:
        self.errors.append({"url": url, "error": error, "status": status, "message": message[:300], "retries": 0})

    def disabled(self, e: MissingSecret) -> None:
        self.record(self.start_urls[0], "NotConfigured", str(e))
        self.logger.error("%s", e)

    @staticmethod
    def json_of(response: Response) -> Any:
        try:
            return json.loads(response.text)
        except (ValueError, AttributeError):
            return None

    async def backoff(self, attempt: int) -> None:
        await asyncio.sleep(min(30.0, self.api_backoff * (2**attempt)))

    def thread_changed(self, key: str, marker: str) -> bool:
        """True when `marker` (a comment count, a reply count) differs from the last crawl and the thread was
        not already scheduled in this run. The marker is stored by `thread_done` once the fetch succeeded, so
        a failed fetch is retried by the next crawl instead of being forgotten."""
        scheduled = self.__dict__.setdefault("_scheduled", set())
        if key in scheduled:
            return False
        if self.thread_state.get(key, {}).get("content_hash") == marker:
            self.unchanged += 1
            return False
        scheduled.add(key)
        return True

    def thread_done(self, key: str, marker: str) -> None:
        prior = self.thread_state.get(key, {})
        upd = self.state_updates.setdefault(key, {"kind": "thread", "last_post_id": prior.get("last_post_id")})
        upd["content_hash"] = marker

    def once(self, item_id: str) -> bool:
        """True the first time an id is seen in this run (a post found by both wall.get and search)."""
        seen = self.__dict__.setdefault("_seen_ids", set())
        if item_id in seen:
            return False
        seen.add(item_id)
        return True

    def new_only(self, key: str, items: list, order_key) -> list:
        """Items newer than the thread's last seen one (by `order_key`); advances the thread's mark."""
        prior = self.thread_state.get(key, {}).get("last_post_id")
        upd = self.state_updates.setdefault(key, {"kind": "thread", "last_post_id": prior})
        fresh = [i for i in items if prior is None or order_key(i) > prior]
        if items:
            newest = max(order_key(i) for i in items)
            if upd.get("last_post_id") is None or newest > upd["last_post_id"]:
                upd["last_post_id"] = newest
        return fresh


# ----------------------------------------------------------------------------------------------- VK


class VkSpider(ApiSpider):
    """VK API: `wall.get` of configured pages (`options.owners`: ids like -210001 or screen names),
    `newsfeed.search` for `options.search` queries, and `wall.getComments` (with nested threads) of each post
    whose comment count changed since the last crawl."""

    name = "vk"

    async def start(self) -> AsyncIterator[Request]:
        try:
            self.token = self.secret("token")
        except MissingSecret as e:
            self.disabled(e)
            return
        self.base = self.start_urls[0].rstrip("/") + "/"
        self.official = {int(i) for i in self.source.options.get("official_ids", [])}
        per_page = int(self.source.options.get("posts_per_page", 100))
        for owner in self.source.options.get("owners", []):
            key = {"owner_id": owner} if str(owner).lstrip("-").isdigit() else {"domain": owner}
            yield self.call("wall.get", {**key, "count": per_page, "offset": 0, "extended": 1}, self.on_wall)
        for q in self.source.options.get("search", []):
            yield self.call("newsfeed.search", {"q": q, "count": 200, "extended": 1}, self.on_wall)

    def call(self, method: str, params: dict[str, Any], callback, attempt: int = 0, **meta: Any) -> Request:
        body = {**{k: str(v) for k, v in params.items()}, "v": vk.API_VERSION, "access_token": self.token}
        return FormRequest(
            self.base + method,
            formdata=body,
            callback=callback,
            errback=self.on_error,
            dont_filter=True,
            meta={"method": method, "params": params, "attempt": attempt, **meta},
        )

    async def answer(self, response: Response) -> tuple[dict | None, Request | None]:
        """(payload, None) on success; (None, retry request) on a rate limit; (None, None) when given up."""
        self.pages += 1
        payload = self.json_of(response)
        m, params, attempt = response.meta["method"], response.meta["params"], response.meta["attempt"]
        shown = f"{response.url}?{urlencode(params)}"  # for error records: never the token
        if not isinstance(payload, dict):
            self.record(shown, "BadResponse", "VK answered with something that is not JSON", response.status)
            return None, None
        err = vk.vk_error(payload)
        if err is None:
            return payload, None
        if err.action == "retry" and attempt < self.api_retries:
            await self.backoff(attempt)
            assert response.request is not None  # a callback's response always carries its request
            cb = response.request.callback
            extra = {k: v for k, v in response.meta.items() if k in ("owner", "post", "marker")}
            return None, self.call(m, params, cb, attempt + 1, same_depth=True, **extra)  # the same call again
        kind = {"retry": "RateLimited", "skip": "AccessDenied", "fatal": "AuthFailed"}[err.action]
        self.record(shown, f"VK{kind}", f"VK error {err.code}: {err.message}")
        return None, None

    async def on_wall(self, response: Response):
        payload, retry = await self.answer(response)
        if retry is not None:
            yield retry
        if payload is None:
            return
        posts, total = vk.parse_wall(payload, self.source.name, self.official)
        params = response.meta["params"]
        for post in posts:
            if not self.once(post.post_id):
                continue
            post.page_url = response.url
            owner, pid = (int(x) for x in post.post_id.split("_"))
            key = vk.wall_url(owner, pid)  # the post's thread_url
            if self.new_only(key + "#post", [post], lambda i: "seen"):  # the post itself: once, ever
                yield post
            if post.replies and self.thread_changed(key, str(post.replies)):
                yield self.call(
                    "wall.getComments",
                    {
                        "owner_id": owner,
                        "post_id": pid,
                        "count": 100,
                        "offset": 0,
                        "thread_items_count": 10,
                        "extended": 1,
                        "sort": "asc",
                    },
                    self.on_comments,
                    owner=owner,
                    post=pid,
                    marker=str(post.replies),
                )
        m = response.meta["method"]
        # next pages of the same wall, search or comments keep their depth (crawlers/depth.py)
        if m == "wall.get" and params["offset"] + params["count"] < total:
            yield self.call(m, {**params, "offset": params["offset"] + params["count"]}, self.on_wall, same_depth=True)
        if m == "newsfeed.search":
            nxt = payload.get("response", {}).get("next_from")
            if nxt:
                yield self.call(m, {**params, "start_from": nxt}, self.on_wall, same_depth=True)

    async def on_comments(self, response: Response):
        payload, retry = await self.answer(response)
        if retry is not None:
            yield retry
        if payload is None:
            return
        owner, pid, params = response.meta["owner"], response.meta["post"], response.meta["params"]
        items, total, deleted = vk.parse_comments(payload, self.source.name, owner, pid, self.official)
        if deleted:
            self.crawler.stats.inc_value("brandmon/deleted_skipped", deleted)
        key = vk.wall_url(owner, pid)
        for it in self.new_only(key, items, lambda i: f"{int(i.extra['comment_id']):012d}"):  # state is text
            it.page_url = response.url
            yield it
        if params["offset"] + params["count"] < total:
            yield self.call(
                "wall.getComments",
                {**params, "offset": params["offset"] + params["count"]},
                self.on_comments,
                owner=owner,
                post=pid,
                marker=response.meta["marker"],
                same_depth=True,
            )
        else:
            self.thread_done(key, response.meta["marker"])


# ----------------------------------------------------------------------------------------------- YouTube


class YoutubeSpider(ApiSpider):
    """YouTube Data API v3: `search.list` for `options.search` queries (and `options.video_ids`), `videos.list`
    for titles and view counts (reach), `commentThreads.list` per video whose comment count changed, and
    `comments.list` for threads with more replies than the API inlines. Quota is accounted in a ledger under
    <data_dir>/state/; a call that would overspend `options.daily_quota` stops the crawl cleanly and says so."""

    name = "youtube"

    async def start(self) -> AsyncIterator[Request]:
        try:
            self.key = self.secret("api_key")
        except MissingSecret as e:
            self.disabled(e)
            return
        self.base = self.start_urls[0].rstrip("/") + "/"
        opts = self.source.options
        self.official = set(opts.get("official_channels", []))
        run_dir = Path(self.settings.get("BRANDMON_RUN_DIR", "."))
        state_dir = Path(self.settings.get("BRANDMON_STATE_DIR") or run_dir.parent.parent / "state")
        self.ledger = yt.QuotaLedger(
            state_dir / f"youtube-quota-{self.source.name}.json", int(opts.get("daily_quota", 10_000))
        )
        self.videos: dict[str, dict[str, Any]] = {}
        self.stopped = False
        ids = list(opts.get("video_ids", []))
        if ids:
            r = self.call("videos", {"part": "snippet,statistics", "id": ",".join(ids)}, self.on_videos)
            if r:
                yield r
        for q in opts.get("search", []):
            r = self.call(
                "search",
                {"part": "snippet", "q": q, "type": "video", "maxResults": 50, "order": "date"},
                self.on_search,
            )
            if r:
                yield r

    def call(self, endpoint: str, params: dict[str, Any], callback, attempt: int = 0, **meta: Any) -> Request | None:
        if self.stopped:
            return None
        try:
            self.ledger.spend(endpoint)
        except yt.QuotaExhausted as e:
            self.stopped = True
            self.record(self.base + endpoint, "QuotaExhausted", str(e))
            self.logger.warning("%s", e)
            return None
        return Request(
            f"{self.base}{endpoint}?{urlencode(params)}",
            callback=callback,
            errback=self.on_api_error,
            headers={"X-Goog-Api-Key": self.key, "Accept": "application/json"},
            dont_filter=True,
            meta={
                "endpoint": endpoint,
                "params": params,
                "attempt": attempt,
                "handle_httpstatus_list": [400, 403, 404],
                **meta,
            },
        )

    def on_api_error(self, failure) -> None:
        self.on_error(failure)  # retries of 429/5xx already happened in the retry middleware

    def answer(self, response: Response) -> dict | None:
        self.pages += 1
        payload = self.json_of(response)
        if not isinstance(payload, dict):
            self.record(
                response.url, "BadResponse", "YouTube answered with something that is not JSON", response.status
            )
            return None
        err = yt.yt_error(payload, response.status)
        if err is None:
            return payload
        if err.action == "stop":
            self.stopped = True
            self.record(
                response.url, "QuotaExhausted", f"YouTube quota exhausted ({err.reason}); stopping cleanly", err.status
            )
        else:
            self.record(response.url, f"YouTube:{err.reason or err.status}", err.message, err.status)
        return None

    def on_search(self, response: Response) -> Iterator[Request]:
        payload = self.answer(response)
        if payload is None:
            return
        vids, token = yt.parse_search(payload)
        fresh = [v["video_id"] for v in vids if v["video_id"] not in self.videos]
        for v in vids:
            self.videos.setdefault(v["video_id"], {"title": v["title"]})
        if fresh:
            r = self.call("videos", {"part": "snippet,statistics", "id": ",".join(fresh)}, self.on_videos)
            if r:
                yield r
        max_videos = int(self.source.options.get("max_videos", 50))
        if token and len(self.videos) < max_videos:
            r = self.call("search", {**response.meta["params"], "pageToken": token}, self.on_search, same_depth=True)
            if r:
                yield r

    def on_videos(self, response: Response) -> Iterator[Request]:
        payload = self.answer(response)
        if payload is None:
            return
        for vid, info in yt.parse_videos(payload).items():
            self.videos[vid] = info
            if info.get("comments") is not None and not self.thread_changed(yt.video_url(vid), str(info["comments"])):
                continue  # no new comments on this video since the last crawl
            r = self.call(
                "commentThreads",
                {
                    "part": "snippet,replies",
                    "videoId": vid,
                    "maxResults": 100,
                    "order": "time",
                    "textFormat": "plainText",
                },
                self.on_threads,
                video=vid,
                marker=str(info.get("comments")),
            )
            if r:
                yield r

    def on_threads(self, response: Response):
        payload = self.answer(response)
        if payload is None:
            return
        vid = response.meta["video"]
        info = self.videos.get(vid, {})
        items, threads, token = yt.parse_comment_threads(
            payload, self.source.name, vid, info.get("title"), info.get("views"), self.official
        )
        for it in self.new_only(yt.video_url(vid), items, lambda i: i.posted_at or ""):
            it.page_url = yt.video_url(vid)
            self._yielded.add(it.post_id)
            yield it
        for thread_id, total, inlined in threads:
            if total > inlined and self.thread_changed(f"{yt.video_url(vid)}#thread={thread_id}", str(total)):
                r = self.call(
                    "comments",
                    {"part": "snippet", "parentId": thread_id, "maxResults": 100, "textFormat": "plainText"},
                    self.on_replies,
                    video=vid,
                    parent=thread_id,
                    marker=str(total),
                )
                if r:
                    yield r
        if token:
            r = self.call(
                "commentThreads",
                {**response.meta["params"], "pageToken": token},
                self.on_threads,
                video=vid,
                marker=response.meta["marker"],
                same_depth=True,
            )
            if r:
                yield r
        else:
            self.thread_done(yt.video_url(vid), response.meta["marker"])

    def on_replies(self, response: Response):
        payload = self.answer(response)
        if payload is None:
            return
        vid, parent = response.meta["video"], response.meta["parent"]
        info = self.videos.get(vid, {})
        items, token = yt.parse_replies(
            payload, self.source.name, vid, parent, info.get("title"), info.get("views"), self.official
        )
        # Replies are deduplicated against what commentThreads already yielded in this run and earlier runs.
        for it in self.new_only(f"{yt.video_url(vid)}#thread={parent}#replies", items, lambda i: i.posted_at or ""):
            if it.post_id in self._yielded:
                continue
            it.page_url = yt.video_url(vid)
            yield it
        if token:
            r = self.call(
                "comments",
                {**response.meta["params"], "pageToken": token},
                self.on_replies,
                video=vid,
                parent=parent,
                marker=response.meta["marker"],
                same_depth=True,
            )
            if r:
                yield r
        else:
            self.thread_done(f"{yt.video_url(vid)}#thread={parent}", response.meta["marker"])

    @property
    def _yielded(self) -> set[str]:
        if not hasattr(self, "_yielded_ids"):
            self._yielded_ids: set[str] = set()
        return self._yielded_ids


# ----------------------------------------------------------------------------------------------- reviews


class ReviewsSpider(ApiSpider):
    """Review pages by `selectors` (HTML) or `options.json` (JSON APIs); follows the next page while the page
    still has reviews newer than the last crawl (newest first)."""

    name = "reviews"

    async def start(self) -> AsyncIterator[Request]:
        for url in self.start_urls:
            yield self.request(url, self.parse_page, role="thread", unconditional=True)

    def parse_page(self, response: Response):
        self.pages += 1
        opts = self.source.options
        kw: dict[str, Any] = dict(
            product_id=opts.get("product_id"), seller_id=opts.get("seller_id"), parse_date=self._date
        )
        try:
            if "json" in opts:
                payload = self.json_of(response)
                if payload is None:
                    self.record(
                        response.url,
                        "BadResponse",
                        "review API answered with something that is not JSON",
                        response.status,
                    )
                    return
                items, nxt = rv.parse_reviews_json(payload, response.url, self.source.name, opts["json"], **kw)
            else:
                items, nxt = rv.parse_reviews_html(
                    self.text_of(response), response.url, self.source.name, self.source.selectors, **kw
                )
        except rv.ReviewConfigError as e:
            self.record(response.url, "ConfigError", str(e))
            return
        # State: the ids already seen for this product (bounded list in last_post_id). Reviews come newest
        # first, so paging stops at the first page with nothing new.
        key = (opts.get("product_id") or self.start_urls[0]) + "#reviews"
        prior = self.thread_state.get(key, {}).get("last_post_id")
        known = set(json.loads(prior)) if prior else set()
        upd = self.state_updates.setdefault(key, {"kind": "thread", "last_post_id": prior})
        fresh = [i for i in items if i.post_id not in known]
        yield from fresh
        so_far = set(json.loads(upd["last_post_id"])) if upd.get("last_post_id") else set()
        upd["last_post_id"] = json.dumps(sorted(so_far | {i.post_id for i in items})[-2000:])
        if nxt and (not known or fresh):
            yield self.request(
                urljoin(response.url, str(nxt)), self.parse_page, role="thread", unconditional=True, same_depth=True
            )

    def _date(self, raw: str) -> str | None:
        dt = parse_date(raw, tz=self.tz, now=self.now)
        return dt.isoformat() if dt else None
