"""Unknown page → its schema.org microdata posts when it marks posts up that way, else one item with its main
text (trafilatura), title and date when found. A page that marks up only its comments (blog and news themes do)
gives the article's main text first, then the comments."""

from __future__ import annotations

import json

from crawlers.parsers import microdata
from crawlers.parsers.base import PageResult, ParseContext, ParseError, html_tree, iso_date, make_item, rel_next, strip_fragment
from crawlers.store_ids import post_id_for_url


def parse(html: str, url: str, ctx: ParseContext) -> PageResult:
    res = PageResult(thread_url=strip_fragment(url))
    try:
        root = html_tree(html)
    except ParseError:
        root = None
    comments: list = []
    if root is not None and microdata.has_posts(root):
        res.next_url = rel_next(root, url)
        microdata.parse_posts(root, url, ctx, res)
        if res.items and not microdata.only_comments(root):
            res.thread_title = res.items[0].thread_title
            return res
        comments, res.items = res.items, []  # the article itself comes from main-text extraction, first
    res.items.extend(_main_text(html, url, ctx, res))
    res.items.extend(comments)
    if comments and not res.thread_title:
        res.thread_title = comments[0].thread_title
    return res


def _main_text(html: str, url: str, ctx: ParseContext, res: PageResult) -> list:
    import trafilatura

    raw = trafilatura.extract(html, url=url, output_format="json", with_metadata=True, include_comments=False,
                              favor_precision=True)
    if not raw:
        return []
    meta = json.loads(raw)
    text = (meta.get("text") or "").strip()
    if not text:
        return []
    res.thread_title = meta.get("title")
    return [make_item(
        ctx, post_id=post_id_for_url(strip_fragment(url)), url=strip_fragment(url), text=text,
        thread_url=res.thread_url, thread_title=meta.get("title"), author=meta.get("author"),
        posted_at=iso_date(meta.get("date"), ctx), posted_at_raw=meta.get("date"), page_url=url,
        language=meta.get("language") or ctx.language,
    )]
