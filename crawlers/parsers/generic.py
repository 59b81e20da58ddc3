"""Unknown page → its schema.org microdata posts when it marks posts up that way, else one item with its main
text (trafilatura), title and date when found."""

from __future__ import annotations

import json

from crawlers.parsers import microdata
from crawlers.parsers.base import PageResult, ParseContext, ParseError, html_tree, iso_date, make_item, rel_next, strip_fragment
from crawlers.store_ids import post_id_for_url


def parse(html: str, url: str, ctx: ParseContext) -> PageResult:
    import trafilatura

    res = PageResult(thread_url=strip_fragment(url))
    try:
        root = html_tree(html)
    except ParseError:
        root = None
    if root is not None and microdata.has_posts(root):
        res.next_url = rel_next(root, url)
        microdata.parse_posts(root, url, ctx, res)
        if res.items:
            res.thread_title = res.items[0].thread_title
            return res
    raw = trafilatura.extract(html, url=url, output_format="json", with_metadata=True, include_comments=False,
                              favor_precision=True)
    if not raw:
        return res
    meta = json.loads(raw)
    text = (meta.get("text") or "").strip()
    if not text:
        return res
    res.thread_title = meta.get("title")
    res.items.append(make_item(
        ctx, post_id=post_id_for_url(strip_fragment(url)), url=strip_fragment(url), text=text,
        thread_url=res.thread_url, thread_title=meta.get("title"), author=meta.get("author"),
        posted_at=iso_date(meta.get("date"), ctx), posted_at_raw=meta.get("date"), page_url=url,
        language=meta.get("language") or ctx.language,
    ))
    return res
