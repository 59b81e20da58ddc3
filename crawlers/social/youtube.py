"""YouTube Data API v3 responses (search.list, videos.list, commentThreads.list, comments.list) → PostItems,
and the daily quota ledger.

Quota costs follow the API's published table: search.list 100 units, the list calls used here 1 unit each.
The ledger lives in a small JSON file keyed by the Pacific-time day (when Google resets quotas), so runs that
share a key share its budget; a run stops cleanly before it would overspend.
"""

from __future__ import annotations

import json
import os
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crawlers.items import PostItem

COSTS = {"search": 100, "videos": 1, "commentThreads": 1, "comments": 1}


class QuotaExhausted(RuntimeError):
    pass


@dataclass
class YtError:
    status: int
    reason: str
    message: str

    @property
    def action(self) -> str:
        if self.reason in ("quotaExceeded", "dailyLimitExceeded"):
            return "stop"
        if self.status in (429, 500, 503) or self.reason in (
            "rateLimitExceeded",
            "userRateLimitExceeded",
            "backendError",
        ):
            return "retry"
        if self.reason in ("keyInvalid", "forbidden", "accessNotConfigured") and self.status in (400, 403):
            return "fatal"
        return "skip"  # commentsDisabled, videoNotFound, processingFailure...


def yt_error(payload: dict[str, Any], status: int = 200) -> YtError | None:
    err = payload.get("error")
    if not err:
        return None
    errors = err.get("errors") or [{}]
    return YtError(int(err.get("code", status)), str(errors[0].get("reason", "")), str(err.get("message", "")))


def _pacific_day(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return (now - timedelta(hours=8)).strftime("%Y-%m-%d")  # quotas reset at midnight Pacific time


class QuotaLedger:
    """Units spent per day; `spend(method)` raises QuotaExhausted *before* a call that would overspend."""

    def __init__(self, path: str | Path, daily_quota: int = 10_000, now: datetime | None = None):
        self.path, self.daily_quota, self.day = Path(path), daily_quota, _pacific_day(now)
        data = json.loads(self.path.read_text()) if self.path.exists() else {}
        self.used = int(data.get(self.day, 0))

    @property
    def remaining(self) -> int:
        return self.daily_quota - self.used

    def spend(self, method: str) -> None:
        cost = COSTS[method]
        if self.used + cost > self.daily_quota:
            raise QuotaExhausted(
                f"YouTube quota: {method} costs {cost} units but only {self.remaining} of {self.daily_quota} "
                f"remain today ({self.day} Pacific); stopping cleanly"
            )
        self.used += cost
        self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({self.day: self.used}))
        os.replace(tmp, self.path)


def video_url(video_id: str) -> str:
    return f"https://www.youtube.com/watch?v={video_id}"


def parse_search(payload: dict[str, Any]) -> tuple[list[dict[str, str]], str | None]:
    """search.list → ([{video_id, title, channel_id, published_at}], nextPageToken)."""
    vids = []
    for it in payload.get("items") or []:
        vid = (it.get("id") or {}).get("videoId")
        if vid:
            sn = it.get("snippet") or {}
            vids.append(
                {
                    "video_id": vid,
                    "title": sn.get("title", ""),
                    "channel_id": sn.get("channelId", ""),
                    "published_at": sn.get("publishedAt", ""),
                }
            )
    return vids, payload.get("nextPageToken")


def parse_videos(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """videos.list (part=snippet,statistics) → {video_id: {title, views, comments}}."""
    out = {}
    for it in payload.get("items") or []:
        st, sn = it.get("statistics") or {}, it.get("snippet") or {}
        out[it["id"]] = {
            "title": sn.get("title", ""),
            "channel_id": sn.get("channelId", ""),
            "views": int(st["viewCount"]) if "viewCount" in st else None,
            "comments": int(st["commentCount"]) if "commentCount" in st else None,
        }
    return out


def _comment(
    c: dict[str, Any],
    source: str,
    video_id: str,
    title: str | None,
    reach: int | None,
    parent: str | None,
    replies: int | None,
    official: AbstractSet[str],
) -> PostItem | None:
    sn = c.get("snippet") or {}
    text = sn.get("textOriginal") or sn.get("textDisplay") or ""
    if not text.strip():
        return None
    channel = (sn.get("authorChannelId") or {}).get("value")
    return PostItem(
        source=source,
        kind="youtube",
        post_id=c["id"],
        url=f"{video_url(video_id)}&lc={c['id']}",
        text=text,
        thread_url=video_url(video_id),
        thread_id=video_id,
        thread_title=title,
        author=sn.get("authorDisplayName"),
        author_url=sn.get("authorChannelUrl"),
        posted_at=sn.get("publishedAt"),
        likes=sn.get("likeCount"),
        replies=replies,
        reach=reach,
        reply_to=parent,
        is_official_answer=bool(channel and channel in official),
        extra={"updated_at": sn.get("updatedAt"), "channel_id": channel},
    )


def parse_comment_threads(
    payload: dict[str, Any],
    source: str,
    video_id: str,
    title: str | None = None,
    reach: int | None = None,
    official: AbstractSet[str] = frozenset(),
) -> tuple[list[PostItem], list[tuple[str, int, int]], str | None]:
    """commentThreads.list → (top comments + inlined replies, [(thread id, totalReplyCount, inlined)], next token).

    The API inlines at most a few replies per thread; threads with more are fetched with comments.list.
    """
    items: list[PostItem] = []
    threads: list[tuple[str, int, int]] = []
    for th in payload.get("items") or []:
        sn = th.get("snippet") or {}
        top = sn.get("topLevelComment") or {}
        total = int(sn.get("totalReplyCount") or 0)
        it = _comment(top, source, video_id, title, reach, None, total, official)
        if it:
            items.append(it)
        inlined = (th.get("replies") or {}).get("comments") or []
        for r in inlined:
            ri = _comment(r, source, video_id, title, reach, top.get("id"), None, official)
            if ri:
                items.append(ri)
        thread_id = th.get("id") or top.get("id")
        if thread_id:  # the API always names a thread; one without an id could not be followed up
            threads.append((thread_id, total, len(inlined)))
    return items, threads, payload.get("nextPageToken")


def parse_replies(
    payload: dict[str, Any],
    source: str,
    video_id: str,
    parent_id: str,
    title: str | None = None,
    reach: int | None = None,
    official: AbstractSet[str] = frozenset(),
) -> tuple[list[PostItem], str | None]:
    """comments.list?parentId=… → (replies, next token)."""
    out = [
        i
        for c in payload.get("items") or []
        if (i := _comment(c, source, video_id, title, reach, parent_id, None, official))
    ]
    return out, payload.get("nextPageToken")
