"""VK API responses (wall.get, wall.getComments, newsfeed.search, API v5.199) → PostItems.

An API answer is either {"response": {...}} or {"error": {"error_code": N, "error_msg": ...}}. `vk_error` classifies
errors so the spider can retry (rate limits), skip (deleted/private) or stop (bad token).
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from crawlers.items import PostItem

API_VERSION = "5.199"

# https://dev.vk.com/ru/reference/errors
RETRY_CODES = {6, 9, 10, 29}  # too many requests per second, flood control, internal error, rate limit
SKIP_CODES = {
    15,
    18,
    19,
    30,
    212,
}  # access denied, deleted/banned, content unavailable, private profile, no access to comments
FATAL_CODES = {5, 27, 28, 1116}  # authorization failed / invalid token


@dataclass
class VkError:
    code: int
    message: str

    @property
    def action(self) -> str:
        if self.code in RETRY_CODES:
            return "retry"
        if self.code in SKIP_CODES:
            return "skip"
        if self.code in FATAL_CODES:
            return "fatal"
        return "skip"


def vk_error(payload: dict[str, Any]) -> VkError | None:
    err = payload.get("error")
    if not err:
        return None
    return VkError(int(err.get("error_code", 0)), str(err.get("error_msg", "")))


def _authors(resp: dict[str, Any]) -> dict[int, tuple[str, str, int | None]]:
    """from_id → (name, profile url, audience size) from the `profiles`/`groups` of an extended answer."""
    out: dict[int, tuple[str, str, int | None]] = {}
    for p in resp.get("profiles") or []:
        name = f"{p.get('first_name', '')} {p.get('last_name', '')}".strip()
        out[int(p["id"])] = (
            name,
            f"https://vk.com/{p.get('screen_name') or 'id' + str(p['id'])}",
            p.get("followers_count"),
        )
    for g in resp.get("groups") or []:
        out[-int(g["id"])] = (
            g.get("name", ""),
            f"https://vk.com/{g.get('screen_name') or 'club' + str(g['id'])}",
            g.get("members_count"),
        )
    return out


def _iso(ts: Any) -> str | None:
    try:
        return datetime.fromtimestamp(int(ts), tz=UTC).isoformat()
    except (TypeError, ValueError, OverflowError):
        return None


def _count(obj: Any) -> int | None:
    if isinstance(obj, dict) and obj.get("count") is not None:
        return int(obj["count"])
    return None


def wall_url(owner_id: int, post_id: int) -> str:
    return f"https://vk.com/wall{owner_id}_{post_id}"


def parse_wall(
    payload: dict[str, Any], source: str, official_ids: AbstractSet[int] = frozenset()
) -> tuple[list[PostItem], int]:
    """wall.get / newsfeed.search answer → (posts, total count). Deleted or empty posts are dropped."""
    resp = payload.get("response") or {}
    authors = _authors(resp)
    items: list[PostItem] = []
    for it in resp.get("items") or []:
        if it.get("is_deleted") or it.get("deleted") or not (it.get("text") or "").strip():
            continue
        owner, pid, frm = int(it["owner_id"]), int(it["id"]), int(it.get("from_id", it["owner_id"]))
        name, url, audience = authors.get(frm, (None, None, None))
        owner_audience = authors.get(owner, (None, None, None))[2]
        views = _count(it.get("views"))
        items.append(
            PostItem(
                source=source,
                kind="vk",
                post_id=f"{owner}_{pid}",
                url=wall_url(owner, pid),
                text=it["text"],
                thread_url=wall_url(owner, pid),
                thread_id=f"{owner}_{pid}",
                author=name,
                author_url=url,
                posted_at=_iso(it.get("date")),
                likes=_count(it.get("likes")),
                views=views,
                replies=_count(it.get("comments")),
                reach=views or owner_audience or audience,
                is_official_answer=frm in official_ids or (frm == owner and owner < 0),
                extra={"owner_id": owner, "reposts": _count(it.get("reposts"))},
            )
        )
    return items, int(resp.get("count") or resp.get("total_count") or 0)


def parse_comments(
    payload: dict[str, Any], source: str, owner_id: int, post_id: int, official_ids: AbstractSet[int] = frozenset()
) -> tuple[list[PostItem], int, int]:
    """wall.getComments answer (with thread_items_count) → (comments incl. nested replies, total, deleted seen)."""
    resp = payload.get("response") or {}
    authors = _authors(resp)
    out: list[PostItem] = []
    deleted = 0
    post_key = f"{owner_id}_{post_id}"

    def one(c: dict[str, Any], parent: str) -> None:
        nonlocal deleted
        if c.get("deleted") or not (c.get("text") or "").strip():
            deleted += 1
        else:
            frm = int(c.get("from_id", 0))
            name, url, _ = authors.get(frm, (None, None, None))
            reply_to = c.get("reply_to_comment")
            out.append(
                PostItem(
                    source=source,
                    kind="vk",
                    post_id=f"{post_key}_c{c['id']}",
                    url=f"{wall_url(owner_id, post_id)}?reply={c['id']}",
                    text=c["text"],
                    thread_url=wall_url(owner_id, post_id),
                    thread_id=post_key,
                    author=name,
                    author_url=url,
                    posted_at=_iso(c.get("date")),
                    likes=_count(c.get("likes")),
                    reply_to=f"{post_key}_c{reply_to}" if reply_to else parent,
                    is_official_answer=frm in official_ids or (frm == owner_id and owner_id < 0),
                    extra={"comment_id": int(c["id"])},
                )
            )
        for r in (c.get("thread") or {}).get("items") or []:
            one(r, f"{post_key}_c{c['id']}")

    for c in resp.get("items") or []:
        one(c, post_key)
    return out, int(resp.get("count") or 0), deleted
