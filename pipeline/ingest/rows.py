"""A batch of checked items → `documents` and `mentions` rows (pure: no store, so helper processes can run it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd

from pipeline.brands import BrandMatcher
from pipeline.config import ConfigError, Settings, load_sources
from pipeline.ingest.items import INT_FIELDS
from pipeline.normalize import context_window, normalize_text
from pipeline.spam import link_count
from pipeline.store import stable_id, text_hash


@lru_cache(maxsize=65_536)  # posts of one thread share its URL: parse it once
def canonical_url(url: str | None) -> str | None:
    """Scheme and host lowercased, fragment and trailing slash dropped: the same thread under two spellings."""
    if not url:
        return url
    try:
        p = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    path = p.path.rstrip("/") or "/"
    return urlunsplit((p.scheme.lower(), p.netloc.lower(), path, p.query, ""))


def author_key(source: str, author: str | None, author_url: str | None) -> str | None:
    if not author and not author_url:
        return None
    return stable_id(source, author_url or author)


def doc_id_for(source: str, thread_url: str | None, url: str, post_id: str) -> str:
    return stable_id(source, canonical_url(thread_url) or canonical_url(url), post_id)


@dataclass
class Prep:
    """What turning a batch into rows needs: all a helper process has (no store, no write session)."""

    settings: Settings
    matcher: BrandMatcher
    mask: Callable[[str], str]
    run_id: str | None
    raw_path: str
    # source -> [(url prefix, brand id)]: posts there concern the brand even where they do not name it
    about: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


def about_rules(settings: Settings, brand_ids: set[str]) -> dict[str, list[tuple[str, str]]]:
    """The sources' `about` entries as {source: [(url prefix, brand id)]} ("" = every post of the source).
    A brand that brands.yaml does not define is a ConfigError, not a silent miss."""
    if not Path(settings.sources_file).exists():
        return {}
    out: dict[str, list[tuple[str, str]]] = {}
    for src in load_sources(settings.sources_file, settings.demo_web_url):
        for brand, prefixes in src.about.items():
            if brand not in brand_ids:
                raise ConfigError(
                    f"{settings.sources_file}: {src.name}: about: unknown brand {brand!r} "
                    f"(brands.yaml has {', '.join(sorted(brand_ids)) or 'none'})"
                )
            out.setdefault(src.name, []).extend((p, brand) for p in (prefixes or [""]))
    return out


def _lang(text: str, given: str | None) -> str:
    if given:
        return given
    head = text[:300]
    if head.isascii():
        return "en"
    # Cyrillic letters take two bytes in UTF-8: a cheap share of non-Latin letters (no per-character loop)
    extra = len(head.encode("utf-8")) - len(head)
    return "ru" if extra * 3 >= len(head) else "en"


def doc_rows(items: list[dict], ctx: Prep, now) -> tuple[pd.DataFrame, dict[str, int]]:
    mask, cfg = ctx.mask, ctx.settings.ingest
    rows = []
    links: dict[str, int] = {}
    for it in items:
        src = it["source"]
        text = normalize_text(it["text"])
        if cfg.mask_pii:
            text = mask(text)
        quoted = None
        if it.get("quoted"):
            parts = [normalize_text(str(q.get("text") or "")) for q in it["quoted"] if isinstance(q, dict)]
            quoted = "\n".join(p for p in parts if p)[: cfg.max_text_chars] or None
            if quoted and cfg.mask_pii:
                quoted = mask(quoted)
        thread = it.get("thread_url")
        did = doc_id_for(src, thread, it["url"], it["post_id"])
        parent = doc_id_for(src, thread, it["url"], it["reply_to"]) if it.get("reply_to") else None
        author, author_url = it.get("author"), it.get("author_url")
        lc = link_count(text)
        if lc:
            links[did] = lc
        rows.append(
            (
                did,
                src,
                it["url"],
                thread,
                it.get("thread_title"),
                author,
                author_url,
                author_key(src, author, author_url),
                it.get("posted_at"),
                it.get("fetched_at"),
                text,
                quoted,
                text_hash(text),
                _lang(text, it.get("language")),
                parent,
                it.get("reach"),
                it.get("likes"),
                it.get("views"),
                it.get("replies"),
                it.get("rating"),
                bool(it.get("is_official_answer")),
                ctx.raw_path,
                it.get("run_id") or ctx.run_id,
                it["post_id"],
                it.get("reply_to"),
            )
        )
    df = pd.DataFrame(
        rows,
        columns=[
            "doc_id",
            "source_id",
            "url",
            "thread_url",
            "thread_title",
            "author",
            "author_url",
            "author_key",
            "posted_at",
            "fetched_at",
            "text",
            "quoted_text",
            "text_hash",
            "lang",
            "parent_id",
            "reach",
            "likes",
            "views",
            "replies",
            "rating",
            "is_official_answer",
            "raw_path",
            "run_id",
            "post_id",
            "reply_to",
        ],
    )
    for c in ("posted_at", "fetched_at"):
        df[c] = pd.to_datetime(df[c], utc=True, errors="coerce", format="ISO8601")
    for c in INT_FIELDS:
        v = pd.to_numeric(df[c], errors="coerce")
        df[c] = v.where(v.abs() < 2**31).round().astype("Int64")
    df["rating"] = pd.to_numeric(df["rating"], errors="coerce")
    df["ingested_at"] = now
    df["updated_at"] = now
    return df.drop_duplicates("doc_id", keep="last"), links


def mention_rows(docs: pd.DataFrame, ctx: Prep, now) -> pd.DataFrame:
    chars = ctx.settings.models.context_chars
    match = ctx.matcher.match
    rows: list[tuple[Any, ...]] = []
    about = ctx.about
    # plain lists: iterating Arrow-backed columns element by element costs more than the matching loop
    for did, src, text, url, thread in zip(
        docs["doc_id"].tolist(),
        docs["source_id"].tolist(),
        docs["text"].tolist(),
        docs["url"].tolist(),
        docs["thread_url"].tolist(),
    ):
        found = match(text, src)
        for m in found:
            context, _ = context_window(text, m.start, m.end, chars)
            rows.append(
                (stable_id(did, m.brand_id), did, m.brand_id, m.start, m.end, m.matched, context, text_hash(context))
            )
        rules = about.get(src)
        if rules:
            # a post on the brand's own channel, under it, or in its product's reviews: the brand without a span
            # (matched NULL), scored on the post's opening; a post that names the brand keeps its text mention
            named = {m.brand_id for m in found}
            for prefix, brand in rules:
                if brand not in named and (
                    not prefix
                    or (isinstance(url, str) and url.startswith(prefix))
                    or (isinstance(thread, str) and thread.startswith(prefix))
                ):
                    named.add(brand)
                    context, _ = context_window(text, 0, 0, 2 * chars)
                    rows.append((stable_id(did, brand), did, brand, None, None, None, context, text_hash(context)))
    df = pd.DataFrame(
        rows,
        columns=["mention_id", "doc_id", "brand_id", "span_start", "span_end", "matched", "context", "context_hash"],
    )
    df["via"] = None  # the post's own words or its source: not inherited from the thread (thread_context)
    df["created_at"] = now
    df["updated_at"] = now
    return df


@dataclass
class Prepared:
    """A batch's rows computed ahead in a helper process: every document's mentions and dedup key, not only the
    new documents'."""

    docs: pd.DataFrame
    links: dict[str, int]
    mentions: pd.DataFrame
    keys: dict[str, str]  # doc_id → dedup_key(text)
    now: Any
