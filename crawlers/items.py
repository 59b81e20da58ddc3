"""The raw item every spider yields: one post, comment or review.

This is the contract between crawlers and ingest. The raw layer stores these as JSON lines
(`data/raw/<run_id>/items-*.jsonl.gz`), so fields are JSON-friendly (ISO 8601 strings for times).

Ingest caps what it stores: `text` at `Settings.ingest.max_text_chars`, every other string field at
`pipeline.ingest.FIELD_CAPS` (a title over 1,000 characters is cut; a source, post id or URL too long to be one
loses the row), a whole line at `pipeline.rawlines.MAX_LINE_BYTES`; `extra` is kept in the raw layer only.
Names and titles lose bidi controls and invisible characters; a text with nothing visible is no post.
The fields an item must have (non-empty) are `pipeline.rawlines.REQUIRED_FIELDS`, re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from pipeline.rawlines import REQUIRED_FIELDS


@dataclass
class PostItem:
    source: str  # source name from sources.yaml
    kind: str  # forum | comments | feed | telegram | generic | vk | youtube | reviews
    post_id: str  # stable id of the post within the source (engine's id when shown)
    url: str  # permalink of the post (or page URL + #anchor)
    text: str  # the author's own words: quotes and signature removed
    thread_url: str | None = None  # canonical URL of the thread / article / video / product
    thread_id: str | None = None
    thread_title: str | None = None
    author: str | None = None
    author_url: str | None = None
    posted_at: str | None = None  # ISO 8601 with timezone offset, e.g. 2024-05-03T17:16:00+03:00
    posted_at_raw: str | None = None  # the date text as shown on the page ("вчера в 17:16")
    quoted: list[dict[str, Any]] = field(default_factory=list)  # [{"author": ..., "post_id": ..., "text": ...}]
    signature: str | None = None
    reply_to: str | None = None  # post_id of the post this one answers, when known
    likes: int | None = None  # likes / reactions total
    views: int | None = None
    replies: int | None = None
    reach: int | None = None  # audience size when the platform shows one (subscribers, views)
    rating: float | None = None  # star rating on review sources
    is_official_answer: bool = False  # the brand's / seller's own answer
    language: str | None = None
    page_url: str | None = None  # the page the item was parsed from
    fetched_at: str | None = None
    run_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # product_id, seller_id, reactions, ...

    def to_dict(self) -> dict[str, Any]:
        """Field → value; nested values are JSON-ready dicts/lists by contract, so a shallow copy suffices
        (dataclasses.asdict deep-copies them and cost more per item than Scrapy's own bookkeeping)."""
        return {name: getattr(self, name) for name in _FIELD_NAMES}


_FIELD_NAMES = tuple(f.name for f in fields(PostItem))

__all__ = ["REQUIRED_FIELDS", "PostItem"]
